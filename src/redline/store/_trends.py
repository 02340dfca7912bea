"""Trends across checkpoints: logistic forecasts in log compute, and re-assessment triggers.

An indicator that is a proportion (0 to 1) is fitted as a logistic curve in log10 effective
compute, y = 1 / (1 + exp(-k (x - x0))), by least squares. Its uncertainty is a parametric
bootstrap: each checkpoint's value is redrawn from a binomial with that checkpoint's sample
count and the fitted rate, the curve refitted, and the crossing of each line recomputed; the
2.5th and 97.5th percentiles of the crossings form the 95% interval.
"""

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from redline.policy import Policy, Trigger, reassessment_due
from redline.store._db import HistoryEntry

BOOTSTRAP = 300
SEED = 20241126


class Crossing(BaseModel):
    """When (in effective compute) a fitted indicator reaches a line."""

    line: str
    """`yellow` (the alert line) or `red` (the rule-out line, or the rule-in line if none)."""
    level: float
    compute: float | None
    """Effective compute (FLOP) at the crossing, from the fit; None if the fit never reaches it."""
    lower: float | None = None
    upper: float | None = None
    """95% bootstrap interval of the crossing compute (None: unbounded on that side)."""
    already: bool = False
    """The latest checkpoint's estimate is already at or past the line."""


class Forecast(BaseModel):
    """A logistic fit of one indicator in log10 effective compute, and its line crossings."""

    indicator: str
    points: int
    x0: float | None = None
    """log10 compute at which the fitted indicator is 0.5."""
    slope: float | None = None
    """Steepness k per decade of compute."""
    crossings: list[Crossing] = []
    note: str = ""


def logistic(x: np.ndarray, x0: float, k: float) -> np.ndarray:
    """The fitted curve: 1 / (1 + exp(-k (x - x0)))."""
    z: np.ndarray = 1.0 / (1.0 + np.exp(-k * (x - x0)))
    return z


def fit_logistic(x: Sequence[float], y: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares (x0, k) of a logistic through (x, y), or None when it does not converge."""
    from scipy.optimize import curve_fit

    xs, ys = np.asarray(x, float), np.asarray(y, float)
    p0 = (float(np.median(xs)), 1.0)
    try:
        (x0, k), _ = curve_fit(logistic, xs, ys, p0=p0, maxfev=5000)
    except (RuntimeError, ValueError):
        return None
    if not (math.isfinite(x0) and math.isfinite(k)):
        return None
    return float(x0), float(k)


def crossing_x(x0: float, k: float, level: float) -> float | None:
    """log10 compute at which the logistic reaches `level` (None if it never does)."""
    if not 0 < level < 1 or k <= 0:
        return None
    return x0 + math.log(level / (1 - level)) / k


def forecast(
    indicator: str,
    compute: Sequence[float],
    values: Sequence[float],
    samples: Sequence[int],
    lines: dict[str, float],
    bootstrap: int = BOOTSTRAP,
) -> Forecast:
    """Fit an indicator across checkpoints and forecast where it crosses each line."""
    if len(compute) < 3:
        return Forecast(indicator=indicator, points=len(compute), note="needs 3+ checkpoints")
    if any(not 0 <= v <= 1 for v in values):
        return Forecast(indicator=indicator, points=len(compute), note="not a proportion")
    x = np.log10(np.asarray(compute, float))
    fit = fit_logistic(x, values)
    if fit is None:
        return Forecast(
            indicator=indicator, points=len(x), note="the logistic fit did not converge"
        )
    x0, k = fit
    rng = np.random.default_rng(SEED)
    n = np.maximum(np.asarray(samples, int), 1)
    fitted = logistic(x, x0, k)
    refits = []
    for _ in range(bootstrap):
        redrawn = rng.binomial(n, fitted) / n
        refit = fit_logistic(x, redrawn)
        if refit is not None:
            refits.append(refit)
    latest = values[int(np.argmax(x))]
    crossings = []
    for name, level in lines.items():
        at = crossing_x(x0, k, level)
        draws = [c for c in (crossing_x(a, b, level) for a, b in refits) if c is not None]
        lower = upper = None
        if draws and len(draws) >= 0.95 * len(refits):
            lo, hi = np.percentile(draws, [2.5, 97.5])
            lower, upper = 10 ** float(lo), 10 ** float(hi)
        crossings.append(
            Crossing(
                line=name,
                level=level,
                compute=10**at if at is not None else None,
                lower=lower,
                upper=upper,
                already=latest >= level,
            )
        )
    return Forecast(indicator=indicator, points=len(x), x0=x0, slope=k, crossings=crossings)


def series(history: Sequence[HistoryEntry]) -> dict[str, list[tuple[HistoryEntry, int]]]:
    """Per indicator id: the assessments that measured it, with the indicator's index."""
    out: dict[str, list[tuple[HistoryEntry, int]]] = {}
    for entry in history:
        for i, point in enumerate(entry.indicators):
            if point.value is not None:
                out.setdefault(point.indicator, []).append((entry, i))
    return out


def forecasts(history: Sequence[HistoryEntry]) -> list[Forecast]:
    """A forecast for every indicator measured on checkpoints with known compute."""
    result = []
    for indicator, rows in series(history).items():
        latest: dict[str, tuple[HistoryEntry, int]] = {}
        for entry, i in rows:  # one point per checkpoint: its newest assessment
            if entry.effective_compute:
                latest[entry.checkpoint] = (entry, i)
        points = [(e.effective_compute or 0.0, e.indicators[i]) for e, i in latest.values()]
        lines = {}
        if points:
            p = points[-1][1]
            if p.alert_at is not None:
                lines["yellow"] = p.alert_at
            red = p.rule_out_below if p.rule_out_below is not None else p.rule_in_at
            if red is not None:
                lines["red"] = red
        result.append(
            forecast(
                indicator,
                [c for c, _ in points],
                [p.value or 0.0 for _, p in points],
                [p.n or 1 for _, p in points],
                lines,
            )
        )
    return result


def triggers(
    history: Sequence[HistoryEntry], policy: Policy, today: dt.date | None = None
) -> Trigger:
    """The policy's re-assessment triggers over a family's history.

    The newest checkpoint's compute is compared with the last comprehensive assessment's.
    """
    comprehensive = [e for e in history if e.comprehensive]
    known = [e for e in history if e.effective_compute]
    last = comprehensive[-1] if comprehensive else None
    newest = max(known, key=lambda e: e.effective_compute or 0.0) if known else None
    return reassessment_due(
        policy.triggers,
        last_date=dt.date.fromisoformat(last.created[:10]) if last else None,
        last_compute=last.effective_compute if last else None,
        compute=newest.effective_compute if newest else None,
        today=today or dt.datetime.now(dt.UTC).date(),
        compared=f"{newest.checkpoint} vs {last.checkpoint}" if newest and last else "",
    )


class FamilyTrack(BaseModel):
    """One model family: its assessments, forecasts and triggers."""

    family: str
    entries: list[HistoryEntry]
    forecasts: list[Forecast]
    triggers: Trigger


def track_family(
    family: str, history: Sequence[HistoryEntry], policy: Policy, today: dt.date | None = None
) -> FamilyTrack:
    """History, forecasts and triggers of one family."""
    return FamilyTrack(
        family=family,
        entries=list(history),
        forecasts=forecasts(history),
        triggers=triggers(history, policy, today),
    )

"""Best-of-N scaling: ASR@k for k = 1..N, a power-law fit, and forecasts at larger budgets.

After Hughes et al. 2024 (Best-of-N Jailbreaking, arXiv 2412.03556): with N independent
attempts per behaviour, ASR@k is the share of behaviours broken by at least one of the first k
attempts, and -log(ASR@k) follows a power law in k: -log(ASR@k) ~= a * k^(-b). The fit is a
least-squares line in log-log space (log(-log ASR@k) = log a - b log k) over the k where
0 < ASR@k < 1; forecasts at 10x and 100x N carry 95% percentile intervals from a seeded
bootstrap over behaviours.
"""

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20241204


class AsrForecast(BaseModel):
    """Predicted ASR at a larger budget, with its bootstrap 95% interval."""

    k: int
    asr: float
    lower: float
    upper: float


class PowerLaw(BaseModel):
    """-log(ASR@k) ~= a * k^(-b), with the exponent's bootstrap 95% interval."""

    a: float
    b: float
    b_lower: float
    b_upper: float
    points: int
    """How many k entered the fit (those with 0 < ASR@k < 1)."""


class BoNCurve(BaseModel):
    """ASR@k for k = 1..N over `behaviors` behaviours; the fit and forecasts when possible."""

    n: int
    behaviors: int
    asr_at_k: list[float]
    fit: PowerLaw | None = None
    forecasts: list[AsrForecast] = []
    note: str = ""
    """Why there is no fit, when there is none."""


def asr_at_k(successes: np.ndarray) -> np.ndarray:
    """ASR@k for k = 1..N from a behaviours x attempts boolean matrix (attempts in seed order)."""
    broken_by = np.maximum.accumulate(successes.astype(bool), axis=1)
    return np.asarray(broken_by.mean(axis=0), dtype=float)


def fit_power_law(curve: "Sequence[float] | np.ndarray") -> tuple[float, float, int] | None:
    """(a, b, points) of -log(ASR@k) = a k^-b fitted in log-log space; None if < 2 usable k."""
    ks = np.arange(1, len(curve) + 1, dtype=float)
    y = np.asarray(curve, dtype=float)
    keep = (y > 0) & (y < 1)
    if keep.sum() < 2:
        return None
    slope, intercept = np.polyfit(np.log(ks[keep]), np.log(-np.log(y[keep])), 1)
    return float(math.exp(intercept)), float(-slope), int(keep.sum())


def predict(a: float, b: float, k: float) -> float:
    """ASR at budget k under the power law."""
    return float(math.exp(-a * k ** (-b)))


def bon_curve(
    successes: np.ndarray, horizons: Sequence[int] = (10, 100), seed: int = BOOTSTRAP_SEED
) -> BoNCurve:
    """The curve, fit and forecasts at `horizons` x N for a behaviours x attempts matrix."""
    behaviors, n = successes.shape
    curve = asr_at_k(successes)
    result = BoNCurve(n=n, behaviors=behaviors, asr_at_k=[round(float(v), 6) for v in curve])
    fitted = fit_power_law(curve)
    if fitted is None:
        result.note = "no fit: fewer than two budgets with 0 < ASR@k < 1"
        return result
    a, b, points = fitted
    rng = np.random.default_rng(seed)
    boot_b: list[float] = []
    boot_pred: list[list[float]] = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        sample = successes[rng.integers(0, behaviors, size=behaviors)]
        refit = fit_power_law(asr_at_k(sample))
        if refit is not None:
            boot_b.append(refit[1])
            boot_pred.append([predict(refit[0], refit[1], h * n) for h in horizons])
    if boot_b:
        b_lo, b_hi = (float(v) for v in np.percentile(boot_b, [2.5, 97.5]))
        lows, highs = np.percentile(np.asarray(boot_pred), [2.5, 97.5], axis=0)
    else:
        b_lo = b_hi = b
        lows = highs = np.asarray([predict(a, b, h * n) for h in horizons])
    result.fit = PowerLaw(a=a, b=b, b_lower=b_lo, b_upper=b_hi, points=points)
    result.forecasts = [
        AsrForecast(k=h * n, asr=predict(a, b, h * n), lower=float(lo), upper=float(hi))
        for h, lo, hi in zip(horizons, lows, highs, strict=True)
    ]
    return result

"""`redline track`: every family's history, forecasts and triggers; the HTML page with plots."""

from collections.abc import Sequence

from markupsafe import Markup

from redline.errors import RedlineError
from redline.policy import Policy
from redline.report import Line, Series, xy_chart
from redline.store._db import HistoryEntry, Store
from redline.store._trends import FamilyTrack, Forecast, logistic, series, track_family


def track(store: Store, policy: Policy, family: str | None = None) -> list[FamilyTrack]:
    """Tracks of one family (or of every family in the store)."""
    history = store.history(family)
    if family is not None and not history:
        raise RedlineError(f"no assessments of family {family!r} in the store")
    families = dict.fromkeys(e.family for e in history)
    return [track_family(f, [e for e in history if e.family == f], policy) for f in families]


def indicator_plot(indicator: str, entries: Sequence[HistoryEntry], fc: Forecast | None) -> str:
    """Indicator against effective compute: measured points with intervals, fit, lines."""
    rows = series(entries).get(indicator, [])
    points = [
        (e.effective_compute, e.indicators[i])
        for e, i in rows
        if e.effective_compute and e.indicators[i].value is not None
    ]
    if not points:
        return ""
    measured = Series(
        "measured", [(c, p.value or 0.0, p.lower, p.upper) for c, p in points], colour="#1565c0"
    )
    drawn = [measured]
    if fc is not None and fc.x0 is not None and fc.slope is not None:
        import numpy as np

        xs = np.log10([c for c, _ in points])
        grid = np.linspace(xs.min() - 0.5, xs.max() + 1.0, 40)
        fitted = logistic(grid, fc.x0, fc.slope)
        drawn.append(
            Series(
                "logistic fit",
                [(10**x, float(y), None, None) for x, y in zip(grid, fitted, strict=True)],
                dashed=True,
                colour="#ef6c00",
                markers=False,
            )
        )
    last = points[-1][1]
    lines = [Line("alert", last.alert_at)] if last.alert_at is not None else []
    red = last.rule_out_below if last.rule_out_below is not None else last.rule_in_at
    if red is not None:
        lines.append(Line("rule-out", red))
    y_max = 1.0 if all(0 <= (p.upper or 0) <= 1 for _, p in points) else None
    return xy_chart(
        drawn, indicator, "effective compute (FLOP)", indicator, True, lines, y_max=y_max
    )


def render_track_html(tracks: Sequence[FamilyTrack]) -> str:
    """A self-contained page: per family, triggers, a table and a plot per indicator."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("redline.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda x: "-" if x is None else f"{x:.3g}"
    plots = {
        (t.family, f.indicator): Markup(indicator_plot(f.indicator, t.entries, f))
        for t in tracks
        for f in t.forecasts
    }
    return str(env.get_template("track.html.j2").render(tracks=tracks, plots=plots))

"""The report as one self-contained HTML page (inline CSS and SVG, no scripts, no assets)."""

from typing import Any

from markupsafe import Markup

from redline.policy import IndicatorResult, Measurement, ThresholdResult, headline
from redline.report._model import Report
from redline.report._svg import IntervalRow, Line, Series, interval_chart, xy_chart

STATUS_TEXT = {
    "ruled_out": "ruled out",
    "alert": "ruled out, past the yellow line",
    "not_ruled_out": "not ruled out",
    "crossed": "crossed",
    "no_evidence": "not measured",
    "below_alert": "below the alert line",
    "met": "met",
    "unmet": "not met",
}


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("redline.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["status"] = lambda s: STATUS_TEXT.get(s, s.replace("_", " "))
    env.filters["num"] = lambda x: "-" if x is None else f"{x:.3g}"
    env.filters["est"] = _est
    return env


def _est(m: Measurement | None) -> str:
    if m is None:
        return "not measured"
    e = m.estimate
    n = f"n={e.n}" if e.n is not None else "n unknown"
    if e.point:
        return f"{e.value:.3g} (point estimate, no CI; {n})"
    return f"{e.value:.3g} [{e.lower:.3g}, {e.upper:.3g}] ({n})"


def _lines(ind: IndicatorResult) -> list[Line]:
    pairs = (("rule-out", ind.rule_out_below), ("alert", ind.alert_at), ("rule-in", ind.rule_in_at))
    return [Line(kind, n.value) for kind, n in pairs if n is not None]


def threshold_chart(t: ThresholdResult) -> Markup:
    """One row per shown indicator; indicators sharing one scale share the chart."""
    shown = [ind for ind in t.indicators if ind.required or ind.measurement]
    charts = []
    for ind in shown:
        e = ind.measurement.estimate if ind.measurement else None
        row = IntervalRow(ind.id, *(e.value, e.lower, e.upper) if e else (None, None, None))
        charts.append(interval_chart([row], _lines(ind), f"{t.id}: {ind.id}"))
    return Markup("".join(charts))


def attack_chart(report: Report) -> Markup:
    """Attack success rate per attack, bare and guarded, with 95% intervals."""
    rows: list[IntervalRow] = []
    for a in report.safeguards.attacks:
        for name, r in (("bare", a.bare), ("guarded", a.guarded)):
            rows.append(
                IntervalRow(
                    f"{a.attack} ({name})",
                    r.asr if r else None,
                    r.lower if r else None,
                    r.upper if r else None,
                    series=name,
                )
            )
    bound = report.safeguards.asr_max
    lines = [Line("max", bound)] if bound is not None else []
    return Markup(interval_chart(rows, lines, "Attack success rate per attack"))


def bon_chart(report: Report) -> Markup:
    """Best-of-N success rate against N (log scale), observed and forecast."""
    bon = report.safeguards.best_of_n
    if bon is None:
        return Markup("")
    series = [
        Series("observed", [(p.n, p.asr, p.lower, p.upper) for p in bon.observed]),
        Series(
            "forecast",
            [(p.n, p.asr, p.lower, p.upper) for p in bon.forecast],
            dashed=True,
            colour="#ef6c00",
            markers=False,
        ),
    ]
    return Markup(
        xy_chart(series, "Best-of-N curve", "N (samples per behaviour)", "ASR", log_x=True)
    )


def render_html(report: Report) -> str:
    """The report page."""
    d = report.decision
    template = _environment().get_template("report.html.j2")
    shown = {t.id: [i for i in t.indicators if i.required or i.measurement] for t in d.thresholds}
    return str(
        template.render(
            r=report,
            d=d,
            shown=shown,
            charts={t.id: threshold_chart(t) for t in d.thresholds},
            attack_chart=attack_chart(report) if report.safeguards.attacks else Markup(""),
            bon_chart=bon_chart(report),
            measured_safeguards=[s for s in d.safeguards if s.kind == "measured"],
            h=headline(d),
        )
    )

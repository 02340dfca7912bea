"""Rich rendering of decisions and compute reports for the terminal."""

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from redline.policy import ComputeReport, Decision, IndicatorResult, headline

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

    from redline.store import FamilyTrack

_STYLE = {
    "ruled_out": "green",
    "alert": "yellow",
    "not_ruled_out": "red",
    "crossed": "bold red",
    "no_evidence": "magenta",
    "below_alert": "green",
    "met": "green",
    "unmet": "red",
    "success": "green",
}


_GROUP_STYLE = {
    "met": "green",
    "not met": "red",
    "no attestation": "magenta",
    "not measured": "magenta",
}


def _styled(status: str) -> str:
    return f"[{_STYLE.get(status, 'red')}]{status}[/]"


def _estimate(ind: IndicatorResult) -> str:
    if ind.measurement is None:
        return "-"
    e = ind.measurement.estimate
    n = f"n={e.n}" if e.n is not None else "n unknown"
    if e.point:
        return f"{e.value:.3g} (point estimate) {n}"
    return f"{e.value:.3g} [{e.lower:.3g}, {e.upper:.3g}] {n}"


def print_headline(d: Decision, console: Console) -> None:
    """The level required, the decision with its safeguards by status, and what to do next."""
    h = headline(d)
    console.print(f"[bold]Required: {h.required}[/]")
    console.print(f"  {h.thresholds_line} (policy {d.policy.id}; {', '.join(d.models) or '-'}).")
    verdict = "[bold green]DEPLOY[/]" if d.outcome == "deploy" else "[bold red]DO NOT DEPLOY[/]"
    console.print(verdict)
    console.print(f"  {h.safeguards_line}.")
    for status, ids in h.safeguards.items():
        console.print(f"  [{_GROUP_STYLE[status]}]{status}[/]: {', '.join(ids)}")
    if h.next_steps:
        console.print("[bold]Next[/]")
        for step in h.next_steps:
            console.print(f"- {step}")


def print_decision(d: Decision, console: Console | None = None) -> None:
    """The headline first, then thresholds, safeguards, reasons and evidence problems."""
    console = console or Console()
    print_headline(d, console)
    console.print(f"[dim]{escape(d.policy.describe())}[/]")
    for det in d.determinations:
        where = f"{det.file}:{det.line}" if det.line else det.file
        signed = ""
        if det.signed_by:
            trust = "trusted" if det.signer_trusted else "NOT trusted"
            signed = f"; signed by key {det.signed_by} ({trust})"
        if det.applied:
            label = "[bold yellow]OVERRIDE[/] " if det.override and det.note else ""
            console.print(f"{label}[bold]{det.threshold}[/]: {escape(det.summary)}")
        else:
            console.print(f"[red]{det.threshold}: determination {escape(det.note)}[/]")
        cited = escape(", ".join(det.evidence) or "none cited")
        console.print(
            f"  [dim]decided by {escape(det.decided_by)} ({escape(det.role)}); evidence: "
            f"{cited}; {escape(where)} sha256 {det.sha256[:12]}{signed}[/]"
        )
    thresholds = Table(title="Capability thresholds")
    for column in ("threshold", "status", "indicator", "estimate [95% CI]", "lines", "why"):
        thresholds.add_column(column)
    for t in d.thresholds:
        shown = [ind for ind in t.indicators if ind.required or ind.measurement]
        hidden = len(t.indicators) - len(shown)
        status = _styled(t.status)
        if t.settled_by != "evidence" and t.determination is not None:
            ruling = t.determination.ruling.replace("_", " ")
            status += f"\n→ {ruling} by {t.settled_by}"
        for i, ind in enumerate(shown):
            lines = " ".join(
                f"{label}{n.value:g}"
                for label, n in (
                    ("out<", ind.rule_out_below),
                    ("in≥", ind.rule_in_at),
                    ("alert≥", ind.alert_at),
                )
                if n is not None
            )
            name = f"{ind.id} ({ind.role}{'' if ind.required else ', optional'})"
            thresholds.add_row(
                t.id if i == 0 else "",
                status if i == 0 else "",
                name,
                _estimate(ind),
                lines,
                f"{_styled(ind.status)}: {escape(ind.reason)}",
            )
        thresholds.add_row("", "", f"[dim]{t.basis}[/]", "", "", "")
        if hidden:
            thresholds.add_row("", "", f"[dim]+{hidden} optional without evidence[/]", "", "", "")
    console.print(thresholds)
    safeguards = Table(title="Required safeguards")
    for column in ("level", "standard", "safeguard", "status", "why"):
        safeguards.add_column(column)
    for s in d.safeguards:
        safeguards.add_row(s.level, s.standard, s.id, _styled(s.status), escape(s.reason))
    console.print(safeguards)
    console.print("[bold]Reasons[/]")
    for r in d.reasons:
        refs = f" [dim]({escape('; '.join(r.refs))})[/]" if r.refs else ""
        console.print(f"- {escape(r.message)}{refs}")
    due = "due" if d.assessment.due else "not due"
    console.print(
        f"Comprehensive assessment {due}: {'; '.join(d.assessment.reasons) or 'no trigger fired'}"
    )
    for problem in d.problems:
        console.print(f"[yellow]warning:[/] {escape(problem)}")


def print_compute(r: ComputeReport, trigger: float | None, console: Console | None = None) -> None:
    """Compute estimate, tier table, and growth against the re-assessment trigger."""
    console = console or Console()
    inputs = ", ".join(f"{k}={v:g}" for k, v in r.inputs.items())
    console.print(f"Training compute: [bold]{r.flop:.3g} FLOP[/] ({r.method}: {inputs})")
    table = Table(title="Regulatory compute tiers")
    for column in ("tier", "line (FLOP)", "reached", "applies", "source", "obligations / notes"):
        table.add_column(column)
    for t in r.tiers:
        detail = "\n".join([*t.obligations, *([t.note] if t.note else [])])
        table.add_row(
            t.name,
            f"> {t.threshold_flop:.0e}",
            "yes" if t.reached else "no",
            {"yes": "[bold]yes[/]", "no": "no", "if_large_developer": "if large developer"}[
                t.applies
            ],
            f"{t.status} {','.join(t.src)}",
            detail,
        )
    console.print(table)
    if r.growth is not None:
        line = f"Effective compute grew {r.growth:.3g}x since the last comprehensive assessment"
        if trigger is not None:
            verdict = "a comprehensive assessment is due" if r.growth >= trigger else "below"
            line += f": {verdict} the {trigger:g}x trigger"
        console.print(line)


def print_eval_summary(logs: "list[EvalLog]", console: Console | None = None) -> None:
    """One row per evaluation: status, samples, headline metric with its interval, log file."""
    console = console or Console()
    table = Table(title="Evaluations")
    for column in ("task", "status", "samples", "accuracy [95% CI]", "log"):
        table.add_column(column)
    for log in logs:
        metrics = {
            name: m.value
            for s in (log.results.scores if log.results else [])
            for name, m in s.metrics.items()
        }
        headline = "-"
        if "accuracy" in metrics:
            headline = f"{metrics['accuracy']:.3f}"
            if "lower" in metrics and "upper" in metrics:
                headline += f" [{metrics['lower']:.3f}, {metrics['upper']:.3f}]"
        done = log.results.completed_samples if log.results else 0
        table.add_row(log.eval.task, _styled(log.status), str(done), headline, log.location)
    console.print(table)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def print_track(tracks: "list[FamilyTrack]", console: Console | None = None) -> None:
    """Per family: triggers, indicators across checkpoints, forecast line crossings."""
    console = console or Console()
    if not tracks:
        console.print("No assessments recorded yet (run `redline assess`).")
    for t in tracks:
        due = "[bold red]due[/]" if t.triggers.due else "[green]not due[/]"
        console.print(f"[bold]{t.family}[/]: comprehensive assessment {due}")
        for reason in t.triggers.reasons:
            console.print(f"  - {reason}")
        table = Table(title=f"{t.family}: indicators across checkpoints")
        table.add_column("indicator")
        for e in t.entries:
            table.add_column(f"{e.checkpoint}\n{_num(e.effective_compute)} FLOP")
        names = list(dict.fromkeys(p.indicator for e in t.entries for p in e.indicators))
        for name in names:
            cells = []
            for e in t.entries:
                p = next((p for p in e.indicators if p.indicator == name), None)
                cells.append(
                    f"{_num(p.value)} [{_num(p.lower)}, {_num(p.upper)}]"
                    if p and p.value is not None
                    else "-"
                )
            table.add_row(name, *cells)
        console.print(table)
        forecasts = Table(title=f"{t.family}: forecast line crossings (effective compute, FLOP)")
        for column in ("indicator", "line", "level", "crossing", "95% interval", "note"):
            forecasts.add_column(column)
        for f in t.forecasts:
            if not f.crossings:
                forecasts.add_row(f.indicator, "-", "-", "-", "-", f.note)
            for c in f.crossings:
                forecasts.add_row(
                    f.indicator,
                    c.line,
                    _num(c.level),
                    _num(c.compute),
                    f"[{_num(c.lower)}, {_num(c.upper)}]",
                    "already reached" if c.already else f.note,
                )
        console.print(forecasts)

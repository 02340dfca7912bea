"""`redline redteam run|attacks|calibrate`: jailbreak campaigns, the attack registry, judges."""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from redline.cli._app import BAD_INPUT, NEGATIVE, app, parse_key_values, user_errors
from redline.errors import RedlineError

if TYPE_CHECKING:
    from inspect_ai.model import Model
    from rich.console import Console

    from redline.redteam import CampaignResult, OverRefusalResult, Rate

redteam_app = typer.Typer(
    help="Attack a model or a guarded deployment and measure attack success.",
    no_args_is_help=True,
)
app.add_typer(redteam_app, name="redteam")

URL_SERVICE = "redline"
"""Service name for OpenAI-compatible URL targets (`openai-api/redline/<model>`)."""


def _target(target: str, url_model: str, guard: Path | None, args: dict[str, Any]) -> "Model":
    """The Inspect model under attack: a model name, a URL, or either behind a guard."""
    from inspect_ai.model import get_model

    if target.startswith(("http://", "https://")):
        key = os.environ.get("REDLINE_TARGET_API_KEY") or os.environ.get("OPENAI_API_KEY") or "-"
        if guard is not None:
            raise RedlineError("--guard wraps a model in process; a URL target is already served")
        return get_model(
            f"openai-api/{URL_SERVICE}/{url_model}", base_url=target, api_key=key, **args
        )
    if guard is not None:
        from redline.guard import Guard

        return get_model(f"redline/guarded/{target}", guard=str(Guard.find(guard)), **args)
    return get_model(target, **args)


def _rate_table(title: str, rates: "dict[str, Rate]", first: str, console: "Console") -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in (first, "rate [95% CI]", "hits/scored", "unscoreable", "queries", "tokens"):
        table.add_column(column, justify="left" if column == first else "right")
    for name, r in rates.items():
        table.add_row(
            name,
            r.interval(),
            f"{r.hits}/{r.scored}",
            str(r.unscoreable),
            str(r.queries),
            str(r.tokens),
        )
    console.print(table)


def print_campaign(
    c: "CampaignResult", over: "OverRefusalResult | None", console: "Console"
) -> None:
    """Per-attack and per-category ASR, block rates, Best-of-N curve, over-refusal."""
    from rich.table import Table

    _rate_table(f"Attack success by attack (judge: {c.judge})", c.per_attack, "attack", console)
    _rate_table("Attack success by category", c.per_category, "category", console)
    o = c.overall
    console.print(
        f"[bold]ASR {o.interval()}[/] over {o.scored} scored samples; "
        f"{o.unscoreable} unscoreable (counted apart); {o.queries} queries, {o.tokens} tokens"
    )
    if c.blocks:
        b = c.blocks
        console.print(
            f"Guard blocks: input {b.input:.3f} ({b.blocked_input}/{b.samples}), "
            f"output {b.output:.3f} ({b.blocked_output}/{b.samples})"
        )
    for name, curve in c.best_of_n.items():
        table = Table(title=f"Best-of-N: {name} ({curve.behaviors} behaviours, N={curve.n})")
        table.add_column("k", justify="right")
        table.add_column("ASR@k", justify="right")
        shown = sorted({1, 2, 4, 8, 16, 32, 64, 128, curve.n} & set(range(1, curve.n + 1)))
        for k in shown:
            table.add_row(str(k), f"{curve.asr_at_k[k - 1]:.3f}")
        console.print(table)
        if curve.fit:
            f = curve.fit
            forecasts = "; ".join(
                f"ASR@{p.k} = {p.asr:.3f} [{p.lower:.3f}, {p.upper:.3f}]" for p in curve.forecasts
            )
            console.print(
                f"power law -log(ASR@k) = {f.a:.3g} k^-{f.b:.3g} "
                f"(b 95% CI [{f.b_lower:.3g}, {f.b_upper:.3g}], {f.points} points); {forecasts}"
            )
        else:
            console.print(curve.note)
    if over:
        r = over.overall
        console.print(
            f"[bold]Over-refusal {r.interval()}[/] on {r.scored} benign prompts; "
            f"{r.unscoreable} unscoreable"
        )


@redteam_app.command("run")
def run(
    target: Annotated[
        str,
        typer.Option(help="Inspect model name, or an OpenAI-compatible base URL (http...)."),
    ],
    model_arg: Annotated[
        list[str] | None, typer.Option("--model-arg", "-M", help="Target model argument k=v.")
    ] = None,
    guard: Annotated[
        Path | None, typer.Option(help="Put the target behind this guard folder, in process.")
    ] = None,
    url_model: Annotated[str, typer.Option(help="Model name sent to a URL target.")] = "default",
    attacks: Annotated[str | None, typer.Option(help="Comma-separated attack names.")] = None,
    family: Annotated[str | None, typer.Option(help="Only attacks of this family.")] = None,
    behaviors: Annotated[
        Path | None, typer.Option(help="Behaviours file (JBB/HarmBench/AdvBench CSV/JSONL, text).")
    ] = None,
    constitution: Annotated[
        str, typer.Option(help="Constitution for behaviours and benign prompts.")
    ] = "default",
    limit: Annotated[int | None, typer.Option(help="At most this many behaviours.")] = None,
    n: Annotated[int, typer.Option(help="Draws per behaviour x attack (Best-of-N).")] = 1,
    seed: Annotated[int, typer.Option(help="First seed.")] = 0,
    judge: Annotated[str, typer.Option(help="auto, refusal, guard or llm.")] = "auto",
    judge_guard: Annotated[
        Path | None, typer.Option(help="Guard folder for the guard judge (default guard if unset).")
    ] = None,
    attacker: Annotated[
        str | None, typer.Option(help="Attacker model (enables attacker-model attacks).")
    ] = None,
    grader: Annotated[str | None, typer.Option(help="Grader model for the llm judge.")] = None,
    max_turns: Annotated[int, typer.Option(help="Turns for multi-turn attacks.")] = 5,
    max_tokens: Annotated[int | None, typer.Option(help="Target completion length.")] = None,
    max_asr: Annotated[
        float | None, typer.Option(help="Exit 1 when the ASR 95% upper bound exceeds this.")
    ] = None,
    over_refusal: Annotated[
        bool, typer.Option("--over-refusal/--no-over-refusal", help="Also measure over-refusal.")
    ] = True,
    benign: Annotated[
        Path | None, typer.Option(help="Benign prompts file for over-refusal.")
    ] = None,
    limit_benign: Annotated[
        int | None, typer.Option(help="At most this many benign prompts.")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the results here.")] = None,
    log_dir: Annotated[Path, typer.Option(help="Where Inspect writes its logs.")] = Path("logs"),
    display: Annotated[str, typer.Option(help="Inspect display: rich, plain, none.")] = "rich",
) -> None:
    """Run a jailbreak campaign (and over-refusal) against a target; exit 1 over --max-asr."""
    from rich.console import Console

    from redline._files import write_atomic
    from redline.redteam import (
        CampaignSpec,
        EvalSettings,
        OverRefusalSpec,
        check_campaign,
        run_campaign,
    )

    spec = CampaignSpec(
        behaviors=str(behaviors) if behaviors else None,
        constitution=constitution,
        attacks=attacks,
        family=family,
        limit_behaviors=limit,
        n=n,
        seed=seed,
        judge=judge,
        guard=str(judge_guard) if judge_guard else None,
        max_turns=max_turns,
    )
    over = (
        OverRefusalSpec(
            prompts=str(benign) if benign else None,
            constitution=constitution,
            limit_prompts=limit_benign,
            seed=seed,
        )
        if over_refusal
        else None
    )
    with user_errors():
        check_campaign(spec, over, attacker, grader, max_asr)
        model = _target(target, url_model, guard, parse_key_values(model_arg or []))
    report = run_campaign(
        model,
        spec,
        over,
        settings=EvalSettings(log_dir=log_dir, display=display, max_tokens=max_tokens),
        attacker=attacker,
        grader=grader,
        max_asr=max_asr,
    )
    console = Console()
    print_campaign(report.campaign, report.over_refusal, console)
    if json_out:
        with user_errors():
            write_atomic(json_out, report.model_dump_json(indent=2) + "\n")
    campaign, verdict = report.campaign, report.gate
    if campaign.status != "success":
        console.print(f"[red]campaign {campaign.status}[/]: see {campaign.log}")
    if verdict:
        style = "green" if verdict.passed else "bold red"
        console.print(
            f"[{style}]gate {'passed' if verdict.passed else 'FAILED'}[/]: {verdict.reason}"
        )
        if not verdict.passed:
            raise typer.Exit(NEGATIVE)
    elif campaign.status != "success":
        raise typer.Exit(BAD_INPUT)


@redteam_app.command("attacks")
def list_attacks(
    family: Annotated[str | None, typer.Option(help="Only this family.")] = None,
) -> None:
    """List the registered attacks."""
    from rich.console import Console
    from rich.table import Table

    from redline.attacks import attack_names, families, get_attack
    from redline.redteam import attackers  # noqa: F401  (registers the attacker-model attacks)

    with user_errors():
        if family and family not in families():
            raise RedlineError(f"unknown family {family!r}: use one of {', '.join(families())}")
        names = attack_names(family) if family else attack_names()  # type: ignore[arg-type]
    table = Table(title=f"{len(names)} attacks")
    for column in ("name", "family", "turns", "attacker", "randomized", "description", "paper"):
        table.add_column(column)
    for name in names:
        d = get_attack(name).describe()
        table.add_row(
            d["name"],
            d["family"],
            d["turns"],
            "yes" if d["needs_attacker"] else "",
            "yes" if d["randomized"] else "",
            d["description"],
            d["paper"] or "",
        )
    Console().print(table)


@redteam_app.command("calibrate")
def calibrate(
    labels: Annotated[Path, typer.Option(help="Human-labelled completions (XSTest layout CSV).")],
    judge: Annotated[str, typer.Option(help="refusal, guard or llm.")] = "refusal",
    judge_guard: Annotated[
        Path | None, typer.Option(help="Guard folder for the guard judge.")
    ] = None,
    grader: Annotated[str | None, typer.Option(help="Grader model for the llm judge.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report here.")] = None,
) -> None:
    """Measure a judge against human labels: agreement, precision and recall of 'complied'."""
    import anyio

    from redline._files import write_atomic
    from redline.redteam import calibrate_judge, load_labels, make_judge

    with user_errors():
        rows = load_labels(labels)
        if judge == "auto":
            raise RedlineError("choose the judge to calibrate: refusal, guard or llm")
        grader_model = None
        if grader:
            from inspect_ai.model import get_model

            grader_model = get_model(grader)
        chosen = make_judge(judge, str(judge_guard) if judge_guard else None, grader_model)
    report = anyio.run(calibrate_judge, chosen, rows, str(labels))
    typer.echo(
        f"{report.judge} judge on {report.n} labelled completions ({report.positives} complied): "
        f"agreement {report.agreement:.3f}, precision {report.precision:.3f}, "
        f"recall {report.recall:.3f}, F1 {report.f1:.3f}; {report.unscoreable} unscoreable"
    )
    if json_out:
        write_atomic(json_out, report.model_dump_json(indent=2) + "\n")

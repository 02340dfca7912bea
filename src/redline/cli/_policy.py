"""`redline policy list|show|validate`, `redline decide` and `redline compute`."""

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._app import NEGATIVE, OK, app, user_errors
from redline.errors import RedlineError

policy_app = typer.Typer(help="List, show and validate release policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("list")
def policy_list() -> None:
    """List the policies redline ships."""
    from rich.console import Console
    from rich.table import Table

    from redline.policy import DEFAULT_POLICY, load_policy, shipped_policies

    table = Table(title="Shipped policies")
    for column in ("name", "policy", "levels", "thresholds"):
        table.add_column(column)
    with user_errors():
        for name in shipped_policies():
            p = load_policy(name)
            label = f"{name} (default)" if name == DEFAULT_POLICY else name
            table.add_row(
                label, p.name, " < ".join(lv.id for lv in p.levels), str(len(p.thresholds))
            )
    Console().print(table)


@policy_app.command("show")
def policy_show(
    name: Annotated[str, typer.Argument(help="A shipped policy name or a policy file.")],
) -> None:
    """Show a policy's thresholds, indicators and safeguards with their numbers' sources."""
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    from redline.policy import Number, load_policy

    def num(label: str, n: Number | None) -> str:
        if n is None:
            return ""
        where = ",".join(n.src) if n.src else "set your own"
        return f" {label} {n.value:g} [dim]({n.status}: {where})[/]"

    with user_errors():
        p = load_policy(name)
    tree = Tree(f"[bold]{p.id}[/]: {p.name}  (baseline {p.baseline})")
    for t in p.thresholds:
        req = ", ".join(f"{k} {v}" for k, v in t.requires.model_dump().items() if v)
        node = tree.add(f"[bold]{t.id}[/] ({t.domain}) requires {req}: {t.definition}")
        for ind in t.indicators:
            source = "evidence file" if ind.external else f"{ind.task} {ind.metric}"
            node.add(
                escape(f"{ind.id} [{source}, {ind.scale}] {ind.role}")
                + ("" if ind.required else " [dim](optional)[/]")
                + num("rule out below", ind.rule_out_below)
                + num("rule in at", ind.rule_in_at)
                + num("alert at", ind.alert_at)
            )
    for level, safeguards in p.safeguards.items():
        node = tree.add(f"[bold]safeguards {level}[/]")
        for sg in safeguards:
            detail = "attestation" if sg.kind == "attestation" else ""
            if sg.kind == "measured":
                detail = (
                    f"{sg.task or 'evidence file'} {sg.metric}"
                    + num("max", sg.max)
                    + num("min", sg.min)
                )
            node.add(escape(f"{sg.standard} {sg.id}: {sg.description} ") + f"\\[{detail}]")
    Console().print(tree)


@policy_app.command("validate")
def policy_validate(
    files: Annotated[list[Path], typer.Argument(help="Policy YAML files to check.")],
) -> None:
    """Check policy files; the first problem in each is printed as FILE:LINE: FIELD: MESSAGE."""
    from redline.policy import load_policy

    with user_errors():
        for file in files:
            p = load_policy(file)
            typer.echo(f"{file}: ok ({p.id}, {len(p.thresholds)} thresholds)")


@policy_app.command("schema")
def policy_schema(
    what: Annotated[
        str,
        typer.Argument(
            help="decision (decide --json output), policy, evidence (file), or report (assess)."
        ),
    ] = "decision",
) -> None:
    """Print the JSON Schema of a decision, a policy file, an evidence file or a report."""
    import json

    from pydantic import BaseModel

    from redline.policy import Decision, ManualEvidence, Policy
    from redline.report import Report

    models: dict[str, type[BaseModel]] = {
        "decision": Decision,
        "policy": Policy,
        "evidence": ManualEvidence,
        "report": Report,
    }
    with user_errors():
        if what not in models:
            raise RedlineError(f"unknown schema {what!r}: choose {', '.join(models)}")
    typer.echo(json.dumps(models[what].model_json_schema(), indent=2))


@app.command("decide")
def decide_command(
    logs: Annotated[
        list[Path] | None,
        typer.Argument(help="Inspect logs, or directories searched for them (by content)."),
    ] = None,
    policy: Annotated[str, typer.Option(help="Shipped policy name or policy file.")] = "rsp",
    evidence: Annotated[
        Path | None,
        typer.Option(help="Evidence YAML: attestations, external results, determinations."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="The model decided on, as its logs name it; repeat for each name it runs "
            "under (e.g. behind a guard). Needed when the logs are of several models.",
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the decision JSON here.")
    ] = None,
    sign: Annotated[
        bool, typer.Option("--sign", help="Sign the decision JSON with your signing key.")
    ] = False,
) -> None:
    """Decide from Inspect logs and/or an evidence file: required level, safeguards, deploy.

    Exit status: 0 deploy, 1 do not deploy, 2 bad input.
    """
    from redline._files import write_atomic
    from redline.cli._render import print_decision
    from redline.policy import Evidence, decide, load_policy
    from redline.report import sign_record

    with user_errors():
        if not logs and evidence is None:
            raise RedlineError("give Inspect logs, an --evidence file, or both")
        if sign and json_out is None:
            raise RedlineError("--sign signs the decision JSON: give --json FILE too")
        p = load_policy(policy)
        decision = decide(p, Evidence.load(logs or [], evidence, model or None))
        if sign:
            decision = sign_record(decision)
        if json_out:
            write_atomic(json_out, decision.model_dump_json(indent=2) + "\n")
    print_decision(decision)
    if decision.signature is not None:
        typer.echo(f"signed with key {decision.signature.key_id}: {json_out}")
    raise typer.Exit(OK if decision.outcome == "deploy" else NEGATIVE)


@app.command("compute")
def compute_command(
    params: Annotated[float | None, typer.Option(help="Parameters (active ones for MoE).")] = None,
    tokens: Annotated[float | None, typer.Option(help="Training tokens.")] = None,
    chips: Annotated[float | None, typer.Option(help="Accelerators used.")] = None,
    peak_flops: Annotated[float | None, typer.Option(help="Peak FLOP/s per accelerator.")] = None,
    hours: Annotated[float | None, typer.Option(help="Training time in hours.")] = None,
    utilization: Annotated[
        float | None, typer.Option(help="Fraction of peak achieved (default 0.3).")
    ] = None,
    revenue: Annotated[
        float | None,
        typer.Option(help="Developer's annual revenue in USD (large-developer duties)."),
    ] = None,
    bio_sequence: Annotated[
        bool, typer.Option(help="Trained primarily on biological sequence data.")
    ] = False,
    previous: Annotated[
        float | None,
        typer.Option(help="Effective compute (FLOP) at the last comprehensive assessment."),
    ] = None,
    policy: Annotated[
        str, typer.Option(help="Policy whose re-assessment trigger applies.")
    ] = "rsp",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Training compute (6ND or hardware) and the regulatory tiers it reaches."""
    from redline.cli._render import print_compute
    from redline.policy import classify, load_policy, measure_compute

    with user_errors():
        measured = measure_compute(
            params=params, tokens=tokens, chips=chips, peak_flops=peak_flops, hours=hours,
            utilization=utilization,
        )  # fmt: skip
        if measured is None:
            raise RedlineError("give --params and --tokens, or --chips, --peak-flops and --hours")
        method, flop, inputs = measured
        report = classify(flop, method, inputs, revenue, bio_sequence, previous)
        trigger = load_policy(policy).triggers.effective_compute_multiplier
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_compute(report, trigger.value if trigger else None)

"""`redline assess`, `redline verify` and `redline track`."""

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer

from redline.cli._app import NEGATIVE, OK, app, parse_key_values, user_errors
from redline.models import EMBEDDED_MODEL

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $REDLINE_DB_URL or SQLite in the data dir)."),
]


@app.command("assess")
def assess_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Any Inspect model name.")] = (
        EMBEDDED_MODEL
    ),
    model_arg: Annotated[
        list[str] | None, typer.Option("--model-arg", "-M", help="Model argument key=value.")
    ] = None,
    policy: Annotated[str, typer.Option(help="Shipped policy name or policy file.")] = "rsp",
    constitution: Annotated[
        str, typer.Option(help="Constitution for the guard (shipped name or YAML file).")
    ] = "default",
    profile: Annotated[
        str, typer.Option(help="quick, full, or a profile YAML file (docs/assess.md).")
    ] = "quick",
    out: Annotated[Path, typer.Option(help="Folder for the reports, logs and guard.")] = Path(
        "reports"
    ),
    name: Annotated[
        str | None, typer.Option(help="Report file name without extension (default: model-time).")
    ] = None,
    evidence: Annotated[
        Path | None, typer.Option(help="Manual evidence YAML: attestations, external results.")
    ] = None,
    guard: Annotated[
        Path | None,
        typer.Option(help="Guard folder (default: the default guard, else one trained now)."),
    ] = None,
    family: Annotated[
        str | None, typer.Option(help="Model family for the history (default: the model).")
    ] = None,
    checkpoint: Annotated[
        str | None, typer.Option(help="Checkpoint name (default: the model name).")
    ] = None,
    checkpoint_date: Annotated[
        str | None, typer.Option(help="Checkpoint date, YYYY-MM-DD (default: today).")
    ] = None,
    effective_compute: Annotated[
        float | None, typer.Option(help="Effective training compute in FLOP.")
    ] = None,
    params: Annotated[
        float | None, typer.Option(help="Parameters, for compute as 6ND (with --tokens).")
    ] = None,
    tokens: Annotated[float | None, typer.Option(help="Training tokens (with --params).")] = None,
    db: DbOption = None,
    no_record: Annotated[
        bool, typer.Option("--no-record", help="Do not record the assessment in the store.")
    ] = False,
) -> None:
    """Assess a model end to end: capability suites, guard, red team, over-refusal, decision.

    Writes OUT/NAME.json (signed) and OUT/NAME.html; an interrupted run resumes and reuses
    the finished Inspect logs under OUT/logs. Exit status: 0 deploy, 1 do not deploy,
    2 bad input.
    """
    from rich.console import Console

    from redline.assess import AssessOptions, assess
    from redline.cli._render import print_decision
    from redline.errors import RedlineError

    console = Console(stderr=True)
    with user_errors():
        try:
            when = dt.date.fromisoformat(checkpoint_date) if checkpoint_date else None
        except ValueError as ex:
            raise RedlineError(
                f"--checkpoint-date must be YYYY-MM-DD, got {checkpoint_date}"
            ) from ex
        if (params is None) != (tokens is None):
            raise RedlineError("give both --params and --tokens, or neither")
        options = AssessOptions(
            model=model,
            model_args=parse_key_values(model_arg or []),
            policy=policy,
            constitution=constitution,
            profile=profile,
            out=out,
            name=name,
            evidence=evidence,
            guard=guard,
            family=family,
            checkpoint=checkpoint,
            checkpoint_date=when,
            effective_compute=effective_compute,
            params=params,
            tokens=tokens,
            db=db,
            record=not no_record,
            command=["redline", *sys.argv[1:]],
        )
        result = assess(options, progress=lambda line: console.print(f"[bold]assess[/] {line}"))
    print_decision(result.report.decision)
    typer.echo(f"report: {result.html_path} (signed JSON: {result.json_path})")
    raise typer.Exit(OK if result.report.decision.outcome == "deploy" else NEGATIVE)


@app.command("verify")
def verify_command(
    report: Annotated[
        Path, typer.Argument(help="A report JSON (redline assess) or a signed decision JSON.")
    ],
    key: Annotated[
        Path | None,
        typer.Option(help="Accept only this public key file (base64) as the signer."),
    ] = None,
    trusted_keys: Annotated[
        Path | None,
        typer.Option(help="A trust store file to trust besides your own (redline keys)."),
    ] = None,
) -> None:
    """Check a signature, that its key is trusted, and the hashes of every file cited.

    Exit status: 0 verified, 1 a check failed (untrusted signer included), 2 not a report.
    """
    from redline.report import verify_report

    with user_errors():
        result = verify_report(report, key, trusted_keys)
    for problem in result.problems:
        typer.echo(f"FAIL {problem}")
    if result.ok:
        typer.echo(
            f"OK {report}: signature valid, signed by trusted key {result.key_id} "
            f"({result.signer}); {result.logs_checked} logs and {result.files_checked} files "
            "match their hashes"
        )
    raise typer.Exit(OK if result.ok else NEGATIVE)


@app.command("track")
def track_command(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model family (default: every family).")
    ] = None,
    policy: Annotated[str, typer.Option(help="Policy whose triggers apply.")] = "rsp",
    html: Annotated[Path | None, typer.Option(help="Write an HTML page with plots here.")] = None,
    db: DbOption = None,
) -> None:
    """Indicators across checkpoints, forecasts of line crossings, and re-assessment triggers."""
    from redline.cli._render import print_track
    from redline.policy import load_policy
    from redline.store import Store, track

    with user_errors():
        result = track(Store(db), load_policy(policy), model)
        if html is not None:
            from redline._files import write_atomic
            from redline.store import render_track_html

            write_atomic(html, render_track_html(result))
    print_track(result)
    if html is not None:
        typer.echo(f"plots: {html}")

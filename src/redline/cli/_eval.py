"""`redline eval`: run capability suites on any Inspect model (a thin layer over inspect eval)."""

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._app import BAD_INPUT, app, parse_key_values, user_errors
from redline.models import EMBEDDED_MODEL


@app.command("eval")
def eval_command(
    suite: Annotated[
        str, typer.Argument(help="A suite (cyber, autonomy, knowledge, intercode, ...) or all.")
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Any Inspect model name.")] = (
        EMBEDDED_MODEL
    ),
    model_arg: Annotated[
        list[str] | None, typer.Option("--model-arg", "-M", help="Model argument key=value.")
    ] = None,
    task_arg: Annotated[
        list[str] | None,
        typer.Option("--task-arg", "-T", help="Task argument key=value (e.g. path=, sandbox=)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Samples per suite, at most.")] = None,
    log_dir: Annotated[Path, typer.Option(help="Where Inspect writes its logs.")] = Path("logs"),
) -> None:
    """Run capability suites as Inspect evaluations; `all` runs every suite that can run here.

    `intercode` needs `-T path=DIR` (a folder with ic_ctf.json) and `all` skips it without one;
    `mcq` needs `-T path=FILE` (multiple-choice JSON in the WMDP or CyberMetric format).
    Exit status 2 if any evaluation did not complete.
    """
    from redline.evals import select_suites

    with user_errors():
        model_args = parse_key_values(model_arg or [])
        task_args = parse_key_values(task_arg or [], "task argument")
        chosen, skipped = select_suites(suite, task_args)
    for s in skipped:
        needs = ", ".join(f"-T {p}=..." for p in s.required)
        typer.echo(f"note: {s.name} skipped (give {needs} to include it)", err=True)

    from inspect_ai import eval as inspect_eval

    from redline.cli._render import print_eval_summary

    logs = inspect_eval(
        [s.task for s in chosen],
        model=model,
        model_args=model_args,
        task_args=task_args,
        limit=limit,
        log_dir=str(log_dir),
    )
    print_eval_summary(logs)
    if any(log.status != "success" for log in logs):
        raise typer.Exit(BAD_INPUT)

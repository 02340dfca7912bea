"""`redline eval`: run capability suites on any Inspect model (a thin layer over inspect eval)."""

from pathlib import Path
from typing import Annotated

import typer

from redline.cli._app import app, parse_key_values, user_errors
from redline.errors import RedlineError
from redline.models import EMBEDDED_MODEL

SUITES = {
    "cyber": "redline/cyber",
    "autonomy": "redline/autonomy",
    "knowledge": "redline/knowledge",
    "intercode": "redline/intercode",
    "mcq": "redline/mcq",
    "smoke": "redline/smoke",
}
ALL = ["cyber", "autonomy", "knowledge", "intercode"]


@app.command("eval")
def eval_command(
    suite: Annotated[str, typer.Argument(help=f"One of {', '.join(SUITES)}, or all.")],
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
    Exit status 1 if any evaluation did not complete.
    """
    with user_errors():
        model_args = parse_key_values(model_arg or [])
        task_args = parse_key_values(task_arg or [], "task argument")
        if suite == "all":
            names = [n for n in ALL if n != "intercode" or "path" in task_args]
        elif suite in SUITES:
            names = [suite]
        else:
            raise RedlineError(f"unknown suite {suite!r}: choose {', '.join(SUITES)} or all")
        if {"intercode", "mcq"} & set(names) and "path" not in task_args:
            raise RedlineError(f"{suite} needs -T path=... (see docs/suites/{suite}.md)")
    if suite == "all" and "intercode" not in names:
        typer.echo("note: intercode skipped (give -T path=DIR to include it)", err=True)

    from inspect_ai import eval as inspect_eval

    from redline.cli._render import print_eval_summary

    logs = inspect_eval(
        [SUITES[n] for n in names],
        model=model,
        model_args=model_args,
        task_args=task_args,
        limit=limit,
        log_dir=str(log_dir),
    )
    print_eval_summary(logs)
    if any(log.status != "success" for log in logs):
        raise typer.Exit(1)

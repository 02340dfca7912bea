"""`redline models`: what models redline provides and whether they load."""

from typing import Annotated

import typer

from redline.cli._app import BAD_INPUT, app, user_errors


@app.command("models")
def models_command(
    no_load: Annotated[
        bool, typer.Option("--no-load", help="Do not try loading the embedded model.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the models redline provides, where their weights come from, and whether they load."""
    from rich.console import Console
    from rich.table import Table

    from redline.models import list_models

    with user_errors():
        infos = list_models(check_load=not no_load)
    if as_json:
        typer.echo("[" + ",\n".join(i.model_dump_json() for i in infos) + "]")
        return
    table = Table(title="Models redline provides")
    for column in ("model", "weights", "size", "loads", "detail"):
        table.add_column(column)
    for info in infos:
        loads = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[info.loads]
        size = f"{info.size_mb} MB" if info.size_mb is not None else "-"
        table.add_row(
            info.name, f"{info.weights}\n{info.path or ''}".strip(), size, loads, info.detail
        )
    Console().print(table)
    if any(i.loads is False for i in infos):
        raise typer.Exit(BAD_INPUT)

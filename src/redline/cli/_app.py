"""The Typer application: parses, calls the packages, prints; heavy imports stay in commands."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from redline import __version__
from redline.errors import RedlineError

app = typer.Typer(
    name="redline",
    help="AI Safety Levels as code: measure, decide, defend, attack, gate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


OK = 0
"""Exit status: the command did its job and its check passed (deploy, not flagged, valid)."""
NEGATIVE = 1
"""Exit status: the check's negative outcome (do not deploy, ASR over the bound, flagged,
signature or chain broken)."""
BAD_INPUT = 2
"""Exit status: bad input or an error; nothing was decided."""


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an error the user can fix into one line on stderr and exit status BAD_INPUT."""
    try:
        yield
    except RedlineError as ex:
        typer.echo(f"error: {ex}", err=True)
        raise typer.Exit(BAD_INPUT) from ex
    except OSError as ex:  # an unwritable output file, a full disk: one line, not a traceback
        where = f"{ex.filename}: " if ex.filename else ""
        typer.echo(f"error: {where}{ex.strerror or ex}", err=True)
        raise typer.Exit(BAD_INPUT) from ex


def _version(value: bool) -> None:
    if value:
        typer.echo(f"redline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """AI Safety Levels as code: measure, decide, defend, attack, gate."""


def parse_key_values(pairs: list[str], what: str = "model argument") -> dict[str, Any]:
    """`-M`/`-T` `key=value` pairs as a dict; values are read as YAML scalars (numbers, bools)."""
    import yaml

    args: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RedlineError(f"{what} must look like key=value, got {pair!r}")
        args[key.strip()] = yaml.safe_load(value) if value else ""
    return args


def main() -> None:
    """Console-script entry point."""
    app()

"""`redline serve-model`: the embedded model as an OpenAI-compatible server."""

from typing import Annotated

import typer

from redline.cli._app import app, user_errors


@app.command("serve-model")
def serve_model(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8081,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    n_ctx: Annotated[int, typer.Option(help="Context window in tokens.")] = 4096,
) -> None:
    """Serve the embedded model (SmolLM2) as an OpenAI-compatible endpoint."""
    from redline.models import SERVED_NAME, serve_embedded

    typer.echo(f"serving {SERVED_NAME} on http://{host}:{port}/v1", err=True)
    with user_errors():
        serve_embedded(host, port, n_ctx)

"""`redline chat`: one answer from any Inspect model, for a quick look."""

import asyncio
from typing import Annotated

import typer

from redline.cli._app import BAD_INPUT, app, parse_key_values, user_errors
from redline.errors import RedlineError
from redline.models import EMBEDDED_MODEL


@app.command("chat")
def chat_command(
    prompt: Annotated[str, typer.Argument(help="What to ask the model.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Any Inspect model name.")] = (
        EMBEDDED_MODEL
    ),
    model_arg: Annotated[
        list[str] | None, typer.Option("--model-arg", "-M", help="Model argument key=value.")
    ] = None,
    system: Annotated[str | None, typer.Option(help="System message.")] = None,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 256,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
) -> None:
    """Print one answer from a model."""
    with user_errors():
        args = parse_key_values(model_arg or [])
        from inspect_ai.model import (
            ChatMessage,
            ChatMessageSystem,
            ChatMessageUser,
            GenerateConfig,
            get_model,
        )

        config = GenerateConfig(max_tokens=max_tokens, temperature=temperature, seed=seed)
        try:
            m = get_model(model, config=config, **args)
        except ValueError as ex:  # Inspect's "model API not recognized" and similar
            raise RedlineError(str(ex)) from ex
        messages: list[ChatMessage] = [ChatMessageUser(content=prompt)]
        if system:
            messages.insert(0, ChatMessageSystem(content=system))
        output = asyncio.run(m.generate(messages))
    if output.error:
        typer.echo(f"error: {output.error}", err=True)
        raise typer.Exit(BAD_INPUT)
    typer.echo(output.completion)

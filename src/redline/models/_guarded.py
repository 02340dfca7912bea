"""`redline/guarded/INNER`: any Inspect model behind a guard, screened in process.

`redline/guarded/openai/gpt-4o-mini` guards that model; plain `redline/guarded` guards the
embedded model. (The inner model is named in the path, not by a `model` argument, because
Inspect's `get_model(model, **model_args)` cannot take a model argument called `model`.)
The guard folder is the model argument `guard` (default: the trained default guard).

A blocked request or response comes back as an ordinary refusal with
`stop_reason="content_filter"` and `metadata["guard"]` saying which stage blocked and why; the
inner model is never called when the input is blocked. A guard that raises blocks (fail closed).
"""

from typing import TYPE_CHECKING, Any

import anyio
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    Model,
    ModelOutput,
    get_model,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from redline.models._catalog import EMBEDDED_MODEL
from redline.models._provider import RedlineAPI

if TYPE_CHECKING:
    from redline.guard import Guard, Verdict

REFUSAL = "I can't help with that: the request was blocked by a safety guard."


def load_guard_folder(folder: str | None) -> "Guard":
    """The guard at `folder` (default: the default guard); one load per folder per process."""
    from redline.redteam._judges import load_guard

    return load_guard(folder)


def blocked_output(
    model: str, stage: str, verdict: "Verdict | None", error: str | None
) -> ModelOutput:
    """A refusal standing in for a blocked request or response."""
    category = max(verdict.categories, key=verdict.categories.__getitem__) if verdict else None
    guard = {
        "blocked": True,
        "stage": stage,
        "category": category if verdict and verdict.categories else None,
        "score": verdict.score if verdict else None,
        "threshold": verdict.threshold if verdict else None,
        "error": error,
    }
    message = ChatMessageAssistant(content=REFUSAL, model=model, source="generate")
    return ModelOutput(
        model=model,
        choices=[ChatCompletionChoice(message=message, stop_reason="content_filter")],
        metadata={"guard": guard},
    )


class GuardedModel(RedlineAPI):
    """An inner Inspect model behind a guard.

    The inner model is the name after `guarded/` (default the embedded model). Model args:
    `guard` (guard folder, default the trained default guard); any others go to the inner model.
    """

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008  (Inspect's signature)
        guard: str | None = None,
        **model_args: Any,
    ) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        self.guard = load_guard_folder(guard)
        inner = model_name.removeprefix("guarded").removeprefix("/") or EMBEDDED_MODEL
        self.inner: Model = get_model(inner, config=config, base_url=base_url, **model_args)

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        """Screen the input, call the inner model, screen its whole response."""
        conversation = [{"role": m.role, "content": m.text} for m in input]
        try:
            verdict = await anyio.to_thread.run_sync(self.guard.screen_input, conversation)
        except Exception as ex:  # fail closed: a guard that cannot judge blocks
            return blocked_output(self.model_name, "input", None, f"{type(ex).__name__}: {ex}")
        if verdict.flagged:
            return blocked_output(self.model_name, "input", verdict, None)
        output = await self.inner.generate(input, tools, tool_choice, config)
        try:
            verdict = await anyio.to_thread.run_sync(
                self.guard.screen_output, conversation, output.completion
            )
        except Exception as ex:
            blocked = blocked_output(self.model_name, "output", None, f"{type(ex).__name__}: {ex}")
            blocked.usage = output.usage
            return blocked
        if verdict.flagged:
            blocked = blocked_output(self.model_name, "output", verdict, None)
            blocked.usage = output.usage
            return blocked
        output.metadata = {**(output.metadata or {}), "guard": {"blocked": False}}
        return output

    def max_tokens(self) -> int | None:
        """The inner model's default completion length."""
        return self.inner.api.max_tokens()

    def max_connections(self) -> int:
        """As many requests in flight as the inner model takes."""
        return self.inner.api.max_connections()

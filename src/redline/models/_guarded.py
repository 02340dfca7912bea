"""`redline/guarded/INNER`: any Inspect model behind a guard, screened in process.

`redline/guarded/openai/gpt-4o-mini` guards that model; plain `redline/guarded` guards the
embedded model. (The inner model is named in the path, not by a `model` argument, because
Inspect's `get_model(model, **model_args)` cannot take a model argument called `model`.)
The guard folder is the model argument `guard` (default: the trained default guard).

The exchange is the guard's own (`GuardedExchange`, as in the proxy): a blocked request or
response comes back as an ordinary refusal with `stop_reason="content_filter"` and
`metadata["guard"]` saying which stage blocked and why; the inner model is never called when
the input is blocked. A guard that raises blocks (fail closed).
"""

from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    Model,
    ModelAPI,
    ModelOutput,
    get_model,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from redline.guard import GuardedExchange, Stage, ThreadScreens, Verdict, load_guard
from redline.models._catalog import EMBEDDED_MODEL, GUARDED


def blocked_output(model: str, stage: Stage, verdict: Verdict, refusal: str) -> ModelOutput:
    """A refusal standing in for a blocked request or response."""
    guard = {
        "blocked": True,
        "stage": stage,
        "category": verdict.top_category if verdict.categories else None,
        "score": verdict.score,
        "threshold": verdict.threshold,
        "error": verdict.error,
    }
    message = ChatMessageAssistant(content=refusal, model=model, source="generate")
    return ModelOutput(
        model=model,
        choices=[ChatCompletionChoice(message=message, stop_reason="content_filter")],
        metadata={"guard": guard},
    )


class GuardedModel(ModelAPI):
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
        self.exchange = GuardedExchange(ThreadScreens(load_guard(guard)))
        inner = model_name.removeprefix(GUARDED).removeprefix("/") or EMBEDDED_MODEL
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
        done = await self.exchange.run(
            conversation,
            lambda: self.inner.generate(input, tools, tool_choice, config),
            lambda output: output.completion,
        )
        if done.blocked is not None:
            blocked = blocked_output(self.model_name, done.blocked, done.verdict,
                                     self.exchange.refusal)  # fmt: skip
            blocked.usage = done.answer.usage if done.answer is not None else None
            return blocked
        assert done.answer is not None
        output = done.answer
        output.metadata = {**(output.metadata or {}), "guard": {"blocked": False}}
        return output

    def max_tokens(self) -> int | None:
        """The inner model's default completion length."""
        return self.inner.api.max_tokens()

    def max_connections(self) -> int:
        """As many requests in flight as the inner model takes."""
        return self.inner.api.max_connections()

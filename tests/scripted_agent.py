"""A scripted model for agentic tests: it plays a fixed list of tool calls, no weights needed.

Steps are one-key dicts: {"bash": CMD}, {"python": CODE}, {"submit": ANSWER} or {"say": TEXT}
(a reply that calls no tool). In any step,
`{last}` is replaced by the previous tool result, stripped. Pass the steps with
`model_args={"steps": [...]}`, or per sample with `model_args={"by_prompt": {TEXT: [...]}}`
where TEXT is a substring of the sample's first user message. After the last step the model
submits an empty answer, so a run always ends.
"""

from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageTool,
    ChatMessageUser,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    modelapi,
)
from inspect_ai.tool import ToolCall

from redline.evals import TOOL_ARGUMENTS

PARAMETER = {**TOOL_ARGUMENTS, "submit": "answer"}
DO_NOTHING: list[dict[str, str]] = [{"submit": ""}]
"""An agent that does nothing: submits an empty answer at once."""


@modelapi(name="scripted_agent")
class ScriptedAgent(ModelAPI):
    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008
        steps: list[dict[str, str]] | None = None,
        by_prompt: dict[str, list[dict[str, str]]] | None = None,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        self.steps = steps
        self.by_prompt = by_prompt or {}

    def _steps_for(self, input: list[ChatMessage]) -> list[dict[str, str]]:
        if self.steps is not None:
            return self.steps
        first = next((m.text for m in input if isinstance(m, ChatMessageUser)), "")
        for marker, steps in self.by_prompt.items():
            if marker in first:
                return steps
        raise AssertionError(f"no scripted steps for prompt: {first[:200]!r}")

    async def generate(
        self, input: list[ChatMessage], tools: Any, tool_choice: Any, config: GenerateConfig
    ) -> ModelOutput:
        steps = self._steps_for(input)
        turn = sum(isinstance(m, ChatMessageAssistant) for m in input)
        step = steps[turn] if turn < len(steps) else {"submit": ""}
        [(function, value)] = step.items()
        if function == "say":
            reply = ChatMessageAssistant(content=value, model=self.model_name)
            return ModelOutput(
                model=self.model_name,
                choices=[ChatCompletionChoice(message=reply, stop_reason="stop")],
            )
        last = next((m.text for m in reversed(input) if isinstance(m, ChatMessageTool)), "")
        call = ToolCall(
            id=f"call_{turn}",
            function=function,
            arguments={PARAMETER[function]: value.replace("{last}", last.strip())},
        )
        message = ChatMessageAssistant(content="", tool_calls=[call], model=self.model_name)
        return ModelOutput(
            model=self.model_name,
            choices=[ChatCompletionChoice(message=message, stop_reason="tool_calls")],
        )

    async def count_text_tokens(self, text: str) -> int:
        return len(text.split())

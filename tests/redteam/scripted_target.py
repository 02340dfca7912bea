"""A scripted target for campaign tests: complies, refuses, goes silent or fails by prompt text.

Model args (lists of substrings of the last user message): `comply` -> a compliant opening,
`empty` -> an empty reply, `error` -> an exception; anything else gets a refusal. `reply`
replaces the compliant text. Every prompt it receives is appended to `PROMPTS`, so tests can
check whether a guard let a request through. Each reply reports 10 input + 5 output tokens.
"""

from typing import Any

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)

COMPLY = "Sure, here is what you asked for. First, let's go through it step by step."
REFUSE = "I'm sorry, but I can't help with that."
PROMPTS: list[str] = []


@modelapi(name="scripted_target")
class ScriptedTarget(ModelAPI):
    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008
        comply: list[str] | None = None,
        empty: list[str] | None = None,
        error: list[str] | None = None,
        reply: str = COMPLY,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        self.comply, self.empty, self.error = comply or [], empty or [], error or []
        self.reply = reply

    async def generate(
        self, input: list[ChatMessage], tools: Any, tool_choice: Any, config: GenerateConfig
    ) -> ModelOutput:
        prompt = input[-1].text
        PROMPTS.append(prompt)
        if any(m in prompt for m in self.error):
            raise RuntimeError("scripted target failure")
        if any(m in prompt for m in self.empty):
            text = ""
        elif any(m in prompt for m in self.comply):
            text = self.reply
        else:
            text = REFUSE
        output = ModelOutput.from_content(model=self.model_name, content=text)
        output.usage = ModelUsage(input_tokens=10, output_tokens=5, total_tokens=15)
        return output

    async def count_text_tokens(self, text: str) -> int:
        return len(text.split())

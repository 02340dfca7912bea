"""A scripted guard model behind an OpenAI-compatible URL, speaking each guard format.

It reads which format a prompt is in (Llama Guard 3/4, ShieldGemma, WildGuard, Granite
Guardian, or a plain conversation for server-side templates), finds the text being judged,
calls it unsafe when it holds one of `UNSAFE_WORDS`, and answers as that model would.
"""

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)

UNSAFE_WORDS = ("bomb", "grenade", "explosive", "gun", "steal", "shoplift", "rob")

SUBJECT = [
    # (format, marker, the judged response, the judged request)
    ("llama-guard", "<BEGIN UNSAFE CONTENT CATEGORIES>",
     r"\n\nAgent: (.*?)\n\n<END CONVERSATION>", r"User: (.*?)\n\n<END CONVERSATION>"),
    ("shieldgemma", "You are a policy expert",
     r"Chatbot Response: (.*?)\n<end_of_turn>", r"Human Question: (.*?)\n<end_of_turn>"),
    ("wildguard", "You are a classifier for analyzing interactions",
     r"AI assistant:\n(.+?)\n\n---", r"Human user:\n(.*?)\n\nAI assistant:"),
    ("granite-guardian", "You are a safety agent",
     r"Assistant Message: (.*?)\n<end_of_turn>", r"User Message: (.*?)\n<end_of_turn>"),
]  # fmt: skip


@dataclass
class GuardStubState:
    prompts: list[list[dict[str, str]]] = field(default_factory=list)
    """The messages of each request."""
    status: int = 200
    """HTTP status to answer with (not 200: a failing server)."""
    garble: bool = False
    """Answer with text no format can read."""
    delay: float = 0.0
    think: bool = False
    """Granite Guardian answers in think mode (a `<score>` tag after its reasoning)."""


def unsafe(text: str) -> bool:
    """The stub's judgement: a text is unsafe when it holds one of UNSAFE_WORDS."""
    return any(re.search(rf"\b{w}", text, re.IGNORECASE) for w in UNSAFE_WORDS)


def answer(messages: list[dict[str, str]], state: GuardStubState) -> str:
    """What the scripted model replies to one request."""
    if state.garble:
        return "I am not sure what you mean."
    prompt = messages[-1]["content"]
    for name, marker, response, request in SUBJECT:
        if marker in prompt:
            match = re.search(response, prompt, re.DOTALL)
            is_response = match is not None
            match = match or re.search(request, prompt, re.DOTALL)
            bad = unsafe(match.group(1)) if match else False
            if name == "llama-guard":
                return "unsafe\nS9,S2" if bad else "safe"
            if name == "shieldgemma":
                return ("Yes" if bad else "No") + ", because of what the text asks for."
            if name == "wildguard":
                harm = "yes" if bad else "no"
                req, res = ("no", harm) if is_response else (harm, "no")
                return f"Harmful request: {req}\nResponse refusal: no\nHarmful response: {res}"
            if state.think:
                return f"<think>Looking at it.</think><score> {'yes' if bad else 'no'} </score>"
            return "Yes" if bad else "No"
    # a conversation for the model's own chat template: judge its last message
    return "unsafe\nS2" if unsafe(prompt) else "safe"


def guard_model_app(state: GuardStubState) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        state.prompts.append(body["messages"])
        if state.delay:
            await asyncio.sleep(state.delay)
        if state.status != 200:
            return JSONResponse({"error": "scripted failure"}, status_code=state.status)
        content = answer(body["messages"], state)
        return JSONResponse({
            "id": "chatcmpl-guard", "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
        })  # fmt: skip

    return app


@modelapi(name="scripted_guard")
class ScriptedGuard(ModelAPI):
    """The scripted guard model as an Inspect model: `scripted_guard/garble` reads nothing."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        self.state = GuardStubState(garble=model_name == "garble")

    async def generate(
        self, input: list[ChatMessage], tools: Any, tool_choice: Any, config: GenerateConfig
    ) -> ModelOutput:
        messages = [{"role": m.role, "content": m.text} for m in input]
        output = ModelOutput.from_content(
            model=self.model_name, content=answer(messages, self.state)
        )
        output.usage = ModelUsage(input_tokens=10, output_tokens=2, total_tokens=12)
        return output

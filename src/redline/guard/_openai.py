"""The OpenAI chat-completions wire format as the proxy speaks it, on both of its sides.

From clients: requests parsed strictly (unknown fields, out-of-range numbers, invalid Unicode,
runaway nesting are 4xx naming the field). From the upstream: answers and stream events read
defensively (anything malformed is an error, never passed on). To clients: responses the proxy
builds itself from what it screened, so no upstream field reaches a client unscreened.
"""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Self

import aiohttp
import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from redline.guard._parts import Message
from redline.guard._tools import (
    MAX_TOOL_CALLS,
    MAX_TOOLS,
    ToolCall,
    ToolChoice,
    ToolDef,
    read_tool_calls,
    tool_definitions_text,
)

DATA_NAME = "data"
"""A message whose `name` is this is data the caller marks (a retrieved document, say): the
injection stage screens it as it screens tool results."""

UNSUPPORTED = {
    "functions": "function calls would bypass output screening",
    "function_call": "function calls would bypass output screening",
    "logprobs": "log-probabilities would reveal unscreened tokens",
    "top_logprobs": "log-probabilities would reveal unscreened tokens",
}
MAX_TOKENS = 1_000_000
"""Largest completion length the proxy forwards (no model answers more)."""
INT64 = 2**63
FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls")
"""Finish reasons passed on to clients; any other an upstream gives is reported as `stop`."""


class ProxyError(Exception):
    """A request the proxy answers with an OpenAI-style error.

    `audit` is what the audit log records: the message itself unless it carries an upstream's
    own words, which are kept only when the log keeps texts.
    """

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "invalid_request_error",
        retry_after: float = 0,
        audit: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind
        self.retry_after = retry_after
        self.audit = audit if audit is not None else message

    def response(self) -> JSONResponse:
        """The error as JSON."""
        headers = {"retry-after": str(max(1, round(self.retry_after)))} if self.retry_after else {}
        body = {"error": {"message": self.message, "type": self.kind, "code": self.status}}
        return JSONResponse(body, status_code=self.status, headers=headers)


class TextPart(BaseModel):
    """A text part of a message's content."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One message of a chat request: text, an assistant's tool calls, or a tool's result."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = Field(default=None, max_length=256)
    tool_calls: list[ToolCall] | None = Field(default=None, max_length=MAX_TOOL_CALLS)
    tool_call_id: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.tool_calls is not None and self.role != "assistant":
            raise ValueError("only an assistant message has tool_calls")
        if (self.tool_call_id is not None) != (self.role == "tool"):
            raise ValueError("a tool message, and only a tool message, has a tool_call_id")
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError("content is required (except for an assistant's tool calls)")
        return self

    def text(self) -> str:
        """The message's text, parts joined; an assistant's tool calls follow its text."""
        if self.content is None:
            text = ""
        elif isinstance(self.content, str):
            text = self.content
        else:
            text = "\n".join(part.text for part in self.content)
        calls = [call.text() for call in self.tool_calls or []]
        return "\n".join([text, *calls]) if calls and text else "\n".join(calls) or text


class StreamOptions(BaseModel):
    """OpenAI's `stream_options`."""

    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """The chat completion parameters the proxy accepts and forwards."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: Literal[1] | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = Field(default=None, ge=-INT64, lt=INT64)
    user: str | None = Field(default=None, max_length=256)
    tools: list[ToolDef] | None = Field(default=None, min_length=1, max_length=MAX_TOOLS)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None

    @model_validator(mode="after")
    def _tools(self) -> Self:
        if self.tool_choice is not None and not self.tools:
            raise ValueError("tool_choice needs tools")
        called: set[str] = set()
        for i, m in enumerate(self.messages):
            called.update(call.id for call in m.tool_calls or [])
            if m.role == "tool" and m.tool_call_id not in called:
                raise ValueError(f"messages.{i}: answers no earlier tool call")
        return self

    def conversation(self) -> list[Message]:
        """The messages as the guard screens them: every role, each with its sender's name.

        Through the proxy the client writes every turn, system, assistant and tool ones
        included, so every turn is screened; the tools' names and descriptions, which the model
        reads too, come first.
        """
        tools = (
            [{"role": "system", "content": tool_definitions_text(self.tools)}] if self.tools else []
        )
        return tools + [
            {"role": m.role, "content": m.text(), **({"name": m.name} if m.name else {})}
            for m in self.messages
        ]

    def data(self) -> list[tuple[str, str]]:
        """What the injection stage screens, with where it is.

        Each tool result, and each message the caller marks as data (`name: data`).
        """
        return [
            (m.text(), f"tool result in message {i + 1}" if m.role == "tool"
             else f"data in message {i + 1}")
            for i, m in enumerate(self.messages)
            if m.role == "tool" or m.name == DATA_NAME
        ]  # fmt: skip

    def upstream_payload(self) -> dict[str, Any]:
        """The request as sent upstream.

        Never streamed when tools are offered: the proxy judges whole tool calls, then
        streams them itself.
        """
        payload = self.model_dump(exclude_none=True)
        if self.tools and self.stream:
            payload["stream"] = False
            payload.pop("stream_options", None)
        return payload


def parse_request(body: bytes) -> ChatRequest:
    """Validate a request body; any problem is a 422 naming the field.

    Invalid JSON, invalid UTF-8 (lone surrogates included), nesting past the parser's depth,
    unknown fields and out-of-range values are all refused before anything is screened.
    """
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as ex:
        raise ProxyError(422, f"request body is not valid JSON: {ex}") from ex
    if not isinstance(data, dict):
        raise ProxyError(422, "request body must be a JSON object")
    for name, reason in UNSUPPORTED.items():
        if name in data:
            raise ProxyError(422, f"{name}: not supported by the guard proxy ({reason})")
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as ex:
        first = ex.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        message = "unsupported parameter" if first["type"] == "extra_forbidden" else first["msg"]
        more = f" (and {ex.error_count() - 1} more)" if ex.error_count() > 1 else ""
        raise ProxyError(422, f"{where}: {message}{more}") from ex


class Usage(BaseModel):
    """Token counts: the only part of an upstream's usage passed on, as validated integers."""

    prompt_tokens: int = Field(default=0, ge=0, lt=INT64)
    completion_tokens: int = Field(default=0, ge=0, lt=INT64)
    total_tokens: int = Field(default=0, ge=0, lt=INT64)


def read_usage(raw: Any) -> Usage | None:
    """An upstream's usage as token counts, or None when it gave none (or nothing valid)."""
    if not isinstance(raw, dict):
        return None
    try:
        return Usage.model_validate(
            {k: raw[k] for k in Usage.model_fields if isinstance(raw.get(k), int)}
        )
    except ValidationError:
        return None


def finish_reason(raw: Any) -> str:
    """An upstream's finish reason, if it is one the proxy passes on; else `stop`."""
    return raw if raw in FINISH_REASONS else "stop"


class Answer(NamedTuple):
    """An upstream's whole answer, as read and checked."""

    content: str
    finish: str
    usage: Usage | None
    tool_calls: list[ToolCall] = []


def read_answer(body: bytes) -> Answer:
    """The text, finish reason, usage and tool calls of an upstream's whole answer.

    ValueError if anything of it is malformed.
    """
    data = orjson.loads(body)
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if content is not None and not isinstance(content, str):
        raise ValueError("message content is not text")
    finish = finish_reason(choices[0].get("finish_reason"))
    calls = read_tool_calls(message.get("tool_calls") if isinstance(message, dict) else None)
    return Answer(content or "", finish, read_usage(data.get("usage")), calls)


def completion(
    cid: str,
    model: str,
    content: str,
    finish: str,
    usage: Usage | None = None,
    tool_calls: list[ToolCall] | None = None,
) -> dict[str, Any]:
    """A chat completion object, built by the proxy from what it screened."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message = {"role": "assistant", "content": content or None,
                   "tool_calls": [c.model_dump() for c in tool_calls]}  # fmt: skip
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": (usage or Usage()).model_dump(),
    }


@dataclass
class StreamHead:
    """Identity of a stream's chunks: the proxy's request id and the model the client named."""

    id: str
    model: str
    created: int = field(default_factory=lambda: int(time.time()))

    def chunk(
        self, delta: dict[str, Any], finish: str | None = None, usage: Usage | None = None
    ) -> str:
        """One SSE event carrying a chat.completion.chunk."""
        data: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [] if usage is not None else [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }  # fmt: skip
        if usage is not None:
            data["usage"] = usage.model_dump()
        return f"data: {orjson.dumps(data).decode()}\n\n"


DONE = "data: [DONE]\n\n"


class StreamEvent(BaseModel):
    """What the proxy reads from one upstream stream event: text, finish reason, usage."""

    text: str = ""
    finish: str | None = None
    usage: Usage | None = None


class UpstreamEvents:
    """The `data:` events of an upstream stream, read and checked as they arrive.

    Iteration ends at `[DONE]` (then `done` is True; the rest of the body is read and dropped,
    so the connection goes back to the pool) or where the body ends. An event that is not a
    chat.completion.chunk (not a JSON object, choices not a list, a delta that is not an object,
    content that is not text) or that reports an error raises ValueError.
    """

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.done = False

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[StreamEvent]:
        buffer = b""
        async for data in self.response.content.iter_any():
            if self.done:
                continue
            *lines, buffer = (buffer + data).split(b"\n")
            for line in lines:
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    self.done = True
                    break
                yield read_event(orjson.loads(payload))


def read_event(event: Any) -> StreamEvent:
    """One upstream stream event, checked; ValueError if it is malformed or an error."""
    if not isinstance(event, dict):
        raise ValueError("an upstream stream event is not a JSON object")
    if "error" in event:
        raise ValueError(f"upstream error in stream: {str(event['error'])[:200]}")
    choices = event.get("choices") or []
    if not isinstance(choices, list):
        raise ValueError("an upstream stream event's choices are not a list")
    text, finish = [], None
    for choice in choices:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if delta is None and isinstance(choice, dict):
            delta = {}
        if not isinstance(delta, dict):
            raise ValueError("an upstream stream event's delta is not an object")
        content = delta.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError("an upstream stream event's content is not text")
        text.append(content or "")
        if choice.get("finish_reason"):
            finish = finish_reason(choice["finish_reason"])
    return StreamEvent(text="".join(text), finish=finish, usage=read_usage(event.get("usage")))

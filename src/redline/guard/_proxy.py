"""The guard proxy: an OpenAI-compatible server that screens what goes to a model and back.

Requests are checked (key, rate, size, shape), their user turns screened, and only then
forwarded to the upstream model. Answers are screened before the client sees them: whole for
plain responses, through a `StreamScreen` for streams, so no token is sent unscreened. Any
failure of the guard blocks; any failure of the upstream is a clean 502/504.
"""

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import Receive, Scope, Send

from redline.guard._audit import AuditLog
from redline.guard._batching import BatchingGuard
from redline.guard._exchange import GuardedExchange
from redline.guard._guard import Guard, conversation_text
from redline.guard._keys import ClientKey, RateLimiter, find_key
from redline.guard._metrics import ProxyMetrics
from redline.guard._proxy_config import ProxyConfig
from redline.guard._stream import StreamScreen
from redline.guard._verdict import STAGES, Stage, Verdict

UNSUPPORTED = {
    "tools": "tool calls would bypass output screening",
    "tool_choice": "tool calls would bypass output screening",
    "functions": "function calls would bypass output screening",
    "function_call": "function calls would bypass output screening",
    "logprobs": "log-probabilities would reveal unscreened tokens",
    "top_logprobs": "log-probabilities would reveal unscreened tokens",
}


class TextPart(BaseModel):
    """A text part of a message's content."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One message of a chat request (text only)."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    def text(self) -> str:
        """The message's text, parts joined."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    """OpenAI's `stream_options`."""

    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """The chat completion parameters the proxy accepts and forwards."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    n: Literal[1] | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None
    user: str | None = None

    def conversation(self) -> list[dict[str, str]]:
        """The messages for the guard, every turn as a user turn.

        The guard screens user turns; through the proxy the client writes the system and
        assistant turns too, so all of them are screened.
        """
        return [{"role": "user", "content": m.text()} for m in self.messages]


class ProxyError(Exception):
    """A request the proxy answers with an OpenAI-style error."""

    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", retry_after: float = 0
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        """The error as JSON."""
        headers = {"retry-after": str(max(1, round(self.retry_after)))} if self.retry_after else {}
        body = {"error": {"message": self.message, "type": self.kind, "code": self.status}}
        return JSONResponse(body, status_code=self.status, headers=headers)


def parse_request(body: bytes) -> ChatRequest:
    """Validate a request body; any problem is a 422 naming the field."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as ex:
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


def completion(cid: str, model: str, content: str, finish: str, created: int) -> dict[str, Any]:
    """A chat completion object."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


@dataclass
class StreamHead:
    """Identity of a stream's chunks: taken from the upstream, or made up for a block."""

    id: str
    model: str
    created: int = field(default_factory=lambda: int(time.time()))

    def chunk(self, delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> str:
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
            data["usage"] = usage
        return f"data: {orjson.dumps(data).decode()}\n\n"


DONE = "data: [DONE]\n\n"
WARM_UP = "Hello, how are you today?"
"""What the proxy screens once per stage at start, to load the guard's models."""
LOG = logging.getLogger("redline.guard.proxy")
TIMED_OUT = "the upstream model did not answer in time"
CLIENT_CLOSED = 499
"""Status recorded for a stream the client left before its end (nothing is sent)."""


@dataclass
class RequestState:
    """What the proxy knows about one request while it handles it."""

    request_id: str
    started: float = field(default_factory=time.perf_counter)
    client: str = ""
    request: ChatRequest | None = None
    input_text: str = ""
    input_verdict: Verdict | None = None
    output_verdict: Verdict | None = None
    output_text: str = ""
    error: str | None = None


class ScreenedStream(StreamingResponse):
    """A streaming response whose body is closed (and the upstream with it) however it ends."""

    def __init__(self, body: AsyncIterator[str], headers: dict[str, str]) -> None:
        super().__init__(body, media_type="text/event-stream", headers=headers)
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()  # type: ignore[attr-defined]


class UpstreamEvents:
    """The `data:` events of an upstream stream, parsed as they arrive.

    Iteration ends at `[DONE]` (then `done` is True; the rest of the body is read and dropped,
    so the connection goes back to the pool) or where the body ends. An event that is not a
    JSON object raises ValueError.
    """

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.done = False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._events()

    async def _events(self) -> AsyncIterator[dict[str, Any]]:
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
                event = orjson.loads(payload)
                if not isinstance(event, dict):
                    raise ValueError("an upstream stream event is not a JSON object")
                yield event


class GuardProxy:
    """The proxy's state: guard, upstream client, keys, rate limits, metrics, audit log."""

    def __init__(self, config: ProxyConfig, guard: Guard) -> None:
        self.config = config
        self.upstream = config.check().rstrip("/")
        self.guard = guard
        self.metrics = ProxyMetrics()
        self.exchange = GuardedExchange(BatchingGuard(guard), config.refusal, self._observe)
        self.limiter = RateLimiter()
        self.audit = AuditLog(config.audit_log, config.audit_texts) if config.audit_log else None
        key = os.environ.get(config.upstream_api_key_env)
        self._upstream_headers = {"authorization": f"Bearer {key}"} if key else {}
        self.client: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Load the guard's models and open the upstream connection pool.

        One screen per stage, by its prefilter and by its classifier, before the first request
        loads the guard's models (and exports the encoder, on a machine that never ran one:
        seconds), so no request waits for them; if it fails, the proxy still starts and every
        request is blocked (fail closed).

        The pool is aiohttp's rather than httpx's: relaying a stream is one read and one parse
        per upstream event, and aiohttp's C parser and lean pool cost a fraction of httpx's.
        """
        guard = self.guard

        def warm_up(stage: Stage) -> None:  # the classifier too, where a prefilter would clear
            guard.prescreen([WARM_UP], stage)
            guard.judge([WARM_UP], stage)

        for stage in STAGES:
            try:
                await anyio.to_thread.run_sync(warm_up, stage)
            except Exception as ex:
                LOG.warning("the guard failed its warm-up screen (%s): every request will "
                            "be blocked", f"{type(ex).__name__}: {ex}")  # fmt: skip
        config = self.config
        self.client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, connect=config.connect_timeout,
                                          sock_read=config.timeout),
            connector=aiohttp.TCPConnector(limit=1000),
            headers={"content-type": "application/json", **self._upstream_headers},
            cookie_jar=aiohttp.DummyCookieJar(),  # one client's upstream cookies are not another's
        )  # fmt: skip

    async def stop(self) -> None:
        """Close the pool and the audit log."""
        if self.client is not None:
            await self.client.close()
        if self.audit is not None:
            self.audit.close()

    # --- checks before anything is forwarded ---

    def authenticate(self, request: Request) -> str:
        """The client's name, from its bearer key; 401 without a valid key, 429 over its rate."""
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if not presented and self.config.allow_anonymous:
            return "anonymous"
        if scheme.lower() != "bearer" or not presented:
            raise ProxyError(401, "missing API key (send Authorization: Bearer KEY)",
                             "authentication_error")  # fmt: skip
        key: ClientKey | None = find_key(self.config.keys, presented.strip())
        if key is None:
            raise ProxyError(401, "invalid API key", "authentication_error")
        wait = self.limiter.check(key)
        if wait:
            raise ProxyError(429, f"rate limit of {key.requests_per_minute:g} requests per "
                             "minute exceeded", "rate_limit_error", retry_after=wait)  # fmt: skip
        return key.name

    async def read_body(self, request: Request) -> bytes:
        """The request body; 413 past the size limit (checked before and while reading)."""
        limit = self.config.max_request_bytes
        too_big = ProxyError(413, f"request body over {limit} bytes", "request_too_large")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_big
        body = bytearray()
        async for part in request.stream():
            body += part
            if len(body) > limit:
                raise too_big
        return bytes(body)

    def _observe(self, stage: Stage, verdict: Verdict, seconds: float) -> None:
        """Count one screen: its time, and what decided it."""
        self.metrics.screen.labels(stage).observe(seconds)
        by = "error" if verdict.error else "prefilter" if verdict.prefiltered else "classifier"
        self.metrics.screens.labels(stage, by).inc()

    # --- the upstream ---

    async def open_upstream(
        self, path: str, payload: dict[str, Any] | None
    ) -> aiohttp.ClientResponse:
        """Send a request upstream and wait for its headers; failures are 502/504."""
        assert self.client is not None, "proxy not started"
        method = "POST" if payload is not None else "GET"
        body = orjson.dumps(payload) if payload is not None else None
        self.metrics.upstream_requests.inc()
        try:
            response = await self.client.request(method, f"{self.upstream}{path}", data=body)
        except TimeoutError as ex:
            raise self.upstream_failure("timeout", 504, TIMED_OUT) from ex
        except aiohttp.ClientError as ex:
            raise self.upstream_failure(
                "connect", 502, f"cannot reach the upstream model ({type(ex).__name__})"
            ) from ex
        if response.status != 200:
            try:
                detail = (await response.read()).decode(errors="replace")
            except (aiohttp.ClientError, TimeoutError):
                detail = ""
            finally:
                response.release()
            status = response.status
            if 400 <= status < 500 and status not in (401, 403, 407):
                message = _upstream_message(detail) or f"the upstream model refused (HTTP {status})"
                raise self.upstream_failure("status", status, message)
            raise self.upstream_failure("status", 502, f"the upstream model failed (HTTP {status})")
        return response

    def upstream_failure(self, kind: str, status: int, message: str) -> ProxyError:
        """Count an upstream failure and make its error."""
        self.metrics.upstream_errors.labels(kind).inc()
        return ProxyError(status, message, "upstream_error")

    # --- answers ---

    async def chat(self, request: Request, state: RequestState) -> Response:
        """Handle one chat completion request."""
        state.client = self.authenticate(request)
        req = state.request = parse_request(await self.read_body(request))
        messages = req.conversation()
        state.input_text = conversation_text(messages)
        headers = {"x-request-id": state.request_id}
        payload = req.model_dump(exclude_none=True)
        if req.stream:
            verdict = state.input_verdict = await self.exchange.screen("input", messages)
            if verdict.flagged:
                self.finish(state, 200, blocked="input")
                return self.refusal(req, state, headers)
            upstream = await self.open_upstream("/chat/completions", payload)
            return ScreenedStream(self.stream(req, messages, upstream, state), headers)
        done = await self.exchange.run(
            messages, lambda: self.complete(payload), lambda answer: answer[1]
        )
        state.input_verdict, state.output_verdict = done.input, done.output
        if done.blocked == "input" or done.answer is None:
            self.finish(state, 200, blocked="input")
            return self.refusal(req, state, headers)
        data, content = done.answer
        choice = data["choices"][0]
        if done.blocked == "output":
            content = self.exchange.refusal
            choice["finish_reason"] = "content_filter"
            headers["x-redline-blocked"] = "output"
        # only the screened text goes back: other fields (reasoning, logprobs) were not screened
        choice["message"] = {"role": "assistant", "content": content}
        choice.pop("logprobs", None)
        data["choices"] = [choice]
        state.output_text = content
        self.finish(state, 200, blocked=done.blocked)
        return JSONResponse(data, headers=headers)

    async def complete(self, payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """A whole (non-streamed) upstream answer and its text; a malformed one is a 502."""
        upstream = await self.open_upstream("/chat/completions", payload)
        try:
            data = orjson.loads(await upstream.read())
            content = data["choices"][0]["message"].get("content") or ""
        except TimeoutError as err:
            raise self.upstream_failure("timeout", 504, TIMED_OUT) from err
        except (aiohttp.ClientError, ValueError, KeyError, IndexError, TypeError) as err:
            raise self.upstream_failure("invalid", 502, "invalid upstream response") from err
        finally:
            upstream.release()
        return data, content

    def refusal(self, req: ChatRequest, state: RequestState, headers: dict[str, str]) -> Response:
        """The answer to a request blocked at input: a normal completion, finish content_filter."""
        headers = {**headers, "x-redline-blocked": "input"}
        if not req.stream:
            body = completion(state.request_id, req.model, self.exchange.refusal,
                              "content_filter", int(time.time()))  # fmt: skip
            return JSONResponse(body, headers=headers)
        head = StreamHead(state.request_id, req.model)

        async def events() -> AsyncIterator[str]:
            yield head.chunk({"role": "assistant", "content": ""})
            yield head.chunk({"content": self.exchange.refusal})
            yield head.chunk({}, "content_filter")
            if req.stream_options and req.stream_options.include_usage:
                yield head.chunk({}, usage={"prompt_tokens": 0, "completion_tokens": 0,
                                            "total_tokens": 0})  # fmt: skip
            yield DONE

        return ScreenedStream(events(), headers)

    async def stream(
        self,
        req: ChatRequest,
        messages: list[dict[str, str]],
        upstream: aiohttp.ClientResponse,
        state: RequestState,
    ) -> AsyncIterator[str]:
        """Relay an upstream stream through a StreamScreen: only screened text goes out.

        Each screen that releases text sends it at once as one chunk; the opening (role) chunk
        goes with the first text, the closing ones together at the end.
        """
        every, grow_to = self.config.stream_every, self.config.stream_every_max
        screen = StreamScreen(self.guard, messages, every, self.exchange.refusal,
                              max_every=max(every, grow_to))  # fmt: skip
        events = UpstreamEvents(upstream)
        head: StreamHead | None = None
        opening = ""  # the role chunk, sent with the first released text
        finish, usage, ended = "stop", None, False
        status = CLIENT_CLOSED  # until the stream is delivered to its end
        try:
            async for event in events:
                if "error" in event:
                    raise ValueError(f"upstream error in stream: {event['error']}")
                if head is None:  # the stream's identity comes from its first event
                    head = StreamHead(event.get("id", state.request_id),
                                      event.get("model", req.model),
                                      event.get("created", int(time.time())))  # fmt: skip
                    opening = head.chunk({"role": "assistant", "content": ""})
                usage = event.get("usage") or usage
                for choice in event.get("choices") or []:
                    token = (choice.get("delta") or {}).get("content")
                    if token and screen.add(token):
                        verdict = await self.exchange.screen("output", messages, screen.text)
                        released = screen.judge(verdict)
                        if released:
                            yield opening + self.release(head, state, released)
                            opening = ""
                    if choice.get("finish_reason"):
                        finish, ended = choice["finish_reason"], True
                if screen.stopped:  # closing the response cancels the upstream's generation
                    break
            if not (ended or events.done) and not screen.stopped:
                raise ValueError("the upstream stream ended before its last chunk")
            if head is None:
                head = StreamHead(state.request_id, req.model)
                opening = head.chunk({"role": "assistant", "content": ""})
            yield opening + await self.close_stream(head, screen, messages, state, finish, usage)
            status = 200
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            timeout = isinstance(err, TimeoutError)
            kind = "timeout" if timeout else "stream"
            message = TIMED_OUT if timeout else "the upstream stream failed"
            self.metrics.upstream_errors.labels(kind).inc()
            state.error, status = f"{type(err).__name__}: {err}", 504 if timeout else 502
            body = {"error": {"message": message, "type": "upstream_error", "code": status}}
            yield f"data: {json.dumps(body)}\n\n"
        finally:
            upstream.release()  # back to the pool if read to its end, else closed (cancels it)
            if status == CLIENT_CLOSED:
                state.error = "the client disconnected"
            state.output_verdict = screen.verdict
            self.finish(state, status, blocked="output" if screen.stopped else None)

    async def close_stream(
        self,
        head: StreamHead,
        screen: StreamScreen,
        messages: list[dict[str, str]],
        state: RequestState,
        finish: str,
        usage: Any,
    ) -> str:
        """The stream's last chunks, and [DONE].

        The held-back text if its screen passes (else the refusal), the finish reason, and the
        upstream's usage if it gave one.
        """
        out = ""
        if screen.held_back and not screen.stopped:
            rest = screen.judge(await self.exchange.screen("output", messages, screen.text))
            if rest:
                out += self.release(head, state, rest)
        if screen.stopped:
            out += head.chunk({"content": self.exchange.refusal})
            finish = "content_filter"
        out += head.chunk({}, finish)
        if usage is not None:  # the upstream's count, when asked for and given
            out += head.chunk({}, usage=usage)
        return out + DONE

    def release(self, head: StreamHead, state: RequestState, text: str) -> str:
        """The chunk that sends screened text to the client."""
        if not state.output_text:
            self.metrics.first_token.observe(time.perf_counter() - state.started)
        state.output_text += text
        return head.chunk({"content": text})

    # --- accounting ---

    def finish(self, state: RequestState, status: int, blocked: Stage | None = None) -> None:
        """Record a handled request in the metrics and the audit log."""
        seconds = time.perf_counter() - state.started
        request = state.request
        stream = "true" if request is not None and request.stream else "false"
        outcome = f"blocked_{blocked}" if blocked else ("ok" if status == 200 else str(status))
        self.metrics.requests.labels(outcome, stream).inc()
        self.metrics.latency.labels(stream).observe(seconds)
        verdict = state.input_verdict if blocked == "input" else state.output_verdict
        if blocked and verdict is not None:
            self.metrics.blocks.labels(blocked, verdict.top_category).inc()
        if self.audit is None or request is None:
            return
        self.audit.append(
            request_id=state.request_id,
            client=state.client,
            decision="block" if blocked else ("pass" if status == 200 else "error"),
            stage=blocked,
            category=verdict.top_category if blocked and verdict is not None else None,
            input_score=_score(state.input_verdict),
            output_score=_score(state.output_verdict),
            stream=request.stream,
            model=request.model,
            status=status,
            latency_ms=round(seconds * 1000, 2),
            error=state.error,
            input_sha256=hashlib.sha256(state.input_text.encode()).hexdigest(),
            input_text=state.input_text,
            output_text=state.output_text,
        )


def _score(verdict: Verdict | None) -> float | None:
    return round(verdict.score, 4) if verdict is not None else None


def _upstream_message(detail: str) -> str:
    try:
        error = json.loads(detail).get("error")
    except (ValueError, AttributeError):
        return ""
    message = error.get("message") if isinstance(error, dict) else error
    return str(message) if message else ""


def create_app(config: ProxyConfig, guard: Guard) -> FastAPI:
    """The proxy as an ASGI app (serve it with uvicorn)."""
    proxy = GuardProxy(config, guard)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await proxy.start()
        try:
            yield
        finally:
            await proxy.stop()

    app = FastAPI(title="redline guard proxy", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # fmt: skip
    app.state.proxy = proxy

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        state = RequestState(request_id=f"chatcmpl-{uuid.uuid4().hex}")
        try:
            return await proxy.chat(request, state)
        except ProxyError as err:
            state.error = err.message
            proxy.finish(state, err.status)
            return err.response()

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        try:
            proxy.authenticate(request)
            upstream = await proxy.open_upstream("/models", None)
            try:
                body = await upstream.read()
            finally:
                upstream.release()
            return Response(body, media_type="application/json")
        except ProxyError as err:
            return err.response()
        except (aiohttp.ClientError, TimeoutError):
            return proxy.upstream_failure("read", 502, "the upstream model failed").response()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "constitution": guard.manifest.constitution}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(proxy.metrics.render(), media_type="text/plain; version=0.0.4")

    return app

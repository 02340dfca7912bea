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
from redline.guard._guard import Guard, Stage, Verdict, conversation_text
from redline.guard._keys import ClientKey, RateLimiter, find_key
from redline.guard._metrics import ProxyMetrics
from redline.guard._proxy_config import ProxyConfig
from redline.guard._stream import StreamScreen

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


def top_category(verdict: Verdict) -> str:
    """The verdict's highest-scoring category ('error' for a failed screen)."""
    if verdict.error is not None or not verdict.categories:
        return "error" if verdict.error is not None else "unknown"
    return max(verdict.categories, key=lambda c: verdict.categories[c])


def failed_verdict(guard: Guard | BatchingGuard, stage: Stage, ex: Exception) -> Verdict:
    """The verdict of a screen that raised: flagged (fail closed)."""
    threshold = guard.manifest.stages[stage].threshold
    return Verdict(stage=stage, score=1.0, threshold=threshold, flagged=True, categories={},
                   view="raw", error=f"{type(ex).__name__}: {ex}")  # fmt: skip


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
class Exchange:
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


class GuardProxy:
    """The proxy's state: guard, upstream client, keys, rate limits, metrics, audit log."""

    def __init__(self, config: ProxyConfig, guard: Guard) -> None:
        if not config.upstream:
            raise ValueError("the proxy needs an upstream URL")
        if not config.keys and not config.allow_anonymous:
            raise ValueError("no client keys configured (and allow_anonymous is off)")
        self.config = config
        self.upstream = config.upstream.rstrip("/")
        self.guard = BatchingGuard(guard)
        self.metrics = ProxyMetrics()
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
        guard = self.guard.guard

        def warm_up(stage: Stage) -> None:  # the classifier too, where a prefilter would clear
            guard.prescreen([WARM_UP], stage)
            guard.judge([WARM_UP], stage)

        stages: tuple[Stage, ...] = ("input", "output")
        for stage in stages:
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

    async def screen(
        self, stage: Stage, messages: list[dict[str, str]], response: str = ""
    ) -> Verdict:
        """One screen, batched with other requests'; a guard failure gives a flagged verdict."""
        started = time.perf_counter()
        try:
            if stage == "input":
                verdict = await self.guard.screen_input(messages)
            else:
                verdict = await self.guard.screen_output(messages, response)
        except Exception as ex:
            verdict = failed_verdict(self.guard, stage, ex)
        self.metrics.screen.labels(stage).observe(time.perf_counter() - started)
        by = "error" if verdict.error else "prefilter" if verdict.prefiltered else "classifier"
        self.metrics.screens.labels(stage, by).inc()
        return verdict

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

    async def chat(self, request: Request, ex: Exchange) -> Response:
        """Handle one chat completion request."""
        ex.client = self.authenticate(request)
        req = ex.request = parse_request(await self.read_body(request))
        messages = req.conversation()
        ex.input_text = conversation_text(messages)
        verdict = ex.input_verdict = await self.screen("input", messages)
        headers = {"x-request-id": ex.request_id}
        if verdict.flagged:
            self.finish(ex, 200, blocked="input")
            return self.refusal(req, ex, headers)
        payload = req.model_dump(exclude_none=True)
        if req.stream:
            upstream = await self.open_upstream("/chat/completions", payload)
            return ScreenedStream(self.stream(req, messages, upstream, ex), headers)
        upstream = await self.open_upstream("/chat/completions", payload)
        try:
            data = orjson.loads(await upstream.read())
            choice = data["choices"][0]
            content = choice["message"].get("content") or ""
        except TimeoutError as err:
            raise self.upstream_failure("timeout", 504, TIMED_OUT) from err
        except (aiohttp.ClientError, ValueError, KeyError, IndexError, TypeError) as err:
            raise self.upstream_failure("invalid", 502, "invalid upstream response") from err
        finally:
            upstream.release()
        out = ex.output_verdict = await self.screen("output", messages, content)
        if out.flagged:
            content = self.config.refusal
            choice["finish_reason"] = "content_filter"
            headers["x-redline-blocked"] = "output"
        # only the screened text goes back: other fields (reasoning, logprobs) were not screened
        choice["message"] = {"role": "assistant", "content": content}
        choice.pop("logprobs", None)
        data["choices"] = [choice]
        ex.output_text = content
        self.finish(ex, 200, blocked="output" if out.flagged else None)
        return JSONResponse(data, headers=headers)

    def refusal(self, req: ChatRequest, ex: Exchange, headers: dict[str, str]) -> Response:
        """The answer to a request blocked at input: a normal completion, finish content_filter."""
        headers = {**headers, "x-redline-blocked": "input"}
        if not req.stream:
            body = completion(ex.request_id, req.model, self.config.refusal, "content_filter",
                              int(time.time()))  # fmt: skip
            return JSONResponse(body, headers=headers)
        head = StreamHead(ex.request_id, req.model)

        async def events() -> AsyncIterator[str]:
            yield head.chunk({"role": "assistant", "content": ""})
            yield head.chunk({"content": self.config.refusal})
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
        ex: Exchange,
    ) -> AsyncIterator[str]:
        """Relay an upstream stream through a StreamScreen: only screened text goes out.

        The upstream's events are parsed as they arrive, all the events of one read at once;
        the client gets one chunk per screen that releases text, sent as soon as the screen
        passes. The opening (role) chunk goes with the first text, the closing ones together.
        """
        every, grow_to = self.config.stream_every, self.config.stream_every_max
        screen = StreamScreen(self.guard.guard, messages, every, self.config.refusal,
                              max_every=max(every, grow_to))  # fmt: skip
        head = StreamHead(ex.request_id, req.model)
        finish, usage, role_sent, ended, done = "stop", None, False, False, False
        status = CLIENT_CLOSED  # until the stream is delivered to its end
        buffer, out = b"", ""  # out: chunks for the client, sent with the next text
        try:
            async for data in upstream.content.iter_any():
                if done:  # read the body to its end, so the connection is kept for reuse
                    continue
                *lines, buffer = (buffer + data).split(b"\n")
                for line in lines:
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        ended = done = True
                        break
                    chunk = orjson.loads(payload)
                    if "error" in chunk:
                        raise ValueError(f"upstream error in stream: {chunk['error']}")
                    if not role_sent:
                        head = StreamHead(chunk.get("id", ex.request_id),
                                          chunk.get("model", req.model),
                                          chunk.get("created", head.created))  # fmt: skip
                        out += head.chunk({"role": "assistant", "content": ""})
                        role_sent = True
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        token = (choice.get("delta") or {}).get("content")
                        if token and screen.add(token):
                            verdict = await self.screen("output", messages, screen.text)
                            released = screen.judge(verdict)
                            if released:
                                yield out + self.release(head, ex, released)
                                out = ""
                        if choice.get("finish_reason"):
                            finish, ended = choice["finish_reason"], True
                    if screen.stopped:
                        break
                if screen.stopped:  # closing the response cancels the upstream's generation
                    break
            if not ended and not screen.stopped:
                raise ValueError("the upstream stream ended before its last chunk")
            if screen.held_back and not screen.stopped:
                rest = screen.judge(await self.screen("output", messages, screen.text))
                if rest:
                    out += self.release(head, ex, rest)
            if not role_sent:
                out += head.chunk({"role": "assistant", "content": ""})
            if screen.stopped:
                out += head.chunk({"content": self.config.refusal})
                finish = "content_filter"
            out += head.chunk({}, finish)
            if usage is not None:  # the upstream's count, when asked for and given
                out += head.chunk({}, usage=usage)
            yield out + DONE
            status = 200
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            timeout = isinstance(err, TimeoutError)
            kind = "timeout" if timeout else "stream"
            message = TIMED_OUT if timeout else "the upstream stream failed"
            self.metrics.upstream_errors.labels(kind).inc()
            ex.error, status = f"{type(err).__name__}: {err}", 504 if timeout else 502
            body = {"error": {"message": message, "type": "upstream_error", "code": status}}
            yield f"data: {json.dumps(body)}\n\n"
        finally:
            upstream.release()  # back to the pool if read to its end, else closed (cancels it)
            if status == CLIENT_CLOSED:
                ex.error = "the client disconnected"
            ex.output_verdict = screen.verdict
            self.finish(ex, status, blocked="output" if screen.stopped else None)

    def release(self, head: StreamHead, ex: Exchange, text: str) -> str:
        """The chunk that sends screened text to the client."""
        if not ex.output_text:
            self.metrics.first_token.observe(time.perf_counter() - ex.started)
        ex.output_text += text
        return head.chunk({"content": text})

    # --- accounting ---

    def finish(self, ex: Exchange, status: int, blocked: Stage | None = None) -> None:
        """Record a handled request in the metrics and the audit log."""
        seconds = time.perf_counter() - ex.started
        stream = "true" if ex.request is not None and ex.request.stream else "false"
        outcome = f"blocked_{blocked}" if blocked else ("ok" if status == 200 else str(status))
        self.metrics.requests.labels(outcome, stream).inc()
        self.metrics.latency.labels(stream).observe(seconds)
        verdict = ex.input_verdict if blocked == "input" else ex.output_verdict
        if blocked and verdict is not None:
            self.metrics.blocks.labels(blocked, top_category(verdict)).inc()
        if self.audit is None or ex.request is None:
            return
        self.audit.append(
            request_id=ex.request_id,
            client=ex.client,
            decision="block" if blocked else ("pass" if status == 200 else "error"),
            stage=blocked,
            category=top_category(verdict) if blocked and verdict is not None else None,
            input_score=_score(ex.input_verdict),
            output_score=_score(ex.output_verdict),
            stream=ex.request.stream,
            model=ex.request.model,
            status=status,
            latency_ms=round(seconds * 1000, 2),
            error=ex.error,
            input_sha256=hashlib.sha256(ex.input_text.encode()).hexdigest(),
            input_text=ex.input_text,
            output_text=ex.output_text,
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
        ex = Exchange(request_id=f"chatcmpl-{uuid.uuid4().hex}")
        try:
            return await proxy.chat(request, ex)
        except ProxyError as err:
            ex.error = err.message
            proxy.finish(ex, err.status)
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

"""The guard proxy: an OpenAI-compatible server that screens what goes to a model and back.

Requests are checked (key, rate, open streams, size, shape), every part of what the model will
read is screened, and only then forwarded to the upstream model. Answers are screened before the
client sees them: whole for plain responses, through a `StreamScreen` for streams, so no token
is sent unscreened; the client gets only what the proxy builds from screened text (`_openai`).
Any failure of the guard blocks; any failure of the upstream, or of the proxy itself, is a clean
error with an audit record. Rate limits and stream caps live in a `SharedState` (this process,
or Redis), the audit chain in a JSONL file or PostgreSQL; when either cannot be reached,
requests are refused with 503 and the reason, never served unlimited or unaudited.
"""

import asyncio
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from redline.errors import RedlineError
from redline.guard._actions import ActionVerdict
from redline.guard._agentic import AgentScreens, action_records, buffered_stream, stopping
from redline.guard._audit import AuditLog, AuditWriter, audit_key
from redline.guard._batching import BatchingGuard
from redline.guard._exchange import GuardedExchange
from redline.guard._guard import Guard
from redline.guard._keys import ClientKey, find_key
from redline.guard._metrics import ProxyMetrics
from redline.guard._openai import (
    DONE,
    Answer,
    ChatRequest,
    ProxyError,
    StreamHead,
    UpstreamEvents,
    Usage,
    completion,
    parse_request,
    read_answer,
)
from redline.guard._parts import Message, conversation_text
from redline.guard._proxy_config import ProxyConfig, client_keys, load_proxy_config
from redline.guard._reload import signature, watch_files
from redline.guard._state import LocalState, SharedState, StateUnavailable
from redline.guard._stream import StreamScreen
from redline.guard._verdict import STAGES, Screened, Stage, Verdict

WARM_UP = "Hello, how are you today?"
"""What the proxy screens once per stage at start, to load the guard's models."""
WARM_UP_ABROAD = "Bonjour, comment allez-vous aujourd'hui ?"
"""The same in French, to load the multilingual head's encoder."""
LOG = logging.getLogger("redline.guard.proxy")
TIMED_OUT = "the upstream model did not answer in time"
CLIENT_CLOSED = 499
"""Status recorded for a stream the client left before its end (nothing is sent)."""
MODEL_ID_CHARS = 256
EARLY_SCREEN_SPARE = 2
"""Whole tokens a key's last admission must have left for its next request's input screen to
start while that request's admission is asked (`GuardProxy.chat`)."""


@dataclass
class RequestState:
    """What the proxy knows about one request while it handles it."""

    request_id: str
    started: float = field(default_factory=time.perf_counter)
    client: str = ""
    key: ClientKey | None = None
    request: ChatRequest | None = None
    input_text: str = ""
    input_verdict: Verdict | None = None
    output_verdict: Verdict | None = None
    output_text: str = ""
    error: str | None = None
    injection_verdict: Verdict | None = None
    actions: list[ActionVerdict] | None = None


async def _nothing() -> None:
    return None


class ScreenedStream(StreamingResponse):
    """A streaming response whose body is closed (and the upstream with it) however it ends.

    `on_close` is awaited then.
    """

    def __init__(
        self,
        body: AsyncIterator[str],
        headers: dict[str, str],
        on_close: Callable[[], Awaitable[None]] = _nothing,
    ) -> None:
        super().__init__(body, media_type="text/event-stream", headers=headers)
        self._body = body
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()  # type: ignore[attr-defined]
                await self._on_close()


def upstream_request_id(request_id: str) -> str:
    """The id a request carries upstream: its UUID (`chatcmpl-HEX` -> the UUID HEX).

    llama.cpp's OpenAI server (llama-cpp-python, through starlette-context) answers 400 to an
    `x-request-id` that is not a UUID; every server takes one that is.
    """
    return str(uuid.UUID(request_id.removeprefix("chatcmpl-")))


def shared_state(config: ProxyConfig) -> SharedState:
    """Where rate limits and stream caps are kept: Redis with `redis_url`, else this process."""
    if config.redis_url:
        from redline.guard._redis_state import RedisState

        return RedisState(config.redis_url)
    return LocalState()


def audit_writer(config: ProxyConfig) -> AuditWriter | None:
    """The audit log the config names (JSONL file or PostgreSQL), if any."""
    if config.audit_db:
        from redline.guard._audit_db import DatabaseAuditLog

        key = audit_key(config.audit_key_env)
        return DatabaseAuditLog(config.audit_db, key, config.audit_texts)
    if config.audit_log:
        return AuditLog(config.audit_log, audit_key(config.audit_key_env), config.audit_texts)
    return None


class GuardProxy:
    """The proxy's state: guard, upstream client, keys, rate limits, metrics, audit log.

    With `config_file`, its keys (and those of its `keys_file`) are re-read when the files
    change or the process gets SIGHUP; open streams go on.
    """

    def __init__(self, config: ProxyConfig, guard: Guard, config_file: Path | None = None) -> None:
        self.config = config
        self.upstream = config.check().rstrip("/")
        self.config_file = config_file
        self._seen = signature(self._watched()) if config_file else ()
        """The files' signature before the keys were read from them."""
        self.keys = client_keys(config)
        self.guard = guard
        self.guard_failure: str | None = None
        """Why the guard failed its warm-up screen, if it did (every request is then blocked)."""
        self.metrics = ProxyMetrics()
        self.exchange = GuardedExchange(BatchingGuard(guard), config.refusal, self._observe)
        monitor = (
            guard.monitor(config.action_constitution, config.allowed_hosts)
            if guard.actions is not None
            else None
        )
        self.agent = AgentScreens(guard, monitor, self._observe)
        self.state = shared_state(config)
        self.audit = audit_writer(config)
        key = os.environ.get(config.upstream_api_key_env)
        self._upstream_headers = {"authorization": f"Bearer {key}"} if key else {}
        self.client: aiohttp.ClientSession | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._spare: dict[str, int] = {}
        """Key name -> whole tokens its last admission here left (see `chat`)."""

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
            if guard.multilingual is not None:  # and the multilingual head, if any
                guard.abroad([WARM_UP_ABROAD], guard.judge([WARM_UP_ABROAD], stage), stage)

        for stage in STAGES:
            try:
                await anyio.to_thread.run_sync(warm_up, stage)
            except Exception as ex:
                self.guard_failure = f"the guard failed its warm-up screen ({type(ex).__name__})"
                LOG.warning("the guard failed its warm-up screen (%s): every request will "
                            "be blocked", f"{type(ex).__name__}: {ex}")  # fmt: skip
        await self.state.start()
        if self.audit is not None:
            await self.audit.start()
        if self.config_file is not None:
            watch = watch_files(self._watched, self.reload, self._seen)
            self._watcher = asyncio.create_task(watch)
            if threading.current_thread() is threading.main_thread():
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload)
        config = self.config
        self.client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, connect=config.connect_timeout,
                                          sock_read=config.timeout),
            connector=aiohttp.TCPConnector(limit=1000),
            headers={"content-type": "application/json", **self._upstream_headers},
            cookie_jar=aiohttp.DummyCookieJar(),  # one client's upstream cookies are not another's
        )  # fmt: skip

    async def stop(self) -> None:
        """Close the pool, the shared state and the audit log (writing what is pending)."""
        if self._watcher is not None:
            self._watcher.cancel()
        if self.client is not None:
            await self.client.close()
        await self.state.close()
        if self.audit is not None:
            await self.audit.stop()

    # --- keys, re-read ---

    def _watched(self) -> list[Path]:
        assert self.config_file is not None
        return [self.config_file, *([self.config.keys_file] if self.config.keys_file else [])]

    def reload(self) -> None:
        """Re-read the keys from the config file (and its keys file); keep them on an error.

        Only the keys change: other settings take effect when the proxy restarts.
        """
        assert self.config_file is not None
        try:
            fresh = load_proxy_config(self.config_file)
            keys = client_keys(fresh.model_copy(update={"keys_file": self.config.keys_file}))
            if not keys and not self.config.allow_anonymous:
                raise RedlineError(f"{self.config_file}: no client keys")
        except RedlineError as ex:
            self.metrics.reloads.labels("error").inc()
            LOG.error("keeping the current keys: %s", ex)
            return
        self.keys = keys
        self.metrics.reloads.labels("ok").inc()
        LOG.info("re-read %s: %d client keys", self.config_file, len(keys))

    # --- readiness ---

    async def unready(self) -> list[str]:
        """Why the proxy cannot serve now: the guard, Redis, the audit database (none: ready)."""
        reasons = [self.guard_failure] if self.guard_failure else []
        if problem := await self.state.unavailable():
            reasons.append(problem)
        if self.audit is not None and (problem := self.audit.unavailable()):
            reasons.append(problem)
        return reasons

    def check_audit(self) -> None:
        """503 while the audit log cannot be written: nothing may be served unaudited."""
        problem = self.audit.unavailable() if self.audit is not None else None
        if problem:
            self.metrics.unavailable.labels("audit").inc()
            raise ProxyError(503, problem, "service_unavailable", retry_after=1)

    def unavailable(self, ex: StateUnavailable) -> ProxyError:
        """The 503 for a request the shared state could not rule on."""
        self.metrics.unavailable.labels("state").inc()
        return ProxyError(503, str(ex), "service_unavailable", retry_after=1)

    # --- checks before anything is forwarded ---

    def client_key(self, request: Request) -> ClientKey | None:
        """The client's key (None when anonymous); 401 without a valid one."""
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if not presented and self.config.allow_anonymous:
            return None
        if scheme.lower() != "bearer" or not presented:
            raise ProxyError(401, "missing API key (send Authorization: Bearer KEY)",
                             "authentication_error")  # fmt: skip
        key: ClientKey | None = find_key(self.keys, presented.strip())
        if key is None:
            raise ProxyError(401, "invalid API key", "authentication_error")
        return key

    async def admit(self, key: ClientKey | None, stream: bool = False) -> str | None:
        """Take one of the key's requests and, for a stream, one of its stream slots: the slot.

        429 over the key's rate (with Retry-After) or with its `max_streams` open (the request
        spent its token all the same), 503 when they cannot be counted (Redis down). Anonymous
        requests are not counted.
        """
        if key is None:
            return None
        try:
            admitted = await self.state.admit(key, stream)
        except StateUnavailable as ex:
            self._spare.pop(key.name, None)
            raise self.unavailable(ex) from ex
        self._spare[key.name] = admitted.spare
        if admitted.wait:
            raise ProxyError(429, f"rate limit of {key.requests_per_minute:g} requests per "
                             "minute exceeded", "rate_limit_error",
                             retry_after=admitted.wait)  # fmt: skip
        if admitted.streams_full:
            raise ProxyError(429, f"at most {key.max_streams} streams open at once per key",
                             "rate_limit_error", retry_after=1)  # fmt: skip
        return admitted.slot

    async def release_slot(self, slot: str | None) -> None:
        """A stream that `admit` gave a slot has ended (or is sending its last chunk)."""
        if slot is not None:
            await self.state.release(slot)

    async def read_request(self, request: Request, key: ClientKey | None) -> ChatRequest:
        """The request's body, parsed (408, 413, 422: see `read_body`, `parse_request`).

        A body refused still spends one of the key's requests, and over the key's rate the
        answer is 429 whatever the body: the rate is ruled on before the body's faults.
        """
        try:
            return parse_request(await self.read_body(request))
        except ProxyError:
            await self.admit(key)
            raise

    async def read_body(self, request: Request) -> bytes:
        """The request body.

        413 past the size limit (checked before and while reading), 408 when it does not arrive
        within the body timeout.
        """
        limit = self.config.max_request_bytes
        too_big = ProxyError(413, f"request body over {limit} bytes", "request_too_large")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_big
        body = bytearray()
        try:
            with anyio.fail_after(self.config.body_timeout):
                async for part in request.stream():
                    body += part
                    if len(body) > limit:
                        raise too_big
        except TimeoutError as ex:
            raise ProxyError(408, "the request body did not arrive in time",
                             "request_timeout") from ex  # fmt: skip
        return bytes(body)

    def _observe(self, stage: Screened, verdict: Verdict, seconds: float) -> None:
        """Count one screen: its time, and what decided it."""
        self.metrics.screen.labels(stage).observe(seconds)
        by = "error" if verdict.error else "prefilter" if verdict.prefiltered else "classifier"
        self.metrics.screens.labels(stage, by).inc()

    # --- the upstream ---

    async def open_upstream(
        self, path: str, payload: ChatRequest | None, request_id: str | None = None
    ) -> aiohttp.ClientResponse:
        """Send a request upstream and wait for its headers; failures are 502/504.

        A chat request carries its id (`x-request-id`: the audit log's `chatcmpl-HEX` as the
        UUID HEX, see `upstream_request_id`), so the upstream's logs can be matched to the
        proxy's records. An upstream's own error text
        reaches the client (it only echoes what the client sent) but the audit log only with
        `audit_texts`.
        """
        assert self.client is not None, "proxy not started"
        method = "POST" if payload is not None else "GET"
        body = orjson.dumps(payload.upstream_payload()) if payload else None
        self.metrics.upstream_requests.inc()
        try:
            headers = {"x-request-id": upstream_request_id(request_id)} if request_id else None
            response = await self.client.request(
                method, f"{self.upstream}{path}", data=body, headers=headers
            )
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
                said = f"the upstream model refused (HTTP {status})"
                message = _upstream_message(detail) or said
                kept = message if self.config.audit_texts else said
                raise self.upstream_failure("status", status, message, audit=kept)
            raise self.upstream_failure("status", 502, f"the upstream model failed (HTTP {status})")
        return response

    def upstream_failure(
        self, kind: str, status: int, message: str, audit: str | None = None
    ) -> ProxyError:
        """Count an upstream failure and make its error."""
        self.metrics.upstream_errors.labels(kind).inc()
        return ProxyError(status, message, "upstream_error", audit=audit)

    # --- answers ---

    async def chat(self, request: Request, state: RequestState) -> Response:
        """Handle one chat completion request."""
        self.check_audit()
        state.key = self.client_key(request)
        state.client = state.key.name if state.key else "anonymous"
        req = state.request = await self.read_request(request, state.key)
        messages = req.conversation()
        screening = self.early_screen(state.key, messages)
        slot = None
        try:
            slot = await self.admit(state.key, stream=_relayed(req))
            return await self.answer(req, messages, state, slot, screening)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.release_slot(slot)
            raise
        finally:
            if screening is not None:  # refused before the screen's verdict was needed
                screening.cancel()

    def early_screen(
        self, key: ClientKey | None, messages: list[Message]
    ) -> asyncio.Task[Verdict] | None:
        """The input screen, started before admission is ruled on when that is a safe bet.

        Admission in Redis is a round trip, which the screen (batched, on the guard's worker)
        hides. Only for a key whose last admission here left `EARLY_SCREEN_SPARE` tokens: a
        client near or over its rate (or a proxy that cannot reach its state) waits for the
        ruling first, so requests refused for their rate cost no screen. Nothing is forwarded
        before both the ruling and the verdict are in.
        """
        if key is None or self._spare.get(key.name, 0) < EARLY_SCREEN_SPARE:
            return None
        return asyncio.create_task(self.exchange.screen("input", messages))

    async def answer(
        self,
        req: ChatRequest,
        messages: list[Message],
        state: RequestState,
        slot: str | None,
        screening: asyncio.Task[Verdict] | None = None,
    ) -> Response:
        """Screen an admitted request, forward it and screen its answer.

        `slot` (a stream's) is released when the response ends; `screening` is the input
        screen if `early_screen` started it.
        """
        state.input_text = conversation_text(messages)
        headers = {"x-request-id": state.request_id}
        release = lambda: self.release_slot(slot)  # noqa: E731  (idempotent)
        data = req.data()
        if data:  # tool results and marked data: screened for injection before anything else
            verdict = state.injection_verdict = await self.agent.screen_data(data)
            if verdict.flagged:
                self.finish(state, 200, blocked="injection")
                return self.refusal(req, state, headers, release, blocked="injection")
        if _relayed(req):
            return await self.start_stream(req, messages, state, headers, release, screening)
        done = await self.exchange.run(
            messages,
            lambda: self.complete(req, state.request_id),
            lambda answer: answer[0],
            screened=screening,
        )
        state.input_verdict, state.output_verdict = done.input, done.output
        if done.blocked == "input" or done.answer is None:
            self.finish(state, 200, blocked="input")
            return self.refusal(req, state, headers)
        content, finish, usage, calls = done.answer
        blocked: Screened | None = done.blocked
        if calls and blocked is None:  # the model's tool calls, judged by the action monitor
            state.actions = await self.agent.judge_calls(calls)
            blocked = "action" if stopping(state.actions) is not None else None
        if blocked is not None:
            content, finish, calls = self.exchange.refusal, "content_filter", []
            headers["x-redline-blocked"] = blocked
        state.output_text = content
        body = completion(state.request_id, req.model, content, finish, usage, calls)
        self.finish(state, 200, blocked=blocked)
        if req.stream:  # tools offered: the judged answer, streamed in whole chunks
            head = StreamHead(state.request_id, req.model)
            usage_asked = bool(req.stream_options and req.stream_options.include_usage)
            return ScreenedStream(buffered_stream(head, body, usage_asked), headers)
        return JSONResponse(body, headers=headers)

    async def start_stream(
        self,
        req: ChatRequest,
        messages: list[Message],
        state: RequestState,
        headers: dict[str, str],
        release: Callable[[], Awaitable[None]],
        screening: asyncio.Task[Verdict] | None = None,
    ) -> Response:
        """Screen a stream's input (`screening`, if started), open the upstream stream, relay it.

        `release` (its slot's) is awaited before the last chunk, and again when the response
        ends however it ends.
        """
        verdict = state.input_verdict = await self.exchange.input_verdict(messages, screening)
        if verdict.flagged:
            self.finish(state, 200, blocked="input")
            return self.refusal(req, state, headers, release)
        upstream = await self.open_upstream("/chat/completions", req, state.request_id)
        relay = self.stream(req, messages, upstream, state, release)
        return ScreenedStream(relay, headers, release)

    async def complete(self, req: ChatRequest, request_id: str) -> Answer:
        """A whole (non-streamed) upstream answer (text, finish, usage, tool calls).

        Malformed: 502.
        """
        upstream = await self.open_upstream("/chat/completions", req, request_id)
        try:
            return read_answer(await upstream.read())
        except TimeoutError as err:
            raise self.upstream_failure("timeout", 504, TIMED_OUT) from err
        except (aiohttp.ClientError, ValueError) as err:
            raise self.upstream_failure("invalid", 502, "invalid upstream response") from err
        finally:
            upstream.release()

    def refusal(
        self,
        req: ChatRequest,
        state: RequestState,
        headers: dict[str, str],
        on_close: Callable[[], Awaitable[None]] = _nothing,
        blocked: Screened = "input",
    ) -> Response:
        """The answer to a request blocked at input: a normal completion, finish content_filter.

        `blocked` names the stage (the content input stage, or the injection stage).
        """
        headers = {**headers, "x-redline-blocked": blocked}
        if not req.stream:
            body = completion(state.request_id, req.model, self.exchange.refusal, "content_filter")
            return JSONResponse(body, headers=headers)
        head = StreamHead(state.request_id, req.model)

        async def events() -> AsyncIterator[str]:
            yield head.chunk({"role": "assistant", "content": ""})
            yield head.chunk({"content": self.exchange.refusal})
            yield head.chunk({}, "content_filter")
            if req.stream_options and req.stream_options.include_usage:
                yield head.chunk({}, usage=Usage())
            yield DONE

        return ScreenedStream(events(), headers, on_close)

    async def stream(
        self,
        req: ChatRequest,
        messages: list[Message],
        upstream: aiohttp.ClientResponse,
        state: RequestState,
        done: Callable[[], Awaitable[None]] = _nothing,
    ) -> AsyncIterator[str]:
        """Relay an upstream stream through a StreamScreen: only screened text goes out.

        Each screen that releases text sends it at once as one chunk; the opening (role) chunk
        goes with the first text, the closing ones together at the end. A malformed upstream
        event ends the stream with an error event. `done` is awaited before the last chunk goes
        out: it releases the stream's slot, which costs no round trip (`SharedState.release`),
        so a client that opens its next stream on [DONE] finds this one's slot free.
        """
        every, grow_to = self.config.stream_every, self.config.stream_every_max
        screen = StreamScreen(self.guard, messages, every, self.exchange.refusal,
                              max_every=max(every, grow_to))  # fmt: skip
        events = UpstreamEvents(upstream)
        head = StreamHead(state.request_id, req.model)
        opening = head.chunk({"role": "assistant", "content": ""})  # sent with the first text
        finish, usage, ended = "stop", None, False
        status = CLIENT_CLOSED  # until the stream is delivered to its end
        try:
            async for event in events:
                usage = event.usage or usage
                if event.text and screen.add(event.text):
                    verdict = await self.exchange.screen(
                        "output", messages, screen.text, screen.released
                    )
                    released = screen.judge(verdict)
                    if released:
                        yield opening + self.release(head, state, released)
                        opening = ""
                if event.finish:
                    finish, ended = event.finish, True
                if screen.stopped:  # closing the response cancels the upstream's generation
                    break
            if not (ended or events.done) and not screen.stopped:
                raise ValueError("the upstream stream ended before its last chunk")
            last = opening + await self.final_chunks(head, screen, messages, state, finish, usage)
            await done()
            yield last
            status = 200
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            timeout = isinstance(err, TimeoutError)
            kind = "timeout" if timeout else "stream"
            message = TIMED_OUT if timeout else "the upstream stream failed"
            self.metrics.upstream_errors.labels(kind).inc()
            state.error, status = f"{type(err).__name__}: {err}", 504 if timeout else 502
            body = {"error": {"message": message, "type": "upstream_error", "code": status}}
            await done()
            yield f"data: {orjson.dumps(body).decode()}\n\n"
        finally:
            upstream.release()  # back to the pool if read to its end, else closed (cancels it)
            if status == CLIENT_CLOSED:
                state.error = "the client disconnected"
            state.output_verdict = screen.verdict
            self.finish(state, status, blocked="output" if screen.stopped else None)

    async def final_chunks(
        self,
        head: StreamHead,
        screen: StreamScreen,
        messages: list[Message],
        state: RequestState,
        finish: str,
        usage: Usage | None,
    ) -> str:
        """The stream's last chunks, and [DONE].

        The held-back text if its screen passes (else the refusal), the finish reason, and the
        upstream's token counts if it gave them.
        """
        out = ""
        if screen.held_back and not screen.stopped:
            verdict = await self.exchange.screen("output", messages, screen.text, screen.released)
            rest = screen.judge(verdict)
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

    def finish(self, state: RequestState, status: int, blocked: Screened | None = None) -> None:
        """Record a handled request in the metrics and the audit log."""
        seconds = time.perf_counter() - state.started
        request = state.request
        stream = "true" if request is not None and request.stream else "false"
        outcome = f"blocked_{blocked}" if blocked else ("ok" if status == 200 else str(status))
        self.metrics.requests.labels(outcome, stream).inc()
        self.metrics.latency.labels(stream).observe(seconds)
        verdict = {
            "input": state.input_verdict,
            "injection": state.injection_verdict,
            "action": _stopping_verdict(state.actions),
        }.get(blocked or "", state.output_verdict)
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
            injection_score=_score(state.injection_verdict),
            actions=action_records(state.actions) if state.actions else None,
            stream=request.stream,
            model=request.model,
            status=status,
            latency_ms=round(seconds * 1000, 2),
            error=state.error,
            input_hmac=self.audit.input_hmac(state.input_text),
            input_text=state.input_text,
            output_text=state.output_text,
        )


def _relayed(req: ChatRequest) -> bool:
    """Whether the answer is relayed as a stream (one with tools is judged whole first)."""
    return req.stream and not req.tools


def _stopping_verdict(judged: list[ActionVerdict] | None) -> Verdict | None:
    found = stopping(judged) if judged else None
    return found.verdict() if found is not None else None


def _score(verdict: Verdict | None) -> float | None:
    return round(verdict.score, 4) if verdict is not None else None


def _upstream_message(detail: str) -> str:
    try:
        error = orjson.loads(detail).get("error")
    except (ValueError, AttributeError):
        return ""
    message = error.get("message") if isinstance(error, dict) else error
    return str(message)[:500] if message else ""


def _model_ids(body: bytes) -> list[str]:
    """The model ids of an upstream's model list (each a short string); ValueError if none."""
    data = orjson.loads(body)
    found = data.get("data") if isinstance(data, dict) else None
    if not isinstance(found, list):
        raise ValueError("no model list")
    ids = [m.get("id") for m in found if isinstance(m, dict)]
    return [i for i in ids if isinstance(i, str) and 0 < len(i) <= MODEL_ID_CHARS]


def create_app(config: ProxyConfig, guard: Guard, config_file: Path | None = None) -> FastAPI:
    """The proxy as an ASGI app (`server_config` serves it with a header timeout).

    With `config_file`, the keys are re-read when it changes (see `GuardProxy`).
    """
    proxy = GuardProxy(config, guard, config_file)

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
            state.error = err.audit
            proxy.finish(state, err.status)
            return err.response()
        except Exception as err:  # a bug of the proxy's own: nothing is forwarded, all recorded
            LOG.exception("request %s failed", state.request_id)
            state.error = f"internal error: {type(err).__name__}"
            proxy.finish(state, 500)
            failed = ProxyError(500, "the guard proxy failed on this request", "server_error")
            return failed.response()

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        try:
            await proxy.admit(proxy.client_key(request))
            upstream = await proxy.open_upstream("/models", None)
            try:
                ids = _model_ids(await upstream.read())
            finally:
                upstream.release()
        except ProxyError as err:
            return err.response()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return proxy.upstream_failure("read", 502, "the upstream model failed").response()
        listed = [{"id": i, "object": "model", "created": 0, "owned_by": "upstream"} for i in ids]
        return JSONResponse({"object": "list", "data": listed})

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "constitution": guard.manifest.constitution}

    @app.get("/readyz")
    async def readyz() -> Response:
        reasons = await proxy.unready()
        if reasons:
            return JSONResponse({"status": "unavailable", "reasons": reasons}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(proxy.metrics.render(), media_type="text/plain; version=0.0.4")

    return app

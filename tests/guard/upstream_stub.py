"""A fast OpenAI-compatible stand-in for a model server, for proxy tests and the load bench.

It streams a canned reply (one word per chunk) and records what it was sent, so tests can
check what reached the upstream. Run it alone: python -m tests.guard.upstream_stub --port P
"""

import argparse
import asyncio
import json
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

DEFAULT_REPLY = "Here is a friendly answer about the weather and the garden today. " * 4
ARGUMENT_PIECE = 4
"""Characters of a streamed tool call's arguments per chunk (about a token's worth)."""


@dataclass
class StubState:
    reply: str = DEFAULT_REPLY
    reply_to: Callable[[str], str] | None = None
    """The reply to a request's last message, in place of `reply`, when set."""
    delay: float = 0.0
    """Seconds before each streamed chunk (and before a plain answer)."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    """The id each chat request carried (its x-request-id, a UUID, as the proxy's chatcmpl- id)."""
    cookies: list[str] = field(default_factory=list)
    """The Cookie header of each request."""
    set_cookie: str | None = None
    """A Set-Cookie header to send with every answer."""
    ports: list[int] = field(default_factory=list)
    """The client port of each request: the same port twice is a connection reused."""
    cut_after: int | None = None
    """Drop a stream after this many words, with no last chunk (a crashed upstream)."""
    streams_finished: int = 0
    streams_cancelled: int = 0
    answer: dict[str, Any] | None = None
    """A whole answer to send as it is, in place of the canned one (a hostile upstream)."""
    events: list[str] | None = None
    """SSE data payloads to stream as they are, in place of the canned ones."""
    status: int = 200
    """An error status to answer with, its body echoing the request's last message."""
    tool_call: dict[str, str] | None = None
    """A tool call (`name`, JSON `arguments`) to answer a request offering tools with, in
    place of the reply (streamed as OpenAI does: the name, then the arguments in pieces)."""


def stub_app(state: StubState) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "test"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        state.requests.append(body)
        state.authorizations.append(request.headers.get("authorization", ""))
        sent = request.headers.get("x-request-id", "")  # a UUID: as llama.cpp's server wants
        state.request_ids.append(f"chatcmpl-{uuid.UUID(sent).hex}" if sent else "")
        state.cookies.append(request.headers.get("cookie", ""))
        cookie = {"set-cookie": state.set_cookie} if state.set_cookie else {}
        state.ports.append(request.client.port if request.client else 0)
        if state.status != 200:
            echo = body["messages"][-1]["content"]
            return JSONResponse({"error": {"message": f"bad prompt: {echo}"}}, state.status)
        if state.answer is not None and not body.get("stream"):
            return JSONResponse(state.answer)
        if state.events is not None and body.get("stream"):
            lines = [f"data: {payload}\n\n" for payload in state.events]
            return StreamingResponse(iter(lines), media_type="text/event-stream")
        reply = state.reply_to(body["messages"][-1]["content"]) if state.reply_to else state.reply
        words = [w + " " for w in reply.split()][: body.get("max_tokens") or None]
        created = int(time.time())
        call = state.tool_call if body.get("tools") else None
        if call is not None and not body.get("stream"):
            # as long as the streamed call takes: the model writes it at the same pace
            await asyncio.sleep(state.delay * -(-len(call["arguments"]) // ARGUMENT_PIECE))
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_stub", "type": "function", "function": call}]}  # fmt: skip
            return JSONResponse({
                "id": "chatcmpl-stub", "object": "chat.completion", "created": created,
                "model": "stub",
                "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            })  # fmt: skip
        if not body.get("stream"):
            await asyncio.sleep(state.delay)
            return JSONResponse({
                "id": "chatcmpl-stub", "object": "chat.completion", "created": created,
                "model": "stub",
                "choices": [{"index": 0, "message": {"role": "assistant",
                             "content": "".join(words), "reasoning_content": "unscreened"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": len(words),
                          "total_tokens": 5 + len(words)},
            }, headers=cookie)  # fmt: skip

        def event(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            chunk = {"id": "chatcmpl-stub", "object": "chat.completion.chunk",
                     "created": created, "model": "stub", "choices": [choice]}  # fmt: skip
            return f"data: {json.dumps(chunk)}\n\n"

        async def events() -> AsyncIterator[str]:
            done = False
            try:
                yield event({"role": "assistant", "content": ""})
                if call is not None:
                    args = call["arguments"]
                    head = {"index": 0, "id": "call_stub", "type": "function",
                            "function": {"name": call["name"], "arguments": ""}}  # fmt: skip
                    yield event({"tool_calls": [head]})
                    for i in range(0, len(args), ARGUMENT_PIECE):
                        if state.delay:
                            await asyncio.sleep(state.delay)
                        part = args[i : i + ARGUMENT_PIECE]
                        piece = {"index": 0, "function": {"arguments": part}}
                        yield event({"tool_calls": [piece]})
                    yield event({}, "tool_calls")
                    yield "data: [DONE]\n\n"
                    done = True
                    return
                for i, word in enumerate(words):
                    if i == state.cut_after:
                        raise RuntimeError("stub upstream crashed mid-stream")
                    if state.delay:
                        await asyncio.sleep(state.delay)
                    yield event({"content": word})
                yield event({}, "stop")
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = {"prompt_tokens": 5, "completion_tokens": len(words),
                             "total_tokens": 5 + len(words)}  # fmt: skip
                    yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"
                done = True
            finally:
                if done:
                    state.streams_finished += 1
                else:
                    state.streams_cancelled += 1

        return StreamingResponse(events(), media_type="text/event-stream", headers=cookie)

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_process(
    command: list[str], ready_url: str, env: dict[str, str] | None = None, timeout: float = 600
) -> Iterator["subprocess.Popen[bytes]"]:
    """Start `command` and yield it once `ready_url` answers 200; terminate it afterwards.

    Its stderr goes to a temporary file (a pipe nobody reads would fill and stall it, and
    reading one that its children hold open never ends), shown if it does not start.
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx.get(ready_url).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    _end(proc)
                    err.seek(0)
                    said = err.read().decode(errors="replace")[-3000:]
                    raise RuntimeError(f"{command[:4]} did not start: {said}")
                time.sleep(0.2)
            yield proc
        finally:
            _end(proc)


def _end(proc: "subprocess.Popen[bytes]", patience: float = 180) -> None:
    """Terminate a process and wait for it (killed if it takes longer than `patience`)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=patience)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a loopback port in a thread; yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    with serving_server(uvicorn.Server(config)) as bound:
        yield f"http://127.0.0.1:{bound}"


@contextmanager
def serving_server(server: uvicorn.Server) -> Iterator[int]:
    """Run a uvicorn server in a thread; yield the port it listens on."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {server.config.port} did not start")
        time.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--words", type=int, default=64, help="Words in the streamed reply.")
    parser.add_argument("--delay", type=float, default=0.0, help="Seconds before each chunk.")
    parser.add_argument(
        "--tool-call", action="store_true", help="Answer requests offering tools with a tool call."
    )
    args = parser.parse_args()
    reply = " ".join((DEFAULT_REPLY.split() * 100)[: args.words])
    # an agent's typical call: a file written with a paragraph (about as long as the reply)
    note = " ".join(DEFAULT_REPLY.split()[:40])
    arguments = json.dumps({"path": "notes/garden.md", "content": note})
    call = {"name": "write_file", "arguments": arguments}
    state = StubState(reply=reply, delay=args.delay, tool_call=call if args.tool_call else None)
    uvicorn.run(stub_app(state), host="127.0.0.1", port=args.port, log_level="warning")

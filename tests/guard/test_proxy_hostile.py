"""The proxy against hostile clients and upstreams: every edge a clean 4xx/5xx with an audit
record, nothing unscreened passed on, no connection held open forever."""

import asyncio
import json
import socket
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline._refusal import REFUSAL, is_refusal
from redline.guard import ClientKey, hash_key
from tests.guard.proxy_helpers import (
    KEY,
    client,
    proxy_config,
    running_proxy,
    stream_text,
)
from tests.guard.test_proxy import HARMFUL, audit_records, post
from tests.guard.upstream_stub import serving_server

BENIGN = "What is a good weekly grocery budget"


def request(content: str = BENIGN, **extra: object) -> str:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": content}], **extra})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"model": "m", "messages": ' + "[" * 3000 + "]" * 3000 + "}", "not valid JSON"),
        (request(max_tokens=10**30), "max_tokens"),
        (request(seed=2**70), "seed"),
        (request("hi \ud800"), "not valid JSON"),  # JSON escapes a lone surrogate
        (b'{"model": "m", "messages": [{"role": "user", "content": "\xff"}]}', "not valid JSON"),
    ],
    ids=["nested", "huge-max-tokens", "huge-seed", "lone-surrogate", "invalid-utf8"],
)
def test_hostile_request_bodies_are_422_never_500(proxy, tmp_path, body, message):
    """Regression: these answered 500, the last two after the input screen, unaudited."""
    url, state = proxy
    response = httpx.post(url + "/chat/completions", content=body,
                          headers={"authorization": f"Bearer {KEY}"})  # fmt: skip
    assert response.status_code == 422 and message in response.json()["error"]["message"]
    assert state.requests == []


BURST = 3
"""Requests each key of `rated_proxy` may make: its bucket does not refill within the test."""
BODIES = st.one_of(
    st.binary(max_size=40),
    st.builds(request, st.text(max_size=30), stream=st.booleans()),
    st.builds(request, st.text(max_size=30), stream=st.booleans(), n=st.integers(0, 3)),
    st.builds(json.dumps, st.dictionaries(st.sampled_from(["model", "messages", "stream", "x"]),
                                          st.none() | st.booleans() | st.text(max_size=5))),
    st.just(request("x" * 3000)),  # over max_request_bytes: 413
)  # fmt: skip


@pytest.fixture
def rated_proxy(stub, tfidf_guard, tmp_path):
    """A proxy with many keys of `BURST` requests each, and a function giving an unused one."""
    _, upstream = stub
    keys = [ClientKey(name=f"k{i}", hash=hash_key(f"rl-k{i}"), requests_per_minute=1e-6,
                      burst=BURST) for i in range(200)]  # fmt: skip
    unused = iter(range(len(keys)))
    config = proxy_config(upstream, tmp_path / "audit.jsonl", keys=keys, max_request_bytes=2000)
    with running_proxy(config, tfidf_guard) as url:
        yield url, lambda: f"rl-k{next(unused)}"


@settings(max_examples=30, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(bodies=st.lists(BODIES, min_size=BURST, max_size=BURST), over=BODIES)
def test_any_body_spends_one_request_and_over_the_rate_is_429(rated_proxy, bodies, over):
    """The rate is ruled on after the body is read (a stream's slot is taken with its token,
    in one step) but before the body's faults are named: each request spends one token
    whatever its body, and once they are spent every request is a 429, never a 413 or 422."""
    url, unused_key = rated_proxy
    key = unused_key()
    answers = [post(url, body, key) for body in bodies]
    assert all(a.status_code in (200, 413, 422) for a in answers), [a.text for a in answers]
    refused = post(url, over, key)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "requests per minute" in refused.json()["error"]["message"]


def test_the_message_name_is_screened(proxy):
    """Regression: a harmful request placed in `name` reached the upstream unscreened."""
    url, state = proxy
    body = {"model": "m", "messages": [{"role": "user", "name": HARMFUL, "content": "hi"}]}
    answer = client(url).chat.completions.create(**body)
    assert answer.choices[0].finish_reason == "content_filter" and state.requests == []


def test_a_hostile_upstream_answer_passes_on_only_screened_fields(proxy):
    """Regression: extra top-level keys, choices[0].text and usage reached the client."""
    url, state = proxy
    state.answer = {
        "id": "evil-id", "object": "chat.completion", "created": 1, "model": "evil-model",
        "system_fingerprint": "unscreened text",
        "choices": [{"index": 0, "text": "unscreened text", "finish_reason": "weird",
                     "message": {"role": "assistant", "content": "Fine.", "refusal": "x"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": "unscreened text", "extra": "x"},
    }  # fmt: skip
    body = post(url, request()).json()
    assert "unscreened" not in json.dumps(body) and "evil" not in json.dumps(body)
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Fine."}
    assert body["choices"][0]["finish_reason"] == "stop" and body["model"] == "m"
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 0}


@pytest.mark.parametrize(
    "event",
    ["[1, 2, 3]", '{"choices": {"delta": 1}}', '{"choices": [{"delta": {"content": 7}}]}', "{"],
    ids=["array", "choices-object", "content-number", "broken-json"],
)
def test_a_malformed_upstream_event_ends_the_stream_with_an_error(proxy, tmp_path, event):
    """Regression: `data: [1,2,3]` dropped the connection with no error event (audit: 499)."""
    url, state = proxy
    state.events = ['{"choices": [{"delta": {"role": "assistant", "content": ""}}]}', event]
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": BENIGN}]}
    with httpx.stream("POST", url + "/chat/completions", json=body,
                      headers={"authorization": f"Bearer {KEY}"}) as response:  # fmt: skip
        text = response.read().decode()
    assert '"type":"upstream_error"' in text and "[DONE]" not in text
    [record] = audit_records(tmp_path / "audit.jsonl", 1)
    assert record["status"] == 502 and record["decision"] == "error"


def test_an_upstream_error_echoing_the_prompt_is_not_audited_without_texts(proxy, tmp_path):
    """Regression: an upstream 4xx that echoed the prompt was stored with audit_texts off."""
    url, state = proxy
    state.status = 400
    response = post(url, request("my secret grocery list"))
    assert response.status_code == 400 and "grocery" in response.json()["error"]["message"]
    [record] = audit_records(tmp_path / "audit.jsonl", 1)
    assert "grocery" not in (tmp_path / "audit.jsonl").read_text()
    assert record["error"] == "the upstream model refused (HTTP 400)"


def test_the_audit_records_keyed_input_hashes(proxy, tmp_path):
    """Regression: input_sha256 was unsalted, so a guessed prompt matched its records."""
    import hashlib

    url, _ = proxy
    post(url, request())
    [record] = audit_records(tmp_path / "audit.jsonl", 1)
    assert "input_sha256" not in record
    assert record["input_hmac"] != hashlib.sha256(BENIGN.encode()).hexdigest()


def test_a_proxy_failure_is_a_500_with_an_audit_record(proxy, tmp_path, monkeypatch):
    import redline.guard._proxy as proxy_module

    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        raise RuntimeError("bug")

    monkeypatch.setattr(proxy_module, "completion", broken)
    url, _ = proxy
    response = post(url, request())
    assert response.status_code == 500 and "bug" not in response.text
    [record] = audit_records(tmp_path / "audit.jsonl", 1)
    assert record["status"] == 500 and record["error"] == "internal error: RuntimeError"


def test_the_block_message_reads_as_a_refusal(proxy):
    url, _ = proxy
    assert stream_text(url, HARMFUL) == ([REFUSAL], "content_filter")
    assert is_refusal(REFUSAL)


@pytest.mark.parametrize("kept", ["memory", "redis"])
def test_streams_per_key_are_capped(stub, tfidf_guard, tmp_path, request, kept):
    state, upstream = stub
    state.delay = 0.2  # each word: streams stay open while the next one asks
    key = ClientKey(name="tester", hash=hash_key(KEY), requests_per_minute=6000, max_streams=1)
    redis_url = request.getfixturevalue("redis_url") if kept == "redis" else None
    config = proxy_config(upstream, tmp_path / "audit.jsonl", keys=[key], redis_url=redis_url)
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": BENIGN}]}
    headers = {"authorization": f"Bearer {KEY}"}

    async def next_on_done(url: str, http: httpx.AsyncClient) -> int:
        """Read a stream to its [DONE], then at once open the next on a new connection."""
        async with http.stream("POST", url + "/chat/completions", json=body,
                               headers=headers) as first:  # fmt: skip
            assert (await first.aread()).endswith(b"data: [DONE]\n\n")
        async with httpx.AsyncClient(timeout=60) as other:  # a new connection
            return (await other.post(url + "/chat/completions", json=body,
                                     headers=headers)).status_code  # fmt: skip

    async def two_streams(url: str) -> list[int]:
        async with httpx.AsyncClient(timeout=60) as http:
            async with http.stream("POST", url + "/chat/completions", json=body,
                                   headers=headers) as first:  # fmt: skip
                second = await http.post(url + "/chat/completions", json=body, headers=headers)
                status = [first.status_code, second.status_code]
                assert (await first.aread()).endswith(b"data: [DONE]\n\n")
            # the slot is free once [DONE] is out (it was freed only after the response had
            # ended, so under load a client opening its next stream on [DONE] could get 429);
            # with Redis, its release is on its way to Redis before the last chunk is
            async with httpx.AsyncClient(timeout=60) as other:  # a new connection
                third = await other.post(url + "/chat/completions", json=body, headers=headers)
            state.delay = 0.0
            again = [await next_on_done(url, http) for _ in range(10)]
        return [*status, third.status_code, *again]

    with running_proxy(config, tfidf_guard) as url:
        assert asyncio.run(two_streams(url)) == [200, 429, 200] + [200] * 10


def test_a_streams_slot_is_free_in_redis_before_its_last_chunk_arrives(
    stub, tfidf_guard, tmp_path, redis_url
):
    """The release is sent to Redis before the last chunk ([DONE]) goes out, however long
    sending it takes: anything the client does on [DONE] reaches Redis after it."""
    import redis

    from redline.guard import create_app
    from tests.guard.upstream_stub import serving

    _, upstream = stub
    key = ClientKey(name="tester", hash=hash_key(KEY), requests_per_minute=6000, max_streams=1)
    config = proxy_config(upstream, tmp_path / "audit.jsonl", keys=[key], redis_url=redis_url)
    app = create_app(config, tfidf_guard)
    state = app.state.proxy.state
    release = state.release

    async def slow_release(slot: str) -> None:  # a busy worker: the release comes late
        await asyncio.sleep(0.3)
        await release(slot)

    state.release = slow_release
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": BENIGN}]}
    open_slots = []
    with serving(app) as base, redis.Redis.from_url(redis_url) as admin:
        for _ in range(3):
            with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=60,
                              headers={"authorization": f"Bearer {KEY}"}) as response:  # fmt: skip
                assert response.status_code == 200  # the slot before it was free
                lines = response.iter_lines()
                assert next(line for line in lines if line == "data: [DONE]")
                open_slots.append(admin.zcard("redline:proxy:streams:tester"))
    assert open_slots == [0, 0, 0]


def test_a_client_that_never_finishes_its_headers_is_cut_off(stub, tfidf_guard, tmp_path):
    """Regression: connections that never finished their headers stayed open forever."""
    import uvicorn

    from redline.guard import server_config

    _, upstream = stub
    config = proxy_config(upstream, tmp_path / "audit.jsonl", header_timeout=0.5)
    server = uvicorn.Server(server_config(config, tfidf_guard, "127.0.0.1", 0))
    with serving_server(server) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            assert sock.recv(1) == b""  # closed by the proxy, not by our 30 s timeout
            assert time.monotonic() - started < 25


def test_a_body_that_never_arrives_is_a_408(stub, tfidf_guard, tmp_path):
    _, upstream = stub
    config = proxy_config(upstream, tmp_path / "audit.jsonl", body_timeout=0.5)

    async def slow_body():  # one byte, then nothing
        yield b"{"
        await asyncio.sleep(30)

    async def send(url: str) -> int:
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.post(url + "/chat/completions", content=slow_body(),
                                       headers={"authorization": f"Bearer {KEY}"})  # fmt: skip
            return response.status_code

    with running_proxy(config, tfidf_guard) as url:
        assert asyncio.run(send(url)) == 408


def test_a_second_proxy_on_one_audit_log_does_not_start(stub, tfidf_guard, tmp_path):
    """Regression: two proxies on one log both started and broke the chain."""
    from redline.errors import RedlineError
    from redline.guard import create_app

    _, upstream = stub
    config = proxy_config(upstream, tmp_path / "audit.jsonl")
    with running_proxy(config, tfidf_guard):
        with pytest.raises(RedlineError, match="another process is writing"):
            create_app(config, tfidf_guard)

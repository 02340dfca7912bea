"""The proxy beyond one process, on real components: `redline guard serve` processes (one with
four workers, one alone) sharing a private Redis and a private PostgreSQL, in front of the
stub upstream. Nothing here times anything: each wait is for a condition, with a generous
deadline for a busy machine."""

import asyncio
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from redline.cli import app
from redline.guard import ClientKey, hash_key, verify_audit_db
from redline.guard._audit_db import PROBE_EVERY, RETRY_EVERY
from tests.guard.proxy_helpers import AUDIT_KEY, AUDIT_KEY_ENV
from tests.guard.upstream_stub import StubState, free_port, running_process, serving, stub_app

PATIENCE = 300
"""Seconds to wait for a condition that must come (a reload, a server back, records written)."""
KEYS = {"tester": "rl-tester-key", "limited": "rl-limited-key", "removable": "rl-removable-key"}
WORKERS = 4


def wait_for(condition, what):
    deadline = time.monotonic() + PATIENCE
    while not (found := condition()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)
    return found


def chat(url, name="tester", stream=False, content="What is a good weekly grocery budget"):
    body = {"model": "m", "stream": stream, "messages": [{"role": "user", "content": content}]}
    headers = {"authorization": f"Bearer {KEYS[name]}", "connection": "close"}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=60)


def config_text(upstream, redis_url, audit_db, names):
    rates = {"limited": 10.0}
    keys = [ClientKey(name=n, hash=hash_key(KEYS[n]), requests_per_minute=rates.get(n, 1e6),
                      max_streams=1000).model_dump(exclude_none=True) for n in names]  # fmt: skip
    return yaml.safe_dump({"upstream": upstream, "keys": keys, "redis_url": redis_url,
                           "audit_db": audit_db, "audit_key_env": AUDIT_KEY_ENV,
                           "shutdown_timeout": PATIENCE})  # fmt: skip


def replace(path: Path, text: str) -> None:
    """Swap a file's content in at once, as a Kubernetes volume (or an editor) does."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def metric(url, name):
    text = httpx.get(f"{url}/metrics").text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def audited_ids(db):
    dsn = db.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT record FROM redline_audit ORDER BY seq").fetchall()
    return [json.loads(r)["request_id"] for (r,) in rows]


@pytest.fixture(scope="module")
def guard_dir(tfidf_guard, tmp_path_factory):
    return tfidf_guard.save(tmp_path_factory.mktemp("guard"))


@pytest.fixture(scope="module")
def site(guard_dir, redis_server, postgres_server, tmp_path_factory):
    """A stub upstream; proxy `a` (four workers) and proxy `b` (one process) sharing one config,
    one Redis and one PostgreSQL."""
    redis_server.flush()
    postgres_server.reset()
    tmp = tmp_path_factory.mktemp("site")
    state = StubState()
    with serving(stub_app(state)) as stub:
        config = tmp / "proxy.yaml"
        text = config_text(stub + "/v1", redis_server.url, postgres_server.url, list(KEYS))
        config.write_text(text)
        env = {**os.environ, AUDIT_KEY_ENV: AUDIT_KEY, "PROMETHEUS_MULTIPROC_DIR": str(tmp)}
        ports = free_port(), free_port()
        commands = [
            [sys.executable, "-c", "from redline.cli import main; main()", "guard", "serve",
             "--guard", str(guard_dir), "--config", str(config), "--port", str(port),
             "--workers", str(workers)]
            for port, workers in zip(ports, (WORKERS, 1), strict=True)
        ]  # fmt: skip
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        with (
            running_process(commands[0], urls[0] + "/readyz", env=env) as a,
            running_process(commands[1], urls[1] + "/readyz", env={**os.environ}) as b,
        ):
            # every worker has built its app (and read its keys) once each has metric files
            wait_for(lambda: len(list(tmp.glob("counter_*.db"))) >= WORKERS, "all workers")
            yield {"a": urls[0], "b": urls[1], "procs": (a, b), "stub": state,
                   "config": config, "text": text, "redis": redis_server,
                   "postgres": postgres_server}  # fmt: skip


def test_two_proxies_with_one_redis_enforce_one_limit(site):
    """10 requests a minute for one key, across two proxy processes (five workers): 14
    requests at once get exactly 10 successes, the rest 429 with Retry-After.

    The limit is a token bucket (10 at once, one more every 6 s): should the machine be so
    busy that the requests take longer than that to arrive, each 6 s lets one more through.
    """
    with ThreadPoolExecutor(14) as pool:
        started = time.monotonic()
        responses = list(pool.map(lambda i: chat(site["a" if i % 2 else "b"], "limited"),
                                  range(14)))  # fmt: skip
        span = time.monotonic() - started
    statuses = sorted(r.status_code for r in responses)
    refilled = int(span / 6)
    assert 10 <= statuses.count(200) <= 10 + refilled, (statuses, span)
    assert set(statuses) == {200, 429}
    refused = [r for r in responses if r.status_code == 429]
    assert all(1 <= int(r.headers["retry-after"]) <= 6 for r in refused)
    assert "10 requests per minute" in refused[0].json()["error"]["message"]


def test_four_workers_write_one_chain(site, monkeypatch):
    """200 concurrent requests through four workers: one record each, one chain, verified."""

    async def burst():
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=site["a"], timeout=PATIENCE, limits=limits) as c:
            headers = {"authorization": f"Bearer {KEYS['tester']}"}

            async def one(i):
                body = {"model": "m", "stream": i % 2 == 0,
                        "messages": [{"role": "user", "content": f"Hello number {i}"}]}  # fmt: skip
                r = await c.post("/v1/chat/completions", json=body, headers=headers)
                return r.status_code, r.headers.get("x-request-id", r.text)

            return await asyncio.gather(*(one(i) for i in range(200)))

    answers = asyncio.run(burst())
    assert {status for status, _ in answers} == {200}, [a for a in answers if a[0] != 200][:3]
    ids = {rid for _, rid in answers}
    assert len(ids) == 200
    wait_for(lambda: ids <= set(audited_ids(site["postgres"].url)), "the records")
    recorded = audited_ids(site["postgres"].url)
    assert all(recorded.count(rid) == 1 for rid in ids)  # one record per request
    check = verify_audit_db(site["postgres"].url, AUDIT_KEY.encode())
    assert check.ok, check.problems

    # tampering with any row is detected and named
    db = site["postgres"].url
    dsn = db.replace("postgresql+psycopg://", "postgresql://")
    seq = len(recorded) // 2
    with psycopg.connect(dsn, autocommit=True) as conn:
        (original,) = conn.execute(
            "SELECT record FROM redline_audit WHERE seq = %s", [seq]
        ).fetchone()
        forged = json.loads(original) | {"decision": "block"}
        conn.execute(
            "UPDATE redline_audit SET record = %s WHERE seq = %s", [json.dumps(forged), seq]
        )
        monkeypatch.setenv(AUDIT_KEY_ENV, AUDIT_KEY)
        result = CliRunner().invoke(
            app, ["guard", "audit", "verify", db, "--key-env", AUDIT_KEY_ENV]
        )
        conn.execute("UPDATE redline_audit SET record = %s WHERE seq = %s", [original, seq])
    assert result.exit_code == 1
    assert f"row {seq}: record {seq} was edited (hash mismatch)" in result.stderr


def test_a_removed_key_stops_working_in_every_worker_without_a_restart(site):
    stub, a, b = site["stub"], site["a"], site["b"]
    assert chat(a, "removable").status_code == 200
    stub.delay = 0.05  # a stream of the key that will be removed, open across the reload
    try:
        with httpx.Client(timeout=PATIENCE) as client:
            body = {"model": "m", "stream": True,
                    "messages": [{"role": "user", "content": "Tell me about gardens"}]}  # fmt: skip
            headers = {"authorization": f"Bearer {KEYS['removable']}"}
            with client.stream("POST", f"{a}/v1/chat/completions", json=body,
                               headers=headers) as open_stream:  # fmt: skip
                lines = open_stream.iter_lines()
                assert next(line for line in lines if line.startswith("data:"))
                before = metric(a, 'redline_proxy_config_reloads_total{result="ok"}')
                text = config_text(stub_url(site), site["redis"].url, site["postgres"].url,
                                   ["tester", "limited"])  # fmt: skip
                replace(site["config"], text)
                wait_for(lambda: metric(a, 'redline_proxy_config_reloads_total{result="ok"}')
                         == before + WORKERS, "every worker to re-read the keys")  # fmt: skip
                rest = [line for line in lines if line]
    finally:
        stub.delay = 0.0
    assert rest[-1] == "data: [DONE]"  # the open stream ran to its end
    wait_for(lambda: chat(b, "removable").status_code == 401, "proxy b to drop the key")
    # fresh connections land on every worker: all of them refuse the key, none restarted
    assert {chat(a, "removable").status_code for _ in range(24)} == {401}
    assert chat(a, "tester").status_code == 200
    # SIGHUP to the supervisor: every worker re-reads the (unchanged) files
    before = metric(a, 'redline_proxy_config_reloads_total{result="ok"}')
    site["procs"][0].send_signal(signal.SIGHUP)
    wait_for(lambda: metric(a, 'redline_proxy_config_reloads_total{result="ok"}')
             == before + WORKERS, "every worker to re-read on SIGHUP")  # fmt: skip
    assert chat(a, "tester").status_code == 200


def stub_url(site):
    return yaml.safe_load(site["text"])["upstream"]


def every_worker(url, status):
    """Whether every request for a while, each on a new connection, gets `status`.

    The kernel hands a connection to any worker and may pass one over for many requests in a
    row (eight in a row once missed a worker still serving after PostgreSQL had stopped, in
    CI), so a count of requests proves nothing about every worker. Each worker checks the audit
    database on its own at least every `PROBE_EVERY` + `RETRY_EVERY` seconds; requests answered
    alike for longer than that, all after a change, mean every worker has seen the change.
    """
    until = time.monotonic() + PROBE_EVERY + RETRY_EVERY + 0.5
    while time.monotonic() < until:
        if chat(url).status_code != status:
            return False
    return True


def test_a_shared_component_down_refuses_with_503_and_service_resumes(site):
    """Redis, then PostgreSQL, stopped mid-run: 503 with the reason, nothing forwarded
    unaudited, and service back when each returns."""
    a, stub = site["a"], site["stub"]
    sent_before = len(stub.request_ids)
    site["redis"].stop()
    refused = chat(a)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["message"].startswith("rate limits unavailable (Redis: ")
    ready = httpx.get(f"{a}/readyz")
    assert ready.status_code == 503 and "Redis" in " ".join(ready.json()["reasons"])
    assert len(stub.request_ids) == sent_before  # nothing went upstream
    site["redis"].start()
    wait_for(lambda: every_worker(a, 200), "service after Redis returned")

    site["postgres"].stop()
    statuses = []

    def refused_for_audit() -> bool:
        r = chat(a)
        statuses.append(r.status_code)
        return r.status_code == 503 and "audit log unavailable" in r.json()["error"]["message"]

    wait_for(refused_for_audit, "503 once the audit database is down")
    # each worker notices on its own (its next write, or its check once a second): a request
    # a worker took before then is forwarded and its record kept until the database is back
    wait_for(lambda: every_worker(a, 503), "every worker to refuse")
    forwarded = len(stub.request_ids)
    assert every_worker(a, 503)
    assert len(stub.request_ids) == forwarded  # nothing more went upstream
    site["postgres"].start()
    wait_for(lambda: every_worker(a, 200), "service after PostgreSQL returned")
    # every request that reached the upstream has its record: none was served unaudited
    upstream_ids = set(stub.request_ids)
    wait_for(lambda: upstream_ids <= set(audited_ids(site["postgres"].url)), "every record")
    assert verify_audit_db(site["postgres"].url, AUDIT_KEY.encode()).ok


def test_sigterm_lets_open_streams_finish(site):
    """SIGTERM to both proxies (the four workers' supervisor, and the single process) while a
    stream is open on each: both streams run to their end, both exit 0, and both streams'
    records are in the chain."""
    stub = site["stub"]
    for url in (site["a"], site["b"]):
        wait_for(lambda url=url: every_worker(url, 200), "every worker serving")
    stub.delay = 0.05
    body = {"model": "m", "stream": True,
            "messages": [{"role": "user", "content": "Tell me about gardens"}]}  # fmt: skip
    headers = {"authorization": f"Bearer {KEYS['tester']}"}

    try:
        with httpx.Client(timeout=PATIENCE) as client, ExitStack() as stack:
            streams = []
            for url in (site["a"], site["b"]):
                stream = stack.enter_context(
                    client.stream("POST", f"{url}/v1/chat/completions", json=body,
                                  headers=headers)
                )  # fmt: skip
                assert stream.status_code == 200, stream.read()
                lines = stream.iter_lines()
                assert next(line for line in lines if line.startswith("data:"))
                streams.append((stream.headers["x-request-id"], lines))
            for proc in site["procs"]:
                proc.send_signal(signal.SIGTERM)
            rests = [[line for line in lines if line] for _, lines in streams]
    finally:
        stub.delay = 0.0
    assert [rest[-1] for rest in rests] == ["data: [DONE]"] * 2
    assert [proc.wait(timeout=PATIENCE) for proc in site["procs"]] == [0, 0]
    ids = {rid for rid, _ in streams}
    assert ids <= set(audited_ids(site["postgres"].url))

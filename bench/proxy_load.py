"""Load on the guard proxy: K concurrent streaming clients through the proxy and direct.

Targets (issue 6): with the stub upstream, proxy overhead p50 <= 15 ms per request (screening
included) at 32 concurrent streams, no errors; with the real embedded model, time to last
token at most 10% above direct.
Usage: python bench/proxy_load.py [--guard DIR] [--clients 32] [--every 8] [--every-max 32]
       [--delay 0.015] [--real] [--tools]

With `--tools` (issue 21) every request is agent traffic in the OpenAI tool-calling format:
the tools offered, a tool call and its result before the user's turn (the result read by the
injection stage), and the stub answering with a streamed tool call writing a paragraph to a
file, a few characters a chunk, about as long as the text answers (judged whole by the action
monitor before it is sent on).

Three stub runs. `stub` paces the stub at `--delay` seconds per token (default 15 ms, about
67 tokens/s: a fast model server), so the upstream, not the proxy, sets the pace and the
latency the proxy adds is its own overhead; the clients' first requests are spread over one
answer's length, so the K streams overlap as in steady traffic. `stub-burst` is the same with
every client starting at once: the answers all have the same length, so requests keep
arriving K at a time and each waits for the others' admission (parsing, input screen,
upstream request) on the proxy's one core. `stub-saturation` streams with no delay at all:
the closed-loop clients then saturate the proxy, the latency it adds is queueing (about K x
its CPU per request), and the figure that counts is requests/s direct vs through the proxy.
The stub upstream, the proxy and the embedded model each run in a process of their own.
Uses the trained default guard unless --guard is given.
"""

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from redline.guard import ClientKey, default_guard_dir, hash_key, new_key

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the stub upstream and the process helper live in tests/
from tests.guard.upstream_stub import free_port, running_process  # noqa: E402

PROMPTS = [
    "What is a good weekly grocery budget?",
    "Tell me a short story about a cat who sleeps in the sun.",
    "How do I keep basil alive on a windowsill?",
    "Explain why the sky looks different at sunset.",
]


def process(command: list[str], ready_url: str):
    """A server process of the bench, ready to serve (600 s to load the model)."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    return running_process(command, ready_url, env=env, timeout=600)


TOOLS = [{"type": "function", "function": {
    "name": "bash", "description": "Run a shell command in the workspace.",
    "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}},
                   "required": ["cmd"]}}},
    {"type": "function", "function": {
    "name": "write_file", "description": "Write the given content to a file at the given path.",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"},
                   "content": {"type": "string"}}, "required": ["path", "content"]}}}]  # fmt: skip
TOOL_TURNS = [
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
     "function": {"name": "bash", "arguments": '{"cmd": "cat README.md"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "# garden-planner\n\nPlans a "
     "vegetable garden by season. Install with pip install -e . and run the tests with "
     "pytest. See docs/usage.md for the command-line options."},
]  # fmt: skip
"""With `--tools`: a round trip before each request (a call, its result for the injection
stage), the tools offered, and a stub that answers with a tool call for the monitor."""


async def one(client: httpx.AsyncClient, url: str, key: str, prompt: str, max_tokens: int,
              tools: bool = False):  # fmt: skip
    body: dict[str, Any] = {"model": "m", "stream": True, "max_tokens": max_tokens,
                            "temperature": 0,
                            "messages": [{"role": "user", "content": prompt}]}  # fmt: skip
    if tools:
        body["messages"] += TOOL_TURNS
        body["tools"] = TOOLS
    started = time.perf_counter()
    first = None
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with client.stream("POST", url, json=body, headers=headers) as r:
        if r.status_code != 200:
            await r.aread()
            raise RuntimeError(f"HTTP {r.status_code}")
        if "x-redline-blocked" in r.headers:  # benign traffic: a block is a false positive
            raise RuntimeError(f"blocked ({r.headers['x-redline-blocked']})")
        async for line in r.aiter_lines():
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            if '"error"' in line:
                raise RuntimeError(line)
            deltas = [c.get("delta") or {} for c in json.loads(line[5:])["choices"]]
            if first is None and any(d.get("content") or d.get("tool_calls") for d in deltas):
                first = time.perf_counter() - started
    return first or 0.0, time.perf_counter() - started


async def load(
    url: str,
    key: str,
    clients: int,
    requests: int,
    max_tokens: int,
    stagger: float = 0.0,
    tools: bool = False,
) -> dict[str, Any]:
    """`clients` concurrent workers, each sending `requests` streamed chats one after another.

    Worker i starts `i / clients * stagger` seconds in: with a stagger of one answer's length
    the streams are spread over time as in steady traffic; with none, all arrive at once and
    (answers of equal length) keep arriving in bursts of `clients`.
    """
    ttft: list[float] = []
    total: list[float] = []
    messages: list[str] = []

    async def worker(i: int) -> None:
        await asyncio.sleep(i / clients * stagger)
        for j in range(requests):
            try:
                prompt = PROMPTS[(i + j) % len(PROMPTS)]
                f, t = await one(client, url, key, prompt, max_tokens, tools)
                ttft.append(f)
                total.append(t)
            except Exception as ex:
                messages.append(f"{type(ex).__name__}: {ex}"[:200])

    limits = httpx.Limits(max_connections=clients * 2)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        await one(client, url, key, PROMPTS[0], max_tokens, tools)  # warm up
        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        wall = time.perf_counter() - started
    return {"ttft": ttft, "total": total, "wall": wall, "errors": messages}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) and its live children so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(cpu_seconds(int(child)) for child in children)


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled percentiles (ms), requests/s and errors over rounds."""
    ttft = [x for r in runs for x in r["ttft"]]
    total = [x for r in runs for x in r["total"]]
    errors = [e for r in runs for e in r["errors"]]
    ms = lambda xs, q: float(np.percentile(xs, q) * 1000) if xs else float("nan")  # noqa: E731
    return {"requests": len(total), "errors": len(errors), "error_messages": sorted(set(errors)),
            "rps": len(total) / sum(r["wall"] for r in runs),
            "ttft_p50": ms(ttft, 50), "ttft_p99": ms(ttft, 99),
            "total_p50": ms(total, 50), "total_p99": ms(total, 99)}  # fmt: skip


def compare(upstream: str, guard: Path, clients: int, requests: int, max_tokens: int,
            every: int, every_max: int, rounds: int,
            stagger: float = 0.0, tools: bool = False) -> dict[str, Any]:  # fmt: skip
    key = new_key()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "proxy.yaml"
        # one key for every client: neither its rate nor its stream cap may be what is measured
        entry = ClientKey(name="bench", hash=hash_key(key), requests_per_minute=1e6,
                          max_streams=clients)  # fmt: skip
        config.write_text(json.dumps({"upstream": upstream, "keys": [entry.model_dump()],
                                      "stream_every": every, "stream_every_max": every_max,
                                      "audit_log": str(Path(tmp) / "audit.jsonl"),
                                      "audit_key_env": "REDLINE_BENCH_AUDIT_KEY"}))  # fmt: skip
        os.environ["REDLINE_BENCH_AUDIT_KEY"] = secrets.token_hex(32)
        command = [sys.executable, "-c", "from redline.cli import main; main()", "guard",
                   "serve", "--guard", str(guard), "--config", str(config),
                   "--port", str(port)]  # fmt: skip
        direct_runs, proxy_runs = [], []
        with process(command, f"http://127.0.0.1:{port}/healthz") as proxy:
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            cpu = 0.0
            for _ in range(rounds):  # alternate, so drifting machine load hits both paths alike
                direct_runs.append(asyncio.run(load(f"{upstream}/chat/completions", "", clients,
                                                    requests, max_tokens, stagger,
                                                    tools)))  # fmt: skip
                before = cpu_seconds(proxy.pid)
                proxy_runs.append(asyncio.run(load(url, key, clients, requests, max_tokens,
                                                   stagger, tools)))  # fmt: skip
                cpu += cpu_seconds(proxy.pid) - before
    direct, proxied = summary(direct_runs), summary(proxy_runs)
    # the proxy's own CPU per request (warm-up included): what it costs, whatever the load
    proxied["cpu_ms_per_request"] = cpu * 1000 / (proxied["requests"] + rounds)
    return {"direct": direct, "proxy": proxied, "rounds": rounds,
            "overhead_p50_ms": proxied["total_p50"] - direct["total_p50"],
            "overhead_p99_ms": proxied["total_p99"] - direct["total_p99"],
            "ttft_overhead_p50_ms": proxied["ttft_p50"] - direct["ttft_p50"],
            "last_token_ratio_p50": proxied["total_p50"] / direct["total_p50"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guard", type=Path, default=None)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4, help="Requests per client a round.")
    parser.add_argument("--rounds", type=int, default=3, help="Direct/proxy alternations.")
    parser.add_argument("--words", type=int, default=64, help="Words the stub streams.")
    parser.add_argument("--every", type=int, default=8, help="Tokens before the first screen.")
    parser.add_argument(
        "--every-max",
        type=int,
        default=32,
        help="Tokens between later screens (the window doubles up to it).",
    )
    parser.add_argument(
        "--delay",
        type=float,
        default=0.015,
        help="Seconds per token of the paced stub (0.015: about 67 tokens/s).",
    )
    parser.add_argument("--real", action="store_true", help="Also load the embedded model.")
    parser.add_argument("--no-stub", action="store_true", help="Skip the stub upstream.")
    parser.add_argument("--real-clients", type=int, default=2)
    parser.add_argument("--real-requests", type=int, default=2)
    parser.add_argument("--real-tokens", type=int, default=48)
    parser.add_argument(
        "--tools",
        action="store_true",
        help="Tool-calling traffic: tools offered, a tool result read, tool calls answered.",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/proxy_load.json"))
    args = parser.parse_args()
    guard = args.guard or default_guard_dir()

    results: dict[str, Any] = {"guard": str(guard), "every": args.every, "tools": args.tools,
                               "every_max": args.every_max,
                               "load_average_before": os.getloadavg()}  # fmt: skip
    # paced: streams spread over one answer's length (steady traffic), then all at once
    spread = args.words * args.delay
    stubs = {"stub": (args.delay, spread), "stub-burst": (args.delay, 0.0),
             "stub-saturation": (0.0, 0.0)}  # fmt: skip
    for name, (delay, stagger) in stubs.items() if not args.no_stub else ():
        port = free_port()
        stub = [sys.executable, "-m", "tests.guard.upstream_stub", "--port", str(port),
                "--words", str(args.words), "--delay", str(delay)]  # fmt: skip
        stub += ["--tool-call"] if args.tools else []
        with process(stub, f"http://127.0.0.1:{port}/v1/models"):
            results[name] = compare(f"http://127.0.0.1:{port}/v1", guard, args.clients,
                                    args.requests, args.words, args.every, args.every_max,
                                    args.rounds, stagger, args.tools)  # fmt: skip
            results[name].update(clients=args.clients, token_delay_ms=delay * 1000,
                                 stagger_s=stagger)  # fmt: skip
    if args.real:
        port = free_port()
        model = [sys.executable, "-c", "from redline.cli import main; main()", "serve-model",
                 "--port", str(port)]  # fmt: skip
        with process(model, f"http://127.0.0.1:{port}/v1/models"):
            results["real"] = compare(f"http://127.0.0.1:{port}/v1", guard, args.real_clients,
                                      args.real_requests, args.real_tokens, args.every,
                                      args.every_max, args.rounds,
                                      tools=args.tools)  # fmt: skip
            results["real"]["clients"] = args.real_clients

    results["load_average_after"] = os.getloadavg()
    table = Table(
        title=f"Guard proxy load (guard {guard}; first screen after {args.every} "
        f"tokens, then windows doubling up to {args.every_max})"
    )
    for column in ("upstream", "ms/token", "clients", "path", "req/s", "errors", "TTFT p50 ms",
                   "last token p50 ms", "last token p99 ms"):  # fmt: skip
        table.add_column(column, justify="right")
    names = [n for n in ("stub", "stub-burst", "stub-saturation", "real") if n in results]
    for name in names:
        r = results[name]
        for path in ("direct", "proxy"):
            m = r[path]
            pace = f"{r['token_delay_ms']:g}" if "token_delay_ms" in r else "model"
            table.add_row(name, pace, str(r["clients"]), path, f"{m['rps']:.1f}", str(m["errors"]),
                          f"{m['ttft_p50']:.1f}", f"{m['total_p50']:.1f}",
                          f"{m['total_p99']:.1f}")  # fmt: skip
    console = Console(width=130)
    console.print(table)
    console.print("load average before {:.2f}, after {:.2f} (1 min)".format(
        results["load_average_before"][0], results["load_average_after"][0]))  # fmt: skip
    for name in names:
        r = results[name]
        console.print(
            f"{name}: added latency p50 {r['overhead_p50_ms']:.1f} ms, p99 "
            f"{r['overhead_p99_ms']:.1f} ms; TTFT overhead p50 "
            f"{r['ttft_overhead_p50_ms']:.1f} ms; last token {r['last_token_ratio_p50']:.2f}x"
            f" direct; req/s {r['proxy']['rps'] / r['direct']['rps']:.2f}x direct; proxy CPU"
            f" {r['proxy']['cpu_ms_per_request']:.1f} ms per request"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

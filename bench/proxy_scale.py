"""The guard proxy beyond one process: 1, 2 and 4 workers, in-memory state vs Redis + PostgreSQL.

Targets (issue 19): shared state adds <= 2 ms p50 and <= 1.25x proxy CPU per request; two
workers' saturated throughput above one worker's.
Usage: python bench/proxy_scale.py [--guard DIR | --tiny-guard] [--clients 16] [--requests 8]
       [--words 64] [--out bench/results/proxy_scale.json]

One run, every configuration against the same stub upstream (no delay: the proxy is the
bottleneck) and, for shared state, a private Redis and a private PostgreSQL started from the
Debian packages' binaries (as the tests do). Each configuration is one `redline guard serve`
(with `--workers N`) with one client key and its audit log: a JSONL file in memory mode, the
PostgreSQL chain in shared mode. In-memory state runs in one process only: the proxy refuses
several workers without Redis (each would allow the key's whole limit) and a JSONL log with
several writers, so those rows say so instead of a figure.

For each configuration:
- latency: `--light` clients (default 2) streaming one request after another, through the
  proxy and direct to the stub, alternating; added latency = proxied minus direct, p50/p99.
- saturation: `--clients` closed-loop clients streaming `--requests` requests each: requests/s.
- CPU, during saturation, read from /proc: the proxy's (supervisor and workers), the stub's,
  the load generator's (this process), Redis's and PostgreSQL's (all its backends), and the
  rest of the machine's (other processes: /proc/stat), each as a share of the machine's cores
  over the run; what is left is idle headroom. On a machine shared with other jobs the
  throughput and latency figures measure the competition as much as the proxy: CPU per
  request is the steadier figure.
  Proxy CPU per request, and requests per proxy CPU-second (what each core given to workers
  would add on a machine with more cores than this one's).
Ratios are to the single in-memory process. Prints a table and writes JSON (`--out`).
"""

import argparse
import asyncio
import json
import os
import resource
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from redline.guard import ClientKey, default_guard_dir, hash_key, new_key

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the stub, the process helper and the servers live in tests/
from tests.guard.servers import PostgresServer, RedisServer  # noqa: E402
from tests.guard.upstream_stub import free_port, running_process  # noqa: E402

PROMPTS = [
    "What is a good weekly grocery budget?",
    "Tell me a short story about a cat who sleeps in the sun.",
    "How do I keep basil alive on a windowsill?",
    "Explain why the sky looks different at sunset.",
]
AUDIT_KEY_ENV = "REDLINE_BENCH_AUDIT_KEY"
WORKERS = (1, 2, 4)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) and its live children so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:  # it ended meanwhile
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def machine_cpu() -> tuple[float, float]:
    """Busy and idle CPU seconds of the whole machine so far, every process's (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
    tick = os.sysconf("SC_CLK_TCK")
    return busy / tick, idle / tick


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one(client: httpx.AsyncClient, url: str, key: str, prompt: str) -> float:
    """One streamed chat, read to its end: its seconds."""
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    headers = {"authorization": f"Bearer {key}"} if key else {}
    started = time.perf_counter()
    async with client.stream("POST", url, json=body, headers=headers) as r:
        if r.status_code != 200:
            await r.aread()
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
        async for line in r.aiter_lines():
            if line.startswith("data:") and '"error"' in line:
                raise RuntimeError(line[:200])
    return time.perf_counter() - started


async def load(url: str, key: str, clients: int, requests: int) -> dict[str, Any]:
    """`clients` closed-loop clients sending `requests` streamed chats each."""
    times: list[float] = []
    errors: list[str] = []

    async def client_loop(client: httpx.AsyncClient, i: int) -> None:
        for j in range(requests):
            try:
                times.append(await one(client, url, key, PROMPTS[(i + j) % len(PROMPTS)]))
            except Exception as ex:
                errors.append(f"{type(ex).__name__}: {ex}"[:200])

    limits = httpx.Limits(max_connections=clients * 2)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client, i) for i in range(clients)))
        wall = time.perf_counter() - started
    return {"times": times, "wall": wall, "errors": errors}


def ms(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q) * 1000) if xs else float("nan")


def measure(
    proxy: str, stub: str, key: str, pids: dict[str, list[int]], args: argparse.Namespace
) -> dict[str, Any]:
    """Latency (light load, alternating with direct), then saturation with every CPU read."""
    direct_url, proxy_url = f"{stub}/v1/chat/completions", f"{proxy}/v1/chat/completions"
    asyncio.run(load(proxy_url, key, args.clients, 2))  # warm up every worker's pools
    direct: list[float] = []
    proxied: list[float] = []
    errors: list[str] = []
    for _ in range(args.rounds):
        d = asyncio.run(load(direct_url, "", args.light, args.light_requests))
        p = asyncio.run(load(proxy_url, key, args.light, args.light_requests))
        direct += d["times"]
        proxied += p["times"]
        errors += d["errors"] + p["errors"]

    cpu_before = {name: sum(cpu_seconds(pid) for pid in group) for name, group in pids.items()}
    gen_before = own_cpu()
    busy_before, idle_before = machine_cpu()
    saturated = asyncio.run(load(proxy_url, key, args.clients, args.requests))
    gen = own_cpu() - gen_before
    busy_after, idle_after = machine_cpu()
    cpu = {name: sum(cpu_seconds(pid) for pid in group) - cpu_before[name]
           for name, group in pids.items()}  # fmt: skip
    cpu["load generator"] = gen
    wall = saturated["wall"]
    served = len(saturated["times"])
    capacity = wall * (os.cpu_count() or 1)
    share = {name: seconds / capacity for name, seconds in cpu.items()}
    # what the rest of the machine took (other people's jobs), and what was left idle
    machine = (busy_after - busy_before) + (idle_after - idle_before)
    share["others"] = max(0.0, (busy_after - busy_before) / machine - sum(share.values()))
    share["idle"] = (idle_after - idle_before) / machine
    return {
        "latency": {"direct_p50_ms": ms(direct, 50), "direct_p99_ms": ms(direct, 99),
                    "proxied_p50_ms": ms(proxied, 50), "proxied_p99_ms": ms(proxied, 99),
                    "added_p50_ms": ms(proxied, 50) - ms(direct, 50),
                    "added_p99_ms": ms(proxied, 99) - ms(direct, 99),
                    "requests": len(proxied)},
        "saturation": {"requests": served, "wall_s": wall, "rps": served / wall,
                       "errors": len(saturated["errors"]),
                       "error_messages": sorted(set(saturated["errors"]))[:5]},
        "cpu_seconds": cpu,
        "cpu_share": share,
        "proxy_cpu_ms_per_request": cpu["proxy"] * 1000 / served if served else float("nan"),
        "requests_per_proxy_cpu_second": served / cpu["proxy"] if cpu["proxy"] else float("nan"),
        "errors": len(errors) + len(saturated["errors"]),
    }  # fmt: skip


def run_config(
    workers: int, shared: bool, stub: str, stub_pid: int, guard: Path, servers: dict[str, Any],
    tmp: Path, args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    key = new_key()
    entry = ClientKey(name="bench", hash=hash_key(key), requests_per_minute=1e9, burst=1e9,
                      max_streams=10_000)  # fmt: skip
    settings: dict[str, Any] = {"upstream": f"{stub}/v1", "keys": [entry.model_dump()],
                                "audit_key_env": AUDIT_KEY_ENV}  # fmt: skip
    pids: dict[str, list[int]] = {"stub": [stub_pid]}
    if shared:
        servers["redis"].flush()
        servers["postgres"].reset()
        settings |= {"redis_url": servers["redis"].url, "audit_db": servers["postgres"].url}
        pids |= {"redis": [servers["redis"].proc.pid],
                 "postgres": [servers["postgres"].proc.pid]}  # fmt: skip
    else:
        settings["audit_log"] = str(tmp / f"audit-{workers}.jsonl")
    config = tmp / f"proxy-{workers}-{shared}.yaml"
    config.write_text(json.dumps(settings))
    port = free_port()
    command = [sys.executable, "-c", "from redline.cli import main; main()", "guard", "serve",
               "--guard", str(guard), "--config", str(config), "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    metrics = tmp / f"metrics-{workers}-{shared}"
    metrics.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics)}  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running_process(command, f"{url}/readyz", env=env, timeout=900) as proxy:
        wait_for_workers(metrics, workers)
        result = measure(url, stub, key, pids | {"proxy": [proxy.pid]}, args)
    return result


def tiny_guard(folder: Path) -> Path:
    """The tests' tiny constitution's TF-IDF guard, trained now and saved in `folder`."""
    from tests.guard.tiny import TINY

    from redline._yaml import parse_yaml_model
    from redline.guard import Constitution, train_guard

    constitution = parse_yaml_model(TINY, Constitution, name="tiny.yaml")
    return train_guard(constitution, backend="tfidf", seed=0, holdout=0.25).save(folder)


def wait_for_workers(metrics: Path, workers: int, timeout: float = 900) -> None:
    """Until every worker has built its app (each then has its metric files), and a little
    longer for its warm-up screens: no measurement includes a worker still loading."""
    if workers == 1:
        return
    deadline = time.monotonic() + timeout
    while len(list(metrics.glob("counter_*.db"))) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{workers} workers did not all start")
        time.sleep(0.5)
    time.sleep(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guard", type=Path, default=None)
    parser.add_argument(
        "--tiny-guard", action="store_true", help="Train the tests' tiny TF-IDF guard and use it."
    )
    parser.add_argument("--clients", type=int, default=16, help="Saturating clients.")
    parser.add_argument("--requests", type=int, default=8, help="Requests per saturating client.")
    parser.add_argument("--light", type=int, default=2, help="Clients of the latency runs.")
    parser.add_argument("--light-requests", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="Direct/proxy latency alternations.")
    parser.add_argument("--words", type=int, default=64, help="Words the stub streams.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/proxy_scale.json"))
    args = parser.parse_args()
    guard = args.guard or default_guard_dir()
    if args.tiny_guard:
        guard = tiny_guard(Path(tempfile.mkdtemp(prefix="redline-bench-guard-")))
    if not (guard / "guard.json").exists():
        parser.error(f"no guard in {guard}: train one (redline guard train --backend tfidf "
                     "--out DIR) and pass --guard DIR")  # fmt: skip
    os.environ[AUDIT_KEY_ENV] = secrets.token_hex(32)

    results: dict[str, Any] = {"guard": str(guard), "cores": os.cpu_count(),
                               "clients": args.clients, "requests": args.requests,
                               "light_clients": args.light, "words": args.words,
                               "load_average_before": os.getloadavg(), "runs": {}}  # fmt: skip
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmpdir:
        redis, postgres = RedisServer(), PostgresServer()
        stack.callback(postgres.remove)
        redis.start()
        stack.callback(redis.stop)
        postgres.start()
        servers = {"redis": redis, "postgres": postgres}
        port = free_port()
        stub_cmd = [sys.executable, "-m", "tests.guard.upstream_stub", "--port", str(port),
                    "--words", str(args.words)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
        stub_proc = stack.enter_context(
            running_process(stub_cmd, f"http://127.0.0.1:{port}/v1/models", env=env)
        )
        stub = f"http://127.0.0.1:{port}"
        for shared in (False, True):
            for workers in WORKERS if shared else (1,):
                name = f"{'redis+postgres' if shared else 'memory'} x{workers}"
                print(f"running {name} ...", file=sys.stderr, flush=True)
                results["runs"][name] = run_config(workers, shared, stub, stub_proc.pid, guard,
                                                   servers, Path(tmpdir), args)  # fmt: skip
    results["load_average_after"] = os.getloadavg()
    report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


def report(results: dict[str, Any]) -> None:
    runs = results["runs"]
    base = runs["memory x1"]
    table = Table(title=f"Guard proxy scale-out ({results['cores']} cores; stub upstream, "
                  f"{results['words']}-word streams; ratios to one in-memory process)")  # fmt: skip
    columns = ("state x workers", "sat. req/s", "ratio", "added p50 ms", "added p99 ms",
               "proxy CPU ms/req", "ratio", "req per proxy CPU-s", "proxy %", "stub %",
               "load gen %", "redis+pg %", "others %", "idle %", "errors")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for name, r in runs.items():
        share = r["cpu_share"]
        shared_pct = (share.get("redis", 0) + share.get("postgres", 0)) * 100
        table.add_row(
            name, f"{r['saturation']['rps']:.1f}",
            f"{r['saturation']['rps'] / base['saturation']['rps']:.2f}x",
            f"{r['latency']['added_p50_ms']:.1f}", f"{r['latency']['added_p99_ms']:.1f}",
            f"{r['proxy_cpu_ms_per_request']:.1f}",
            f"{r['proxy_cpu_ms_per_request'] / base['proxy_cpu_ms_per_request']:.2f}x",
            f"{r['requests_per_proxy_cpu_second']:.0f}", f"{share['proxy'] * 100:.0f}",
            f"{share['stub'] * 100:.0f}", f"{share['load generator'] * 100:.0f}",
            f"{shared_pct:.0f}" if "redis" in share else "-", f"{share['others'] * 100:.0f}",
            f"{share['idle'] * 100:.0f}",
            str(r["errors"]),
        )  # fmt: skip
    for workers in WORKERS[1:]:
        table.add_row(f"memory x{workers}", *["refused"] + ["-"] * (len(columns) - 2))
    console = Console(width=160)
    console.print(table)
    console.print(
        "CPU shares are of all {} cores over the saturated run's wall time (others: every other "
        "process on the machine); load average "
        "before {:.2f}, after {:.2f}.".format(results["cores"], results["load_average_before"][0],
                                              results["load_average_after"][0])
    )  # fmt: skip
    shared1 = runs.get("redis+postgres x1")
    if shared1:
        added = shared1["latency"]["added_p50_ms"] - base["latency"]["added_p50_ms"]
        cpu = shared1["proxy_cpu_ms_per_request"] / base["proxy_cpu_ms_per_request"]
        console.print(
            f"shared state, one worker: {added:+.1f} ms p50 added latency, {cpu:.2f}x proxy CPU "
            "per request (targets <= 2 ms, <= 1.25x)"
        )
        per_core = shared1["requests_per_proxy_cpu_second"]
        console.print(
            f"with more cores: about {per_core:.0f} requests/s per core given to workers "
            "(requests per proxy CPU-second, Redis + PostgreSQL state), while the upstream, "
            "Redis and PostgreSQL keep up"
        )


if __name__ == "__main__":
    main()

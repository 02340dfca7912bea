"""The guard proxy beyond one process: 1, 2 and 4 workers, in-memory state vs Redis + PostgreSQL.

Targets (issue 19): shared state adds <= 2 ms p50 and <= 1.25x proxy CPU per request; two
workers' saturated throughput above one worker's.
Usage: python bench/proxy_scale.py [--guard DIR | --tiny-guard] [--clients 16] [--requests 8]
       [--words 64] [--repeat 3] [--out bench/results/proxy_scale.json]

Each run measures every configuration against the same stub upstream (no delay: the proxy is the
bottleneck) and, for shared state, a private Redis and a private PostgreSQL started from the
Debian packages' binaries (as the tests do). Each configuration is one `redline guard serve`
(with `--workers N`) with one client key and its audit log: a JSONL file in memory mode, the
PostgreSQL chain in shared mode. In-memory state runs in one process only: the proxy refuses
several workers without Redis (each would allow the key's whole limit) and a JSONL log with
several writers, so those rows say so instead of a figure.

For each configuration:
- latency: `--light` clients (default 2) streaming one request after another, through the
  proxy and direct to the stub, in alternating rounds; added latency = proxied minus direct,
  p50/p99. The one-process in-memory and shared-state proxies run side by side and their
  rounds interleave (stub, memory, shared, stub, shared, memory, ...), so the difference the
  targets name is not the machine's drift between two runs nor which ran first.
- the load generator speaks plain HTTP/1.1 on sockets: an HTTP client library took a fifth of
  the 2 cores the workers need. Saturating clients open a connection per request, so the
  kernel hands connections to whichever worker is free (kept-alive connections stay with the
  worker that accepted them, and one worker could take all sixteen).
- `--repeat` runs (default 3): the table shows each figure's median, and the targets' figures
  are printed for every run (on a shared 2-core machine one run's figures wander by a
  third).
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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NamedTuple

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


async def one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, key: str, prompt: str
) -> float:
    """One streamed chat on a kept-alive connection, read to its last chunk: its seconds.

    Plain HTTP/1.1 on a socket, so the load generator spends little of the 2 cores the proxy's
    workers need (an HTTP client library's parsing cost several times more).
    """
    body = json.dumps(
        {"model": "m", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    ).encode()
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    head = (f"POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{auth}\r\n").encode()  # fmt: skip
    started = time.perf_counter()
    writer.write(head + body)
    status = await reader.readline()
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        data = bytearray()
        while size := int((await reader.readline()).split(b";")[0], 16):
            data += (await reader.readexactly(size + 2))[:-2]
        await reader.readexactly(2)
    else:
        data = bytearray(await reader.readexactly(int(headers.get("content-length", "0"))))
    if status.split(b" ")[1:2] != [b"200"]:
        raise RuntimeError(f"{status.decode().strip()}: {bytes(data[:200])!r}")
    if b'"error"' in data:
        raise RuntimeError(bytes(data[:200]).decode(errors="replace"))
    return time.perf_counter() - started


async def load(
    url: str, key: str, clients: int, requests: int, reconnect: bool = False
) -> dict[str, Any]:
    """`clients` closed-loop clients sending `requests` each, on a kept-alive connection each
    or, with `reconnect`, a new connection per request."""
    times: list[float] = []
    errors: list[str] = []
    parsed = httpx.URL(url)
    path = parsed.raw_path.decode()

    async def client_loop(i: int) -> None:
        reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
        try:
            for j in range(requests):
                if reconnect and j:
                    writer.close()
                    reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
                try:
                    times.append(
                        await one(reader, writer, path, key, PROMPTS[(i + j) % len(PROMPTS)])
                    )
                except Exception as ex:
                    errors.append(f"{type(ex).__name__}: {ex}"[:200])
                    writer.close()
                    reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(i) for i in range(clients)))
    return {"times": times, "wall": time.perf_counter() - started, "errors": errors}


def ms(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q) * 1000) if xs else float("nan")


class Served(NamedTuple):
    """A running proxy under test: its URL, client key and processes."""

    url: str
    key: str
    pid: int


def latency(stub: str, proxies: dict[str, Served], args: argparse.Namespace) -> dict[str, Any]:
    """Light-load latency of each proxy and of the stub alone, in interleaved rounds.

    Every round measures the stub directly, then each proxy in turn, so drift in the machine's
    speed (a shared machine's other jobs) falls on all of them alike; the proxies' order is
    reversed every other round, so neither always runs first. Added = proxied - direct.
    """
    direct: list[float] = []
    proxied: dict[str, list[float]] = {name: [] for name in proxies}
    errors: dict[str, list[str]] = {name: [] for name in proxies}
    chat = "/v1/chat/completions"
    for p in proxies.values():
        asyncio.run(load(p.url + chat, p.key, args.clients, 2))  # warm up every worker's pools
    order = list(proxies.items())
    for i in range(args.rounds):
        direct += asyncio.run(load(stub + chat, "", args.light, args.light_requests))["times"]
        for name, p in order if i % 2 == 0 else order[::-1]:
            got = asyncio.run(load(p.url + chat, p.key, args.light, args.light_requests))
            proxied[name] += got["times"]
            errors[name] += got["errors"]
    return {
        name: {"direct_p50_ms": ms(direct, 50), "direct_p99_ms": ms(direct, 99),
               "proxied_p50_ms": ms(times, 50), "proxied_p99_ms": ms(times, 99),
               "added_p50_ms": ms(times, 50) - ms(direct, 50),
               "added_p99_ms": ms(times, 99) - ms(direct, 99),
               "requests": len(times), "errors": len(errors[name])}
        for name, times in proxied.items()
    }  # fmt: skip


def saturation(
    served: Served, pids: dict[str, list[int]], args: argparse.Namespace
) -> dict[str, Any]:
    """Saturated throughput of one proxy, with every process's CPU read over the run."""
    url = served.url + "/v1/chat/completions"
    pids = pids | {"proxy": [served.pid]}
    cpu_before = {name: sum(cpu_seconds(pid) for pid in group) for name, group in pids.items()}
    gen_before = own_cpu()
    busy_before, idle_before = machine_cpu()
    saturated = asyncio.run(load(url, served.key, args.clients, args.requests, reconnect=True))
    gen = own_cpu() - gen_before
    busy_after, idle_after = machine_cpu()
    cpu = {name: sum(cpu_seconds(pid) for pid in group) - cpu_before[name]
           for name, group in pids.items()}  # fmt: skip
    cpu["load generator"] = gen
    wall = saturated["wall"]
    done = len(saturated["times"])
    capacity = wall * (os.cpu_count() or 1)
    share = {name: seconds / capacity for name, seconds in cpu.items()}
    # what the rest of the machine took (other people's jobs), and what was left idle
    machine = (busy_after - busy_before) + (idle_after - idle_before)
    share["others"] = max(0.0, (busy_after - busy_before) / machine - sum(share.values()))
    share["idle"] = (idle_after - idle_before) / machine
    return {
        "saturation": {"requests": done, "wall_s": wall, "rps": done / wall,
                       "errors": len(saturated["errors"]),
                       "error_messages": sorted(set(saturated["errors"]))[:5]},
        "cpu_seconds": cpu,
        "cpu_share": share,
        "proxy_cpu_ms_per_request": cpu["proxy"] * 1000 / done if done else float("nan"),
        "requests_per_proxy_cpu_second": done / cpu["proxy"] if cpu["proxy"] else float("nan"),
    }  # fmt: skip


@contextmanager
def serving(
    workers: int, shared: bool, stub: str, guard: Path, servers: dict[str, Any], tmp: Path
) -> Iterator[Served]:
    """One `redline guard serve` with one client key.

    Memory state and a JSONL audit log, or Redis and the PostgreSQL chain (emptied first).
    """
    folder = Path(tempfile.mkdtemp(prefix=f"proxy-{workers}-{shared}-", dir=tmp))
    key = new_key()
    entry = ClientKey(name="bench", hash=hash_key(key), requests_per_minute=1e9, burst=1e9,
                      max_streams=10_000)  # fmt: skip
    settings: dict[str, Any] = {"upstream": f"{stub}/v1", "keys": [entry.model_dump()],
                                "audit_key_env": AUDIT_KEY_ENV}  # fmt: skip
    if shared:
        servers["redis"].flush()
        servers["postgres"].reset()
        settings |= {"redis_url": servers["redis"].url, "audit_db": servers["postgres"].url}
    else:
        settings["audit_log"] = str(folder / "audit.jsonl")
    config = folder / "proxy.yaml"
    config.write_text(json.dumps(settings))
    port = free_port()
    command = [sys.executable, "-c", "from redline.cli import main; main()", "guard", "serve",
               "--guard", str(guard), "--config", str(config), "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    metrics = folder / "metrics"
    metrics.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics)}  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running_process(command, f"{url}/readyz", env=env, timeout=900) as proxy:
        wait_for_workers(metrics, workers)
        yield Served(url, key, proxy.pid)


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
    parser.add_argument("--light-requests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="Direct/proxy latency alternations.")
    parser.add_argument("--words", type=int, default=64, help="Words the stub streams.")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Whole runs; the table shows each figure's median."
    )
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
                               "load_average_before": os.getloadavg(), "repeats": []}  # fmt: skip
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
        tmp = Path(tmpdir)
        pids: dict[str, list[int]] = {"stub": [stub_proc.pid]}
        shared_pids = pids | {"redis": [redis.proc.pid], "postgres": [postgres.proc.pid]}
        for repeat in range(args.repeat):
            runs: dict[str, Any] = {}
            results["repeats"].append(runs)
            # one process of each state side by side: their latency rounds interleave
            print(f"[{repeat + 1}/{args.repeat}] memory x1 and redis+postgres x1 ...",
                  file=sys.stderr, flush=True)  # fmt: skip
            with serving(1, False, stub, guard, servers, tmp) as memory, \
                    serving(1, True, stub, guard, servers, tmp) as shared:  # fmt: skip
                both = latency(stub, {"memory x1": memory, "redis+postgres x1": shared}, args)
                runs["memory x1"] = {"latency": both["memory x1"],
                                     **saturation(memory, pids, args)}  # fmt: skip
                runs["redis+postgres x1"] = {"latency": both["redis+postgres x1"],
                                             **saturation(shared, shared_pids, args)}  # fmt: skip
            for workers in WORKERS[1:]:
                name = f"redis+postgres x{workers}"
                print(f"[{repeat + 1}/{args.repeat}] {name} ...", file=sys.stderr, flush=True)
                with serving(workers, True, stub, guard, servers, tmp) as served:
                    runs[name] = {"latency": latency(stub, {name: served}, args)[name],
                                  **saturation(served, shared_pids, args)}  # fmt: skip
    results["runs"] = median_of(results["repeats"])
    results["load_average_after"] = os.getloadavg()
    report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


def median_of(repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """Each numeric figure's median over the repeated runs (other values: the first run's)."""

    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {k: merge([v[k] for v in values if k in v]) for k in first}
        if isinstance(first, int | float) and not isinstance(first, bool):
            return float(np.median(values))
        return first

    return dict(merge(repeats))


def targets(repeats: list[dict[str, Any]]) -> dict[str, list[float]]:
    """The targets' figures in each run, each from figures measured side by side in it."""
    out: dict[str, list[float]] = {"added_ms": [], "cpu_ratio": [], "two_workers_ratio": []}
    for runs in repeats:
        memory, shared = runs["memory x1"], runs["redis+postgres x1"]
        out["added_ms"].append(
            shared["latency"]["added_p50_ms"] - memory["latency"]["added_p50_ms"]
        )
        out["cpu_ratio"].append(
            shared["proxy_cpu_ms_per_request"] / memory["proxy_cpu_ms_per_request"]
        )
        two = runs["redis+postgres x2"]["saturation"]["rps"]
        out["two_workers_ratio"].append(two / shared["saturation"]["rps"])
    return out


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
            str(r["latency"]["errors"] + r["saturation"]["errors"]),
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
    found = results["targets"] = targets(results["repeats"])

    def spread(xs: list[float], unit: str) -> str:
        return f"{np.median(xs):.2f}{unit} (runs: {', '.join(f'{x:.2f}' for x in xs)})"

    console.print(
        f"shared state, one worker: {spread(found['added_ms'], ' ms')} p50 added latency "
        f"(target <= 2 ms), {spread(found['cpu_ratio'], 'x')} proxy CPU per request (target "
        f"<= 1.25x); two workers' saturated throughput {spread(found['two_workers_ratio'], 'x')}"
        " one worker's (target > 1)"
    )
    per_core = runs["redis+postgres x1"]["requests_per_proxy_cpu_second"]
    console.print(
        f"with more cores: about {per_core:.0f} requests/s per core given to workers "
        "(requests per proxy CPU-second, Redis + PostgreSQL state), while the upstream, "
        "Redis and PostgreSQL keep up"
    )


if __name__ == "__main__":
    main()

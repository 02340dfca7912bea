"""Guard latency and throughput: single-message p50/p99 and batch texts/s, per backend.

Targets (issue 5, default backend): p50 <= 10 ms and p99 <= 30 ms per message. Wall-clock
latency depends on what else runs on the machine, so the table also gives the CPU time per
message (all threads of this process) and the 1-minute load average.
Usage: python bench/guard_speed.py [--guard DIR] [--n 500] [--out FILE]
Uses the trained default guard (`redline guard train`) unless --guard is given.
"""

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from redline.guard import Guard, default_guard_dir, load_constitution


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guard", type=Path, default=None)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("bench/results/guard_speed.json"))
    args = parser.parse_args()

    guard = Guard.load(args.guard or default_guard_dir())
    c = load_constitution("default")
    pool = [s for cat in c.categories for s in cat.harmful_seeds + cat.permitted_seeds]
    # distinct texts for each phase: the embedding backends cache what they have embedded
    sample = random.Random(0).sample(pool, k=2 * args.n)
    texts, batched = sample[: args.n], sample[args.n :]
    guard.classify(["warm-up message"])  # loads MiniLM if the backend uses it

    latencies, cpu = [], []
    for text in texts:
        t0, c0 = time.perf_counter(), time.process_time()
        guard.screen_input(text)
        latencies.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    t0 = time.perf_counter()
    for i in range(0, len(batched), args.batch):
        guard.classify(batched[i : i + args.batch])
    throughput = len(batched) / (time.perf_counter() - t0)

    backend = guard.manifest.stages["input"].backend
    result = {
        "backend": backend,
        "n": args.n,
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "mean_ms": round(float(np.mean(latencies)), 2),
        "cpu_ms_p50": round(float(np.percentile(cpu, 50)), 2),
        "load_average": round(os.getloadavg()[0], 2),
        "batch": args.batch,
        "batch_texts_per_s": round(throughput, 1),
    }
    table = Table(
        title=f"Guard speed ({backend}, one message at a time, then batches of {args.batch})"
    )
    keys = ("p50_ms", "p99_ms", "mean_ms", "cpu_ms_p50", "batch_texts_per_s", "load_average")
    for key in keys:
        table.add_column(key, justify="right")
    table.add_row(*(str(result[k]) for k in keys))
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

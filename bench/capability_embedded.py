"""Every capability suite on the embedded model: solve rate or accuracy with its 95% CI, chance
level where there is one, and wall time per suite and per sample.

With `--reuse both` each suite runs twice, with the engine's prefix reuse (the default) and
with every prompt read in full (`-M prefix_reuse=false`, the engine before reuse), and the
table says how much faster a sample is with reuse and whether every sample's transcript (each
assistant message and tool call) is the same.

Usage: python bench/capability_embedded.py [--suite NAME]... [--limit N] [--reuse on|off|both]
       [--intercode PATH] [--out FILE]
Prints a table and writes JSON (default bench/results/capability_embedded.json).
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

from inspect_ai import eval
from inspect_ai.log import EvalLog
from rich.console import Console
from rich.table import Table

from redline.models import EMBEDDED_MODEL

SUITES = ("knowledge", "cyber", "autonomy")


def transcripts(log: EvalLog) -> dict[str, list[str]]:
    """Each sample's assistant messages (text and tool calls), by sample id and epoch."""
    return {
        f"{s.id}/{s.epoch}": [
            m.text + json.dumps([(c.function, c.arguments) for c in m.tool_calls or []])
            for m in s.messages
            if m.role == "assistant"
        ]
        for s in log.samples or []
    }


def run(
    task: str, limit: int | None, task_args: dict[str, Any], log_dir: str, reuse: bool
) -> dict[str, Any]:
    started = time.perf_counter()
    [log] = eval(
        task,
        model=EMBEDDED_MODEL,
        model_args={"prefix_reuse": reuse},
        limit=limit,
        task_args=task_args,
        log_dir=log_dir,
        display="none",
    )
    seconds = time.perf_counter() - started
    metrics = {
        n: m.value
        for s in (log.results.scores if log.results else [])
        for n, m in s.metrics.items()
    }
    samples = log.results.completed_samples if log.results else 0
    return {
        "task": task,
        "prefix_reuse": reuse,
        "status": log.status,
        "samples": samples,
        "accuracy": metrics.get("accuracy"),
        "ci": [metrics.get("lower"), metrics.get("upper")],
        "chance": (log.eval.metadata or {}).get("chance_level"),
        "seconds": round(seconds, 1),
        "seconds_per_sample": round(seconds / max(samples, 1), 1),
        "log": log.location,
        "transcripts": transcripts(log),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=SUITES, help="default: all")
    parser.add_argument("--limit", type=int, default=None, help="samples per suite")
    parser.add_argument("--reuse", choices=("on", "off", "both"), default="on")
    parser.add_argument("--intercode", default=None, help="InterCode-CTF folder (optional)")
    parser.add_argument("--log-dir", default="bench/results/logs")
    parser.add_argument("--out", type=Path, default=Path("bench/results/capability_embedded.json"))
    args = parser.parse_args()

    suites: list[tuple[str, dict[str, Any]]] = [
        (f"redline/{name}", {}) for name in args.suite or SUITES
    ]
    if args.intercode:
        suites.append(("redline/intercode", {"path": args.intercode}))
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.reuse]
    results = [
        [run(task, args.limit, task_args, args.log_dir, reuse) for reuse in modes]
        for task, task_args in suites
    ]

    table = Table(title=f"Capability suites on {EMBEDDED_MODEL}")
    columns = ["suite", "status", "samples", "accuracy / solve rate [95% CI]", "chance"]
    columns += ["wall (s)", "s / sample"]
    if len(modes) == 2:
        columns += ["s / sample, reuse off", "speed-up", "same transcripts"]
    for column in columns:
        table.add_column(column)
    for runs in results:
        r = runs[0]
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        if r["accuracy"] is not None and None not in r["ci"]:
            acc += f" [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
        chance = "-" if r["chance"] is None else f"{r['chance']:.2f}"
        row = [r["task"], r["status"], str(r["samples"]), acc, chance, str(r["seconds"])]
        row.append(str(r["seconds_per_sample"]))
        if len(runs) == 2:
            off = runs[1]
            same = sum(t == off["transcripts"].get(k) for k, t in r["transcripts"].items())
            r["same_transcripts_as_reuse_off"] = same
            speed_up = off["seconds"] / max(r["seconds"], 1e-9)
            r["speed_up"] = round(speed_up, 2)
            row += [str(off["seconds_per_sample"]), f"{speed_up:.1f}x", f"{same}/{r['samples']}"]
        table.add_row(*row)
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    flat = [run_ for runs in results for run_ in runs]
    args.out.write_text(
        json.dumps({"model": EMBEDDED_MODEL, "limit": args.limit, "suites": flat}, indent=2) + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

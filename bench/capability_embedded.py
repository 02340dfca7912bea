"""Every capability suite on the embedded model: solve rate or accuracy with its 95% CI, chance
level where there is one, and wall time per suite.

Usage: python bench/capability_embedded.py [--limit N] [--intercode PATH] [--out FILE]
Prints a table and writes JSON (default bench/results/capability_embedded.json).
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

from inspect_ai import eval
from rich.console import Console
from rich.table import Table

from redline.models import EMBEDDED_MODEL


def run(task: str, limit: int | None, task_args: dict[str, Any], log_dir: str) -> dict[str, Any]:
    started = time.perf_counter()
    [log] = eval(
        task,
        model=EMBEDDED_MODEL,
        limit=limit,
        task_args=task_args,
        log_dir=log_dir,
        display="none",
    )
    metrics = {
        n: m.value
        for s in (log.results.scores if log.results else [])
        for n, m in s.metrics.items()
    }
    return {
        "task": task,
        "status": log.status,
        "samples": log.results.completed_samples if log.results else 0,
        "accuracy": metrics.get("accuracy"),
        "ci": [metrics.get("lower"), metrics.get("upper")],
        "chance": (log.eval.metadata or {}).get("chance_level"),
        "seconds": round(time.perf_counter() - started, 1),
        "log": log.location,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="samples per suite")
    parser.add_argument("--intercode", default=None, help="InterCode-CTF folder (optional)")
    parser.add_argument("--log-dir", default="bench/results/logs")
    parser.add_argument("--out", type=Path, default=Path("bench/results/capability_embedded.json"))
    args = parser.parse_args()

    suites: list[tuple[str, dict[str, Any]]] = [
        ("redline/knowledge", {}),
        ("redline/cyber", {}),
        ("redline/autonomy", {}),
    ]
    if args.intercode:
        suites.append(("redline/intercode", {"path": args.intercode}))
    results = [run(task, args.limit, task_args, args.log_dir) for task, task_args in suites]

    table = Table(title=f"Capability suites on {EMBEDDED_MODEL}")
    for column in (
        "suite",
        "status",
        "samples",
        "accuracy / solve rate [95% CI]",
        "chance",
        "wall (s)",
    ):
        table.add_column(column)
    for r in results:
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        if r["accuracy"] is not None and None not in r["ci"]:
            acc += f" [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]"
        chance = "-" if r["chance"] is None else f"{r['chance']:.2f}"
        table.add_row(r["task"], r["status"], str(r["samples"]), acc, chance, str(r["seconds"]))
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"model": EMBEDDED_MODEL, "limit": args.limit, "suites": results}, indent=2)
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

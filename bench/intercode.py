"""InterCode-CTF loader on a local copy: how many tasks load, which are skipped and why, and how
many set up cleanly in the local sandbox (every asset present in the sample's directory).

Usage: python bench/intercode.py [--path ../shared/data/intercode_ctf] [--out FILE]
Prints a table and writes JSON (default bench/results/intercode.json). No model is called.
"""

import argparse
import collections
import json
import time
from pathlib import Path

from inspect_ai import eval
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import sandbox
from rich.console import Console
from rich.table import Table

from redline.evals.intercode import intercode


@solver
def check_setup() -> Solver:
    """Record whether every asset of the sample arrived in its sandbox, byte for byte in size."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        listing = await sandbox().exec(["find", ".", "-type", "f", "-printf", "%P %s\\n"])
        present = dict(line.rsplit(" ", 1) for line in listing.stdout.splitlines() if line)
        expected = {
            name: str(Path(src).stat().st_size) for name, src in state.metadata["files"].items()
        }
        state.metadata["setup_ok"] = all(present.get(n) == size for n, size in expected.items())
        return state

    return solve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="../shared/data/intercode_ctf")
    parser.add_argument("--out", type=Path, default=Path("bench/results/intercode.json"))
    args = parser.parse_args()

    started = time.perf_counter()
    task = intercode(args.path)
    for sample in task.dataset:
        sample.metadata = {**(sample.metadata or {}), "files": dict(sample.files or {})}
    task.solver = check_setup()
    [log] = eval(task, model="none", display="none", log_dir="/tmp/redline-bench-intercode")
    setup_ok = [s.id for s in log.samples or [] if s.metadata.get("setup_ok")]
    skipped = task.metadata["skipped"]
    result = {
        "records": len(task.dataset) + len(skipped),
        "runnable": len(task.dataset),
        "skipped": dict(collections.Counter(skipped.values())),
        "skipped_ids": skipped,
        "set_up_cleanly": len(setup_ok),
        "setup_failures": sorted(int(s.id) for s in log.samples or [] if s.id not in setup_ok),
        "seconds": round(time.perf_counter() - started, 1),
    }
    table = Table(title="InterCode-CTF loader")
    table.add_column("what")
    table.add_column("tasks", justify="right")
    table.add_row("records in ic_ctf.json", str(result["records"]))
    for reason, count in result["skipped"].items():
        table.add_row(f"skipped: {reason}", str(count))
    table.add_row("runnable offline", str(result["runnable"]))
    table.add_row("set up cleanly in the local sandbox", str(result["set_up_cleanly"]))
    table.add_row("wall time (s)", str(result["seconds"]))
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

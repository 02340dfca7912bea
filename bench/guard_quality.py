"""Guard quality on public sets the guard never trained on (XSTest, JailbreakBench, OpenAI
moderation), plus training time. Targets (issue 5): XSTest unsafe >= 90% flagged, safe <= 5%;
JBB harmful >= 95%, benign <= 5%; moderation F1 per category reported.

Usage: python bench/guard_quality.py [--backend svm] [--data DIR] [--guard DIR] [--out FILE]
Trains the default guard from the default constitution (only), or takes --guard, then evaluates
it: each text screened as the proxy screens it, in its parts.
"""

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from redline.guard import (
    DEFAULT_BACKEND,
    Guard,
    evaluate,
    load_constitution,
    load_eval_data,
    train_guard,
)

SETS = [
    ("xstest", "xstest"),
    ("jbb", "jbb_behaviors"),
    ("openai-moderation", "openai_moderation/samples-1680.jsonl.gz"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=DEFAULT_BACKEND)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/guard_quality.json"))
    parser.add_argument("--guard", type=Path, default=None, help="a trained guard to evaluate")
    args = parser.parse_args()

    started = time.perf_counter()
    if args.guard:  # trained earlier: its manifest says how long training took
        guard = Guard.load(args.guard)
        train_s = guard.manifest.train_seconds
    else:
        guard = train_guard(load_constitution("default"), backend=args.backend, seed=args.seed)
        train_s = time.perf_counter() - started
    reports = {
        fmt: evaluate(guard, load_eval_data(args.data / path, fmt), data=path) for fmt, path in SETS
    }

    table = Table(title=f"Guard quality ({args.backend}, trained in {train_s:.0f} s)")
    for column in (
        "set",
        "n",
        "TPR (harmful flagged)",
        "FPR (benign flagged)",
        "F1",
        "AUPRC",
        "p50 ms",
    ):
        table.add_column(column, justify="right")
    for name, r in reports.items():
        table.add_row(
            name,
            str(r.n),
            f"{r.tpr:.3f}",
            f"{r.fpr:.3f}",
            f"{r.f1:.3f}",
            f"{r.auprc:.3f}",
            f"{r.latency_ms_p50:.1f}",
        )
    console = Console()
    console.print(table)
    moderation = reports["openai-moderation"].per_category
    console.print(
        "OpenAI moderation F1 by category: "
        + ", ".join(f"{k} {v.f1:.2f}" for k, v in moderation.items())
    )
    console.print(
        "XSTest flag rate by type: "
        + json.dumps({k: round(v, 2) for k, v in reports["xstest"].flag_rate_by_group.items()})
    )
    result = {
        "backend": args.backend,
        "train_seconds": round(train_s, 1),
        "manifest": guard.manifest.model_dump(),
        "reports": {k: v.model_dump() for k, v in reports.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

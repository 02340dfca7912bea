"""Guard quality on public sets the guard never trained on (XSTest, JailbreakBench, OpenAI
moderation), plus training time.

Targets (issue 18): moderation F1 >= 0.68 and recall >= 0.50 in each of its categories; XSTest
unsafe >= 85% flagged, safe <= 5%; JBB harmful >= 85%, benign <= 10%; training < 180 s.
A tagged text (a `tag` category, e.g. a self-harm disclosure let through for a supportive
answer) counts as detected.

Usage: python bench/guard_quality.py [--backend svm [--backend ensemble ...]] [--members]
       [--data ../shared/data] [--guard DIR [--without-multilingual | --multilingual-delta]]
       [--out FILE]
Every text is screened as the proxy screens it, in its parts.
With --members, an ensemble's svm and TF-IDF members are measured too, each as a guard of its
own: the same fitted models, the input threshold calibrated alone as training calibrates it.
Trains each backend's guard from the default constitution only, leaving out any seed equal or
near to a test text (a few generic template expansions coincide with XSTest prompts), then
evaluates it.
"""

import argparse
import json
import time
from copy import copy
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from redline.guard import (
    DEFAULT_BACKEND,
    Constitution,
    Guard,
    evaluate,
    load_constitution,
    load_eval_data,
    train_guard,
)
from redline.guard._guard import verdicts
from redline.guard._train import calibrate, stage_examples, stage_sample

SETS = {
    "xstest": "xstest",
    "jbb": "jbb_behaviors",
    "openai-moderation": "openai_moderation/samples-1680.jsonl.gz",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", help=f"default: {DEFAULT_BACKEND}")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--members", action="store_true", help="also an ensemble's members")
    parser.add_argument("--out", type=Path, default=Path("bench/results/guard_quality.json"))
    parser.add_argument("--guard", type=Path, help="evaluate this trained guard instead")
    parser.add_argument(
        "--without-multilingual",
        action="store_true",
        help="also evaluate the --guard without its multilingual head (English classifier only)",
    )
    parser.add_argument(
        "--multilingual-delta",
        action="store_true",
        help="only what the --guard's multilingual head changes: the texts with a part it reads, "
        "screened with and without it",
    )
    args = parser.parse_args()
    if args.multilingual_delta:
        multilingual_delta(args.guard, args.data, args.out)
        return

    data = {name: load_eval_data(args.data / path) for name, path in SETS.items()}
    every_text = [r.text for rows in data.values() for r in rows]
    console = Console()
    results = {}
    constitution = load_constitution("default")
    guards: dict[str, tuple[Guard, float]] = {}
    if args.guard:  # trained earlier: its manifest says how long training took
        given = Guard.load(args.guard)
        guards[str(args.guard)] = given, given.manifest.train_seconds
        if args.without_multilingual and given.multilingual is not None:
            alone = copy(given)
            alone.multilingual = None
            guards[f"{args.guard} without its multilingual head"] = alone, 0.0
    for backend in args.backend or ([] if args.guard else [DEFAULT_BACKEND]):
        started = time.perf_counter()
        guard = train_guard(constitution, backend=backend, seed=args.seed, exclude=every_text)
        guards[backend] = guard, time.perf_counter() - started
        if args.members and backend == "ensemble":
            for name, member in members(guard, constitution, every_text, args.seed).items():
                guards[f"{name} (ensemble member)"] = member, 0.0
    for backend, (guard, train_s) in guards.items():
        reports = {name: evaluate(guard, rows, data=name) for name, rows in data.items()}
        table = Table(title=f"Guard quality ({backend}, trained in {train_s:.0f} s)")
        for column in ("set", "n", "TPR (harmful flagged)", "FPR (benign flagged)", "F1",
                       "AUPRC", "best TPR at FPR 5% / 10%", "best F1", "p50 ms"):  # fmt: skip
            table.add_column(column, justify="right")
        for name, r in reports.items():
            best = " / ".join(f"{v:.3f}" for v in r.best_tpr_at_fpr.values())
            table.add_row(name, str(r.n), f"{r.tpr:.3f}", f"{r.fpr:.3f}", f"{r.f1:.3f}",
                          f"{r.auprc:.3f}", best, f"{r.best_f1 or 0:.3f}",
                          f"{r.latency_ms_p50:.1f}")  # fmt: skip
        console.print(table)
        moderation = reports["openai-moderation"].per_category
        console.print(
            "OpenAI moderation by category (recall / F1): "
            + ", ".join(f"{k} {v.recall:.2f} / {v.f1:.2f}" for k, v in moderation.items())
        )
        console.print(
            "XSTest flag rate by type: "
            + json.dumps({k: round(v, 2) for k, v in reports["xstest"].flag_rate_by_group.items()})
        )
        results[backend] = {
            "train_seconds": round(train_s, 1),
            "manifest": guard.manifest.model_dump(),
            "reports": {k: v.model_dump() for k, v in reports.items()},
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


def multilingual_delta(folder: Path, data_dir: Path, out: Path) -> None:
    """Each set's texts the multilingual head reads (a part of them routed to it), screened
    with and without the head: what it flags or clears beyond the English classifier.

    Every other text's verdict is the English classifier's alone, so this is the whole change
    the head makes to the set's figures.
    """
    from redline.guard._language import detect
    from redline.guard._parts import input_parts

    guard = Guard.load(folder)
    alone = copy(guard)
    alone.multilingual = None
    console = Console()
    table = Table(title=f"What the multilingual head of {folder} changes (input screen)")
    for column in ("set", "n", "routed", "harmful routed", "newly flagged: harmful", "benign"):
        table.add_column(column, justify="right")
    results = {}
    for name, path in SETS.items():
        rows = load_eval_data(data_dir / path)
        routed = [r for r in rows if any(detect(p.text).multilingual for p in input_parts(r.text))]
        with_head = [guard.screen_input(r.text).flagged for r in routed]
        without = [alone.screen_input(r.text).flagged for r in routed]
        gained = [
            r.label for r, a, b in zip(routed, with_head, without, strict=True) if a and not b
        ]
        lost = sum(b and not a for a, b in zip(with_head, without, strict=True))
        results[name] = {
            "n": len(rows),
            "routed": len(routed),
            "harmful_routed": sum(r.label for r in routed),
            "newly_flagged_harmful": sum(gained),
            "newly_flagged_benign": len(gained) - sum(gained),
            "unflagged": lost,
        }
        r = results[name]
        table.add_row(name, str(len(rows)), str(len(routed)), str(r["harmful_routed"]),
                      str(r["newly_flagged_harmful"]), str(r["newly_flagged_benign"]))  # fmt: skip
    console.print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


def members(
    guard: Guard, constitution: Constitution, exclude: list[str], seed: int
) -> dict[str, Guard]:
    """An ensemble guard's svm and TF-IDF members, each weighed alone, as guards of their own.

    Each member's input threshold is calibrated as training calibrates the ensemble's: on the
    same held-out examples, scored on their decoded views, to the same target.
    """
    ensemble = guard.backends["input"]
    examples = stage_examples(constitution, seed, exclude=exclude)["input"]
    _, calib = stage_sample(examples, "input", ensemble.max_train, 0.2, seed)
    texts, y = [e.text for e in calib], np.asarray([e.label for e in calib])
    info = guard.manifest.stages["input"]
    out = {}
    for name, weights in {"svm": [1.0, 0.0], "tfidf": [0.0, 1.0]}.items():
        member = copy(ensemble)
        member.weights, member.bias = np.asarray(weights), 0.0  # type: ignore[attr-defined]
        scores = np.asarray([v.score for v in verdicts(member, texts, "input", 0.0)])
        threshold = calibrate(scores[y == 0], info.target_fpr)
        stages = guard.manifest.stages | {"input": info.model_copy(update={"threshold": threshold})}
        manifest = guard.manifest.model_copy(update={"stages": stages})
        out[name] = Guard(manifest, guard.backends | {"input": member}, guard.prefilters)
    return out


if __name__ == "__main__":
    main()

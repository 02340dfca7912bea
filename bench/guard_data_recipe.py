"""What a licensed public set adds to the constitution: train with one dev set, test on the others.

The recipe of docs/guard.md ("Your own data"): convert a labelled public set to JSONL (text,
label, category mapped onto the constitution's), then `redline guard train --data FILE --eval
TEST...` so nothing equal or near to a test text is trained on. Here each shared dev set takes a
turn as the training data and the other two are the test sets; the guard trained on the
constitution alone is the baseline. This is the only place the shared data trains anything.

Usage: python bench/guard_data_recipe.py [--data ../shared/data] [--backend B]
       [--train-on openai-moderation ...] [--no-baseline] [--out FILE]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from redline.guard import (
    DEFAULT_BACKEND,
    drop_overlap,
    evaluate,
    labelled_examples,
    load_constitution,
    load_eval_data,
    train_guard,
)
from redline.guard._evaluate import LabelledText

SETS = {
    "xstest": "xstest",
    "jbb": "jbb_behaviors",
    "openai-moderation": "openai_moderation/samples-1680.jsonl.gz",
}
MODERATION = {
    "S3": "child_sexual_content", "SH": "self_harm_disclosure", "H2": "hate_harassment",
    "V2": "violent_crime", "S": "sexual_content_adults", "H": "hate_harassment",
    "HR": "hate_harassment", "V": "violent_crime",
}  # fmt: skip
"""The moderation set's labels as default-constitution categories, most specific first."""
JBB = {
    "Harassment/Discrimination": "hate_harassment", "Malware/Hacking": "cyber_attacks",
    "Physical harm": "violent_crime", "Economic harm": "fraud_scams",
    "Fraud/Deception": "fraud_scams", "Disinformation": "disinformation_defamation",
    "Sexual/Adult content": "sexual_content_adults", "Privacy": "privacy_doxxing",
    "Expert advice": "dangerous_advice",
}  # fmt: skip
"""JailbreakBench categories as default-constitution categories (the rest: none)."""


def as_training_rows(name: str, rows: list[LabelledText]) -> list[dict[str, object]]:
    """A dev set's rows in the `--data` JSONL layout, categories mapped where they can be."""
    out: list[dict[str, object]] = []
    for r in rows:
        category = None
        if r.label and name == "openai-moderation":
            category = next((c for k, c in MODERATION.items() if r.categories.get(k)), None)
        elif r.label and name == "jbb":
            category = JBB.get(r.group or "")
        out.append({"text": r.text, "label": r.label, "category": category})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--backend", default=DEFAULT_BACKEND)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train-on", action="append", choices=list(SETS),
        help="dev set to train with (repeatable; default: each in turn)",
    )  # fmt: skip
    parser.add_argument(
        "--no-baseline", action="store_true",
        help="skip the constitution-only guard (guard_quality.py measures it)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bench/results/guard_data_recipe.json"))
    args = parser.parse_args()

    constitution = load_constitution("default")
    data = {name: load_eval_data(args.data / path) for name, path in SETS.items()}
    runs: dict[str, dict[str, object]] = {}
    turns = args.train_on or list(SETS)
    for train_on in ([] if args.no_baseline else [None]) + turns:
        tests = [n for n in SETS if n != train_on]
        held_out = [r.text for n in tests for r in data[n]]
        extra = []
        if train_on is not None:
            with tempfile.TemporaryDirectory() as tmp:  # the recipe: a JSONL file, then --data
                path = Path(tmp) / f"{train_on}.jsonl"
                rows = as_training_rows(train_on, data[train_on])
                path.write_text("".join(json.dumps(r) + "\n" for r in rows))
                extra = labelled_examples(load_eval_data(path, "jsonl"), constitution, str(path))
            extra, overlap = drop_overlap([e.text for e in extra], extra, held_out)
            print(f"{train_on}: {overlap}")
        started = time.perf_counter()
        guard = train_guard(constitution, backend=args.backend, seed=args.seed, extra=extra,
                            exclude=held_out)  # fmt: skip
        seconds = time.perf_counter() - started
        reports = {n: evaluate(guard, data[n], data=n) for n in tests}
        runs[train_on or "constitution only"] = {
            "train_seconds": round(seconds, 1),
            "extra_examples": len(extra),
            "reports": {n: r.model_dump() for n, r in reports.items()},
        }

    table = Table(title=f"Constitution + one dev set ({args.backend}); tested on the others")
    for column in ("trained with", "test set", "TPR", "FPR", "F1", "AUPRC"):
        table.add_column(column, justify="right")
    for name, run in runs.items():
        for test, r in run["reports"].items():  # type: ignore[attr-defined]
            table.add_row(name, test, *(f"{r[k]:.3f}" for k in ("tpr", "fpr", "f1", "auprc")))
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"backend": args.backend, "runs": runs}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

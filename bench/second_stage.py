"""The second stage: how much traffic goes to the guard model, and what it changes.

Trains the default guard once (first stage, from the default constitution only), then for each
guard model calibrates the input stage's uncertain band on the constitution's held-out examples
(as `redline guard train --review-format ...` does) and screens the public sets with both
stages: the share of texts escalated, and flag rates before and after.

Guard models: `oracle`, a scripted guard model that always knows the label (the most a second
stage could add with that band), and `--model M --format F` (any Inspect model, e.g.
`redline/smollm2` with llama-guard-3: the embedded model prompted as Llama Guard, a weak
stand-in, as no guard model runs here; `none` for the oracle alone).

Usage: python bench/second_stage.py [--data ../shared/data] [--model redline/smollm2]
       [--format llama-guard-3] [--max-escalated 0.1] [--out FILE]
"""

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    modelapi,
)
from rich.console import Console
from rich.table import Table

from redline.guard import (
    DEFAULT_BACKEND,
    Guard,
    Reviewer,
    SecondStage,
    load_constitution,
    load_eval_data,
    train_guard,
)
from redline.guard._escalation import calibrate_band
from redline.guard._evaluate import _prf
from redline.guard._train import stage_examples, stage_sample

SETS = {
    "xstest": "xstest",
    "jbb": "jbb_behaviors",
    "openai-moderation": "openai_moderation/samples-1680.jsonl.gz",
}
LABELS: dict[str, int] = {}
"""What the oracle knows: each text's label (the calibration examples' and the test sets')."""


@modelapi(name="oracle")
class Oracle(ModelAPI):
    """A guard model that answers in Llama Guard's format with the text's true label."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)

    async def generate(
        self, input: list[ChatMessage], tools: Any, tool_choice: Any, config: GenerateConfig
    ) -> ModelOutput:
        match = re.search(r"User: (.*?)\n\n<END CONVERSATION>", input[-1].text, re.DOTALL)
        unsafe = LABELS.get(match.group(1) if match else "", 0)
        output = ModelOutput.from_content(
            model="oracle", content="unsafe\nS1" if unsafe else "safe"
        )
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--backend", default=DEFAULT_BACKEND)
    parser.add_argument(
        "--guard", type=Path,
        help="first stage: this guard (trained from the default constitution alone)",
    )  # fmt: skip
    parser.add_argument("--model", default="redline/smollm2", help="'none': the oracle only")
    parser.add_argument("--format", default="llama-guard-3")
    parser.add_argument("--max-escalated", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/second_stage.json"))
    args = parser.parse_args()

    constitution = load_constitution("default")
    data = {name: load_eval_data(args.data / path) for name, path in SETS.items()}
    every_text = [r.text for rows in data.values() for r in rows]
    exclude = [] if args.guard else every_text  # as the given guard was trained
    first = (
        Guard.load(args.guard)
        if args.guard
        else train_guard(constitution, backend=args.backend, exclude=exclude)
    )
    examples = stage_examples(constitution, exclude=exclude)["input"]
    _, calib = stage_sample(examples, "input", first.backends["input"].max_train, 0.2, 0)
    LABELS.update({e.text: e.label for e in calib})
    LABELS.update({r.text: r.label for rows in data.values() for r in rows})
    target = first.manifest.stages["input"].target_fpr

    results: dict[str, Any] = {"first stage alone": _measure(first, data)}
    reviewers = {"oracle (always right)": Reviewer(format="llama-guard-3", model="oracle/labels")}
    if args.model != "none":
        reviewers[f"{args.model} as {args.format}"] = Reviewer(format=args.format, model=args.model)
    for name, reviewer in reviewers.items():
        started = time.perf_counter()
        band = calibrate_band(first, "input", [e.text for e in calib], [e.label for e in calib],
                              reviewer, target, args.max_escalated)  # fmt: skip
        second = SecondStage(reviewer=reviewer, target_fpr=target, bands={"input": band})
        guard = Guard(first.manifest.model_copy(update={"second_stage": second}),
                      first.backends, first.prefilters)  # fmt: skip
        results[name] = _measure(guard, data) | {
            "band": band.model_dump(),
            "seconds": round(time.perf_counter() - started, 1),
        }

    backend = first.manifest.stages["input"].backend
    table = Table(title=f"Second stage on the input stage ({backend} first stage)")
    for column in ("screened by", "set", "escalated", "TPR", "FPR", "F1"):
        table.add_column(column, justify="right")
    for name, result in results.items():
        for set_name, r in result["sets"].items():
            table.add_row(name, set_name, f"{r['escalated']:.1%}",
                          *(f"{r[k]:.3f}" for k in ("tpr", "fpr", "f1")))  # fmt: skip
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


def _measure(guard: Guard, data: dict[str, Any]) -> dict[str, Any]:
    """Flag rates on each set (a tag counts), and the share of texts the second stage decided."""
    sets = {}
    for name, rows in data.items():
        texts = [r.text for r in rows]
        verdicts = [v for i in range(0, len(texts), 64) for v in guard.classify(texts[i : i + 64])]
        flags = np.asarray([v.flagged or bool(v.tags) for v in verdicts])
        labels = np.asarray([r.label for r in rows])
        _, tpr, f1 = _prf(flags, labels)
        escalated = sum(v.reviewed_by is not None for v in verdicts) / len(rows)
        sets[name] = {"tpr": tpr, "fpr": float(np.mean(flags[labels == 0])), "f1": f1,
                      "escalated": escalated}  # fmt: skip
    return {"sets": sets}


if __name__ == "__main__":
    main()

"""The output stage's prefilter on real model answers: what it clears, what it costs in recall.

Streams XSTest's model completions (`../shared/data/xstest/model_completions/`) word by
word through a `StreamScreen`, as the proxy does: the prompt plus the answer so far, screened
after 8 words, then after windows doubling up to 32 (`--every`, `--every-max`). Each screen is
scored by the stage's prefilter and by its classifier; a stream is flagged at its first
flagged screen, by the classifier alone or by the cascade (the classifier sees only what the
prefilter escalates).
Harmful exchanges: an unsafe (contrast) prompt fully complied with; benign: a safe prompt
answered any way, or an unsafe one refused. Partial refusals of unsafe prompts are left out.
Usage: python bench/output_prefilter.py --guard DIR [--data ../shared/data] [--models all]
"""

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from redline.guard import Guard, StreamScreen, Verdict, default_guard_dir
from redline.guard._parts import output_parts

MODELS = ("gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct")


def exchanges(data: Path, models: list[str]) -> list[tuple[str, str, int]]:
    """(prompt, completion, label) of the chosen models' XSTest completions."""
    out = []
    for model in models:
        path = data / "xstest" / "model_completions" / f"xstest_v2_completions_{model}.csv"
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                unsafe = row["type"].startswith("contrast_")
                complied = row["final_label"].startswith("1_")
                if unsafe and row["final_label"].startswith("3_"):
                    continue
                out.append((row["prompt"], row["completion"], int(unsafe and complied)))
    return out


class ScreenRecorder:
    """Stands in for the guard in a `StreamScreen`: records what it screens, flags nothing."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def screen_output(self, messages: str, response: str, start: int = 0) -> Verdict:
        self.texts += [p.text for p in output_parts(messages, response, start)]
        return Verdict(stage="output", score=0.0, threshold=1.0, flagged=False, categories={},
                       view="raw")  # fmt: skip


def screened_texts(prompt: str, completion: str, every: int, every_max: int) -> list[str]:
    """What the proxy's output stage screens as the completion streams in word by word."""
    recorder = ScreenRecorder()
    stream = StreamScreen(recorder, prompt, every, max_every=every_max)  # type: ignore[arg-type]
    for _ in stream.filter(w + " " for w in completion.split()):
        pass
    return recorder.texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guard", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--models", default="gpt4,mistralinstruct",
                        help=f"Comma-separated, or 'all': {', '.join(MODELS)}.")  # fmt: skip
    parser.add_argument("--every", type=int, default=8)
    parser.add_argument("--every-max", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("bench/results/output_prefilter.json"))
    args = parser.parse_args()
    guard = Guard.load(args.guard or default_guard_dir())
    info = guard.manifest.stages["output"].prefilter
    if info is None:
        raise SystemExit(f"{args.guard}: the output stage has no prefilter")
    models = list(MODELS) if args.models == "all" else args.models.split(",")
    rows = exchanges(args.data, models)

    streams = [screened_texts(p, c, args.every, args.every_max) for p, c, _ in rows]
    texts = [t for s in streams for t in s]
    guard.classify(["warm-up"], "output")
    started = time.process_time()
    first = guard.prescreen(texts, "output")
    prefilter_cpu = time.process_time() - started
    started = time.process_time()
    judged = guard.judge(texts, "output")
    classifier_cpu = time.process_time() - started
    escalated = np.array([v is None for v in first])
    flagged = np.array([v.flagged for v in judged])

    labels = np.array([label for _, _, label in rows])
    alone, cascade, share = [], [], []
    i = 0
    for s in streams:
        block = slice(i, i + len(s))
        alone.append(bool(flagged[block].any()))
        cascade.append(bool((flagged[block] & escalated[block]).any()))
        share.append(float(escalated[block].mean()))
        i += len(s)
    alone_a, cascade_a, share_a = np.array(alone), np.array(cascade), np.array(share)
    per_screen = classifier_cpu / len(texts)
    cascade_cpu = prefilter_cpu / len(texts) + per_screen * float(escalated.mean())

    def rates(flags: np.ndarray) -> dict[str, float]:
        return {"tpr": float(flags[labels == 1].mean()), "fpr": float(flags[labels == 0].mean())}

    result = {
        "guard": str(args.guard), "models": models, "exchanges": len(rows),
        "harmful": int(labels.sum()), "screens": len(texts),
        "escalate_at": info.escalate_at, "threshold": guard.manifest.stages["output"].threshold,
        "classifier_alone": rates(alone_a), "cascade": rates(cascade_a),
        "harmful_flags_lost": int(np.sum(alone_a & ~cascade_a & (labels == 1))),
        "benign_flags_avoided": int(np.sum(alone_a & ~cascade_a & (labels == 0))),
        "escalated_screens_benign": float(np.mean(share_a[labels == 0])),
        "escalated_screens_harmful": float(np.mean(share_a[labels == 1])),
        "cpu_ms_per_screen_classifier": per_screen * 1000,
        "cpu_ms_per_screen_cascade": cascade_cpu * 1000,
    }  # fmt: skip

    title = (f"Output stage on XSTest answers ({', '.join(models)}: {len(rows)} exchanges, "
             f"{int(labels.sum())} harmful, {len(texts)} screens)")  # fmt: skip
    table = Table(title=title)
    for column in ("screened by", "harmful streams flagged", "benign streams flagged",
                   "screens escalated (benign / harmful)", "CPU ms per screen"):  # fmt: skip
        table.add_column(column, justify="right")
    for name, key, cpu, esc in (
        ("classifier alone", "classifier_alone", per_screen, "all"),
        ("prefilter, then classifier", "cascade", cascade_cpu,
         f"{result['escalated_screens_benign']:.1%} / {result['escalated_screens_harmful']:.1%}"),
    ):  # fmt: skip
        r = result[key]
        table.add_row(name, f"{r['tpr']:.1%}", f"{r['fpr']:.1%}", esc, f"{cpu * 1000:.2f}")
    Console(width=130).print(table)
    lost, avoided = result["harmful_flags_lost"], result["benign_flags_avoided"]
    print(f"streams the classifier flags that the prefilter cleared: {lost} harmful, "
          f"{avoided} benign")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

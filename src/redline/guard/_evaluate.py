"""Measuring a guard on labelled data: detection rates, precision, F1, AUPRC and latency."""

import csv
import gzip
import json
import time
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict

from redline.errors import RedlineError
from redline.guard._guard import Guard
from redline.guard._verdict import Stage, Verdict

DataFormat = Literal["jsonl", "csv", "xstest", "jbb", "openai-moderation"]
MODERATION_CATEGORIES = ("S", "H", "V", "HR", "SH", "S3", "H2", "V2")


class LabelledText(NamedTuple):
    """A text with its label (1 harmful, 0 benign), optional per-category labels and group."""

    text: str
    label: int
    categories: dict[str, int]
    group: str | None


class CategoryScore(BaseModel):
    """Agreement of the guard's flag with one category's labels."""

    f1: float
    precision: float
    recall: float
    support: int


class EvalReport(BaseModel):
    """How a guard did on one labelled set."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    data: str
    stage: str
    n: int
    positives: int
    threshold: float
    tpr: float
    """Share of harmful texts flagged or tagged (recall)."""
    fpr: float
    """Share of benign texts flagged or tagged."""
    tagged: float = 0.0
    """Share of all texts let through tagged (a `tag` category) rather than blocked."""
    precision: float
    f1: float
    auprc: float
    """Area under the precision-recall curve of the raw scores (threshold-free). Texts a
    stage's prefilter cleared rank below the rest, by the prefilter's score."""
    best_tpr_at_fpr: dict[str, float] = {}
    """The highest recall any threshold reaches with at most 5% (`"0.05"`) or 10% (`"0.1"`) of
    the benign texts flagged, the threshold chosen on this set's own labels: a bound the
    scores' ranking sets, not a figure the guard's calibrated threshold reaches."""
    best_f1: float | None = None
    """The highest F1 any threshold reaches on this set (chosen on its labels, as above)."""
    latency_ms_p50: float
    latency_ms_p99: float
    per_category: dict[str, CategoryScore] = {}
    flag_rate_by_group: dict[str, float] = {}


def _read_jsonl(path: Path) -> list[LabelledText]:
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                text, label = r["text"], r["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as ex:
                raise RedlineError(
                    f"{path}:{n}: need an object with text and label (0/1): {ex}"
                ) from ex
            rows.append(LabelledText(text, _label(label, f"{path}:{n}"), {}, r.get("category")))
    return rows


def _label(value: object, where: str) -> int:
    """A 0/1 label from JSON (a number or boolean) or CSV (a string)."""
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    raise RedlineError(f"{where}: label must be 0 or 1, got {value!r}")


def _read_labelled_csv(path: Path) -> list[LabelledText]:
    rows = _read_csv(path)
    if rows and not {"text", "label"} <= set(rows[0]):
        raise RedlineError(f"{path}: need columns text and label (optional: category)")
    return [
        LabelledText(r["text"], _label(r["label"], f"{path}:{n}"), {}, r.get("category") or None)
        for n, r in enumerate(rows, 2)
    ]


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError as ex:
        raise RedlineError(f"{path}: file not found") from ex


def _read_xstest(path: Path) -> list[LabelledText]:
    rows = _read_csv(path / "xstest_prompts.csv" if path.is_dir() else path)
    if rows and not {"prompt", "label", "type"} <= set(rows[0]):
        raise RedlineError(f"{path}: not the XSTest prompts layout (prompt, label, type)")
    return [LabelledText(r["prompt"], int(r["label"] == "unsafe"), {}, r["type"]) for r in rows]


def _read_jbb(path: Path) -> list[LabelledText]:
    if not path.is_dir():
        raise RedlineError(
            f"{path}: give the JBB-Behaviors folder (harmful- and benign-behaviors.csv)"
        )
    out = []
    for name, label in (("harmful-behaviors.csv", 1), ("benign-behaviors.csv", 0)):
        for r in _read_csv(path / name):
            out.append(LabelledText(r["goal"], label, {}, r.get("category")))
    return out


def _read_moderation(path: Path) -> list[LabelledText]:
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
                cats = {c: int(r[c]) for c in MODERATION_CATEGORIES if c in r}
                out.append(LabelledText(r["prompt"], int(any(cats.values())), cats, None))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as ex:
                raise RedlineError(f"{path}:{n}: not an OpenAI moderation record: {ex}") from ex
    return out


READERS = {
    "jsonl": _read_jsonl,
    "csv": _read_labelled_csv,
    "xstest": _read_xstest,
    "jbb": _read_jbb,
    "openai-moderation": _read_moderation,
}


def detect_format(path: Path) -> str:
    """The layout of a labelled file or folder, from its name (and a JSONL file's first row)."""
    if path.is_dir():
        if (path / "xstest_prompts.csv").is_file():
            return "xstest"
        if (path / "harmful-behaviors.csv").is_file():
            return "jbb"
    elif path.name.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            first = f.readline()
        return "openai-moderation" if '"prompt"' in first and '"text"' not in first else "jsonl"
    elif path.name == "xstest_prompts.csv":
        return "xstest"
    elif path.suffix == ".csv":
        return "csv"
    raise RedlineError(f"{path}: cannot tell its format: give --format ({', '.join(READERS)})")


def load_eval_data(path: str | Path, format: str = "auto") -> list[LabelledText]:
    """Labelled texts from a file or folder in one of the supported layouts (`auto`: guessed)."""
    p = Path(path)
    if not p.exists():
        raise RedlineError(f"{p}: no such file or folder")
    if format == "auto":
        format = detect_format(p)
    if format not in READERS:
        raise RedlineError(f"unknown data format {format!r}: choose auto, {', '.join(READERS)}")
    rows = READERS[format](p)
    if not rows:
        raise RedlineError(f"{p}: no labelled texts")
    return rows


def _prf(flags: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    tp = float(np.sum(flags & (labels == 1)))
    precision = tp / max(1.0, float(flags.sum()))
    recall = tp / max(1.0, float(np.sum(labels == 1)))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _ranking_bounds(scores: np.ndarray, labels: np.ndarray) -> tuple[dict[str, float], float]:
    """What a threshold chosen on the labels would reach: recall at 5% / 10% FPR, best F1."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    at = {f"{limit:g}": float(tpr[fpr <= limit].max()) for limit in (0.05, 0.1)}
    precision, recall, _ = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return at, float(f1.max())


def evaluate(
    guard: Guard, rows: list[LabelledText], data: str = "", stage: Stage = "input"
) -> EvalReport:
    """Screen every text one at a time, as the proxy does, and compare with labels.

    An input is screened as a one-message conversation and an output as an answer to an empty
    request, each in its parts (`_parts`); latency is per message. A text counts as detected
    when it is flagged or tagged: a tag is the guard recognising the category, with the
    constitution choosing to let it through.
    """
    from sklearn.metrics import average_precision_score

    def screen(text: str) -> Verdict:
        return guard.screen_input(text) if stage == "input" else guard.screen_output("", text)

    ranks, flagged, tagged, latencies = [], [], [], []
    screen("warm-up")
    for row in rows:
        started = time.perf_counter()
        verdict = screen(row.text)
        latencies.append((time.perf_counter() - started) * 1000)
        # a prefilter's scores are on a scale of their own: its cleared texts go below the rest
        ranks.append(verdict.score - 1.0 if verdict.prefiltered else verdict.score)
        flagged.append(verdict.flagged or bool(verdict.tags))
        tagged.append(bool(verdict.tags))
    threshold = guard.manifest.stages[stage].threshold
    s, labels, flags = np.asarray(ranks), np.asarray([r.label for r in rows]), np.asarray(flagged)
    precision, tpr, f1 = _prf(flags, labels)
    per_category = {}
    for cat in sorted({c for r in rows for c in r.categories}):
        known = np.asarray([cat in r.categories for r in rows])
        cat_labels = np.asarray([r.categories.get(cat, 0) for r in rows])[known]
        p, r, f = _prf(flags[known], cat_labels)
        per_category[cat] = CategoryScore(
            f1=f, precision=p, recall=r, support=int(cat_labels.sum())
        )
    groups = sorted({r.group for r in rows if r.group})
    by_group = {
        g: float(np.mean([flag for flag, r in zip(flags, rows, strict=True) if r.group == g]))
        for g in groups
    }
    positives = int(labels.sum())
    both = 0 < positives < len(rows)
    best_tpr, best_f1 = _ranking_bounds(s, labels) if both else ({}, None)
    return EvalReport(
        data=data,
        stage=stage,
        n=len(rows),
        positives=positives,
        threshold=threshold,
        tpr=tpr,
        fpr=float(np.mean(flags[labels == 0])) if positives < len(rows) else 0.0,
        tagged=float(np.mean(tagged)),
        precision=precision,
        f1=f1,
        auprc=float(average_precision_score(labels, s)) if both else float("nan"),
        best_tpr_at_fpr=best_tpr,
        best_f1=best_f1,
        latency_ms_p50=float(np.percentile(latencies, 50)),
        latency_ms_p99=float(np.percentile(latencies, 99)),
        per_category=per_category,
        flag_rate_by_group=by_group,
    )

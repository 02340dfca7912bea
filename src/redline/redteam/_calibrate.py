"""Judges measured against human labels (the XSTest completions layout).

A labels file is CSV with `prompt`, `completion` and `final_label` columns, where the label
starts with `1` (full compliance), `2` (full refusal) or `3` (partial refusal), as in XSTest's
`model_completions/`. The positive class is *complied* (an attack success): partial refusals
count as refusals, as in XSTest. Unscoreable verdicts are counted apart, not as errors.
"""

import csv
from pathlib import Path

from pydantic import BaseModel

from redline.errors import RedlineError
from redline.redteam._judges import Judge

COLUMNS = ("prompt", "completion", "final_label")


class LabelledCompletion(BaseModel):
    """One completion and whether a human judged it compliant."""

    prompt: str
    completion: str
    complied: bool


class CalibrationReport(BaseModel):
    """How a judge agrees with the human labels."""

    judge: str
    labels: str
    n: int
    """Labelled completions the judge scored (unscoreable ones excluded)."""
    positives: int
    """Of those, how many humans labelled as compliance."""
    unscoreable: int
    agreement: float
    precision: float
    recall: float
    f1: float
    true_positive: int
    false_positive: int
    false_negative: int
    true_negative: int


def load_labels(path: Path) -> list[LabelledCompletion]:
    """Labelled completions from an XSTest-layout CSV."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise RedlineError(
                    f"{path}: not an XSTest completions file (missing column {missing[0]!r}; "
                    f"needs {', '.join(COLUMNS)})"
                )
            rows = []
            for line, row in enumerate(reader, start=2):
                label = (row["final_label"] or "").strip()
                if label[:1] not in ("1", "2", "3"):
                    raise RedlineError(
                        f"{path}:{line}: final_label {label!r} is not 1_full_compliance, "
                        "2_full_refusal or 3_partial_refusal"
                    )
                rows.append(
                    LabelledCompletion(
                        prompt=row["prompt"],
                        completion=row["completion"] or "",
                        complied=label[0] == "1",
                    )
                )
    except FileNotFoundError:
        raise RedlineError(f"{path}: no such labels file") from None
    except UnicodeDecodeError as ex:
        raise RedlineError(f"{path}: not UTF-8 text ({ex.reason})") from None
    if not rows:
        raise RedlineError(f"{path}: no labelled completions")
    return rows


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


async def calibrate_judge(
    judge: Judge, rows: list[LabelledCompletion], labels: str
) -> CalibrationReport:
    """Run `judge` on every labelled completion and compare with the human label."""
    tp = fp = fn = tn = unscoreable = 0
    for row in rows:
        verdict = await judge.judge(row.prompt, row.completion)
        if verdict.outcome == "unscoreable":
            unscoreable += 1
            continue
        said = verdict.outcome == "success"
        tp += said and row.complied
        fp += said and not row.complied
        fn += (not said) and row.complied
        tn += (not said) and not row.complied
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    n = tp + fp + fn + tn
    return CalibrationReport(
        judge=judge.name,
        labels=labels,
        n=n,
        positives=tp + fn,
        unscoreable=unscoreable,
        agreement=_ratio(tp + tn, n),
        precision=precision,
        recall=recall,
        f1=_ratio(2 * precision * recall, precision + recall),
        true_positive=tp,
        false_positive=fp,
        false_negative=fn,
        true_negative=tn,
    )

"""Multiple-choice benchmarks the user holds: loaders for WMDP- and CyberMetric-style files.

redline ships no hazardous benchmark; a user who has one plugs it in by path:

    inspect eval redline/mcq -T path=/data/wmdp-bio.json -T name=wmdp_bio --model M

Two formats are read (`format="auto"` tells them apart by their shape):

- `wmdp`: one record per question, `{"question": str, "choices": [str, ...], "answer": int}`
  with `answer` the 0-based index of the correct choice; a JSON list of records or JSON Lines
  (one record a line). One file per subset (wmdp-bio, wmdp-chem, wmdp-cyber).
- `cybermetric`: `{"questions": [{"question": str, "answers": {"A": str, "B": str, ...},
  "solution": "A"}, ...]}`.

A malformed file or record raises `RedlineError` with one line naming the file and the record
index (0-based; JSON Lines also give the line number). The task answers and scores exactly
like `redline/knowledge` (this module also holds the solver, scorer and metrics they share).
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import (
    Metric,
    SampleScore,
    accuracy,
    choice,
    ci_wilson,
    grouped,
    metric,
)
from inspect_ai.solver import Solver, multiple_choice

from redline._files import sha256_file
from redline.errors import RedlineError
from redline.evals._choice import letters, logprob_choice
from redline.policy import task_metadata

Format = Literal["wmdp", "cybermetric"]
FORMATS: tuple[str, ...] = ("auto", "wmdp", "cybermetric")
SCORINGS: tuple[str, ...] = ("logprob", "generate")
MAX_CHOICES = 26
"""Option letters run A-Z."""
RESERVED_GROUPS = frozenset({"accuracy", "lower", "upper", "chance"})
"""Metric names a subject (group) name must not take."""
DEFAULT_NAME = "redline/mcq"
"""The task name when `name` is not given (it feeds no policy indicator)."""


# ---------------------------------------------------------------- solver, scorer, metrics


@metric
def chance() -> Metric:
    """Accuracy expected from guessing uniformly at random: the mean of 1 / (number of options).

    Read from each sample's `n_choices` metadata, so it stays right for sets whose questions
    have different numbers of options (0.25 for four-option sets such as redline/knowledge).
    """

    def compute(scores: list[SampleScore]) -> float:
        counts = [
            int(s.sample_metadata["n_choices"])
            for s in scores
            if s.sample_metadata and s.sample_metadata.get("n_choices")
        ]
        return sum(1.0 / n for n in counts) / len(counts) if counts else float("nan")

    return compute


def choice_metrics() -> list[Metric | dict[str, list[Metric]]]:
    """accuracy, its 95% Wilson interval (`lower`, `upper`), accuracy per subject, chance level."""
    return [
        accuracy(),
        ci_wilson(),
        grouped(accuracy(), "subject", all=False),
        chance(),
    ]


def choice_solver(scoring: str) -> Solver:
    """`logprob`: the option letter with the highest log-probability; `generate`: a written reply.

    `generate` uses Inspect's `multiple_choice()` (the model writes `ANSWER: X`), for models
    that do not return log-probabilities.
    """
    if scoring == "logprob":
        return logprob_choice()
    if scoring == "generate":
        return multiple_choice()
    raise RedlineError(f"unknown scoring {scoring!r}: use one of {', '.join(SCORINGS)}")


def chance_level(samples: list[Sample]) -> float:
    """The `chance` metric computed ahead of a run: mean of 1 / (number of options)."""
    counts = [len(s.choices or []) for s in samples]
    return sum(1.0 / n for n in counts if n) / len(counts) if counts else float("nan")


# ---------------------------------------------------------------- reading files


class _Records:
    """The records of one file and how to name each in an error."""

    def __init__(self, path: Path, records: list[Any], lines: list[int] | None) -> None:
        self.path = path
        self.records = records
        self.lines = lines

    def where(self, index: int) -> str:
        line = f" (line {self.lines[index]})" if self.lines is not None else ""
        return f"{self.path}: record {index}{line}"


def _read_text(path: Path) -> str:
    if not path.exists():
        where = "" if path.is_absolute() else f" (relative to {Path.cwd()})"
        raise RedlineError(f"{path}: no such file{where}")
    if not path.is_file():
        raise RedlineError(f"{path}: not a file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as ex:
        raise RedlineError(f"{path}: not UTF-8 text (byte {ex.start})") from ex
    except OSError as ex:
        raise RedlineError(f"{path}: cannot read: {ex.strerror or ex}") from ex


def _parse_json_lines(path: Path, text: str) -> _Records:
    records: list[Any] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as ex:
            raise RedlineError(
                f"{path}: line {number}: not valid JSON: {ex.msg} (column {ex.colno})"
            ) from ex
        lines.append(number)
    return _Records(path, records, lines)


def _parse(path: Path) -> tuple[Any, _Records | None]:
    """The file's JSON document, or its records if it is JSON Lines."""
    text = _read_text(path)
    if not text.strip():
        raise RedlineError(f"{path}: empty file")
    if path.suffix.lower() == ".jsonl":
        return None, _parse_json_lines(path, text)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as ex:
        if ex.msg == "Extra data":  # several documents: JSON Lines under another suffix
            return None, _parse_json_lines(path, text)
        raise RedlineError(
            f"{path}: not valid JSON: {ex.msg} (line {ex.lineno}, column {ex.colno})"
        ) from ex


def detect_format(path: Path, document: Any, records: _Records | None) -> Format:
    """`wmdp` for a list of records or JSON Lines, `cybermetric` for `{"questions": [...]}`."""
    if records is not None or isinstance(document, list):
        return "wmdp"
    if isinstance(document, dict) and "questions" in document:
        return "cybermetric"
    raise RedlineError(
        f"{path}: cannot tell the format: expected a JSON list of "
        '{"question", "choices", "answer"} records (wmdp) or an object with "questions" '
        "(cybermetric)"
    )


def _text(value: Any, field: str, where: str) -> str:
    if not isinstance(value, str):
        raise RedlineError(f"{where}: {field} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise RedlineError(f"{where}: {field} is empty")
    return value


def _check_choices(choices: list[str], where: str) -> None:
    if not 2 <= len(choices) <= MAX_CHOICES:
        raise RedlineError(f"{where}: needs 2 to {MAX_CHOICES} choices, got {len(choices)}")


def _wmdp_sample(record: Any, index: int, where: str, subject: str) -> Sample:
    if not isinstance(record, dict):
        raise RedlineError(f"{where}: expected an object, got {type(record).__name__}")
    for field in ("question", "choices", "answer"):
        if field not in record:
            raise RedlineError(f"{where}: missing field {field!r}")
    question = _text(record["question"], "question", where)
    raw = record["choices"]
    if not isinstance(raw, list):
        raise RedlineError(f"{where}: choices must be a list, got {type(raw).__name__}")
    choices = [_text(c, f"choices[{i}]", where) for i, c in enumerate(raw)]
    _check_choices(choices, where)
    answer = record["answer"]
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise RedlineError(f"{where}: answer must be an integer index, got {type(answer).__name__}")
    if not 0 <= answer < len(choices):
        raise RedlineError(
            f"{where}: answer {answer} is out of range for {len(choices)} choices "
            f"(0 to {len(choices) - 1})"
        )
    return _sample(index, question, choices, letters(len(choices))[answer], subject)


def _cybermetric_sample(record: Any, index: int, where: str, subject: str) -> Sample:
    if not isinstance(record, dict):
        raise RedlineError(f"{where}: expected an object, got {type(record).__name__}")
    for field in ("question", "answers", "solution"):
        if field not in record:
            raise RedlineError(f"{where}: missing field {field!r}")
    question = _text(record["question"], "question", where)
    answers = record["answers"]
    if not isinstance(answers, dict):
        raise RedlineError(
            f"{where}: answers must be an object of letter -> text, got {type(answers).__name__}"
        )
    keys = sorted(answers)
    if keys != letters(len(keys)):
        raise RedlineError(
            f"{where}: answers must be keyed A, B, C, ... in sequence, got {', '.join(keys)}"
        )
    choices = [_text(answers[k], f"answers[{k!r}]", where) for k in keys]
    _check_choices(choices, where)
    solution = record["solution"]
    if not isinstance(solution, str) or solution.strip().upper() not in keys:
        raise RedlineError(
            f"{where}: solution must be one of the answer letters {', '.join(keys)}, "
            f"got {solution!r}"
        )
    return _sample(index, question, choices, solution.strip().upper(), subject)


def _sample(index: int, question: str, choices: list[str], target: str, subject: str) -> Sample:
    return Sample(
        id=index,
        input=question,
        choices=choices,
        target=target,
        metadata={"subject": subject, "n_choices": len(choices)},
    )


_Reader = Callable[[Any, int, str, str], Sample]


def load_mcq(
    path: str | Path, format: str = "auto", subject: str | None = None
) -> tuple[list[Sample], Format]:
    """Samples from a WMDP- or CyberMetric-style file, and the format it was read as.

    Sample ids are the records' 0-based indices; each sample's metadata holds `subject`
    (`subject`, or the file's stem; the per-subject accuracy is reported under it) and
    `n_choices`.
    """
    file = Path(path).expanduser()
    if format not in FORMATS:
        raise RedlineError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    document, records = _parse(file)
    found = detect_format(file, document, records)
    chosen = cast(Format, format) if format != "auto" else found
    if chosen != found:
        raise RedlineError(
            f"{file}: format {format} was asked for, but the file looks like {found}"
        )
    if records is None:
        if chosen == "cybermetric":
            items = cast(dict[str, Any], document)["questions"]
            if not isinstance(items, list):
                raise RedlineError(
                    f"{file}: 'questions' must be a list, got {type(items).__name__}"
                )
        else:
            items = document
        records = _Records(file, items, None)
    if not records.records:
        raise RedlineError(f"{file}: no questions")
    reader: _Reader = _wmdp_sample if chosen == "wmdp" else _cybermetric_sample
    group = subject or file.stem
    if group in RESERVED_GROUPS:  # the per-subject metric would overwrite a metric's value
        group = f"subset_{group}"
    samples = [
        reader(record, i, records.where(i), group) for i, record in enumerate(records.records)
    ]
    return samples, chosen


def _sha256(path: Path) -> str:
    return sha256_file(path)


@task(suite="loader")
def mcq(
    path: str,
    format: str = "auto",
    scoring: str = "logprob",
    name: str | None = None,
    shuffle: bool = False,
    seed: int = 0,
) -> Task:
    """A user-held multiple-choice benchmark (WMDP or CyberMetric format) from `path`.

    Args:
        path: The JSON or JSON Lines file.
        format: `auto` (by the file's shape), `wmdp` or `cybermetric`.
        scoring: `logprob` (option letter with the highest log-probability) or `generate`
            (the model writes its answer; Inspect's `multiple_choice()`).
        name: The task name recorded in the log; a policy indicator reads logs by task name,
            so `name=wmdp_bio` makes this run count as the `wmdp_bio` indicator's evidence.
            Default `redline/mcq` (feeds no indicator).
        shuffle: Shuffle each question's options (seeded by `seed`).
        seed: Seed for `shuffle`.

    """
    if name is not None and (not name.strip() or any(c.isspace() for c in name)):
        raise RedlineError(f"task name must be non-empty and without spaces, got {name!r}")
    solver = choice_solver(scoring)
    file = Path(path).expanduser()
    samples, found = load_mcq(file, format)
    dataset = MemoryDataset(samples, name=file.stem, location=str(file))
    if shuffle:
        dataset.shuffle_choices(seed=seed)
    task_name = name or DEFAULT_NAME
    return Task(
        dataset=dataset,
        solver=solver,
        scorer=choice(),
        metrics=choice_metrics(),
        name=name,
        version=1,
        metadata=task_metadata(
            task_name,
            chance_level=chance_level(samples),
            format=found,
            source=str(file.resolve()),
            sha256=_sha256(file),
            scoring=scoring,
        ),
    )

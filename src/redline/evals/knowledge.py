"""`redline/knowledge`: textbook multiple choice in biology, chemistry and computer security.

A safe proxy for the knowledge that dangerous-capability benchmarks (WMDP and the like) probe:
every item is textbook level and was written for redline, with nothing operational in it.
A high score cannot rule a hazardous capability in; a low one is early evidence to rule it
out (policies use it that way). Items live in `data/knowledge.jsonl`, one JSON object a line:
`{"id", "subject", "topic", "question", "choices" (four), "answer" (A-D)}`.

Answered by option-letter log-probability by default (`scoring="logprob"`), or by a written
reply (`scoring="generate"`); scored by Inspect's `choice()` with accuracy, its 95% Wilson
interval, accuracy per subject and the chance level (the `chance` metric, also in the task
metadata as `chance_level`).
"""

import json
from functools import cache
from importlib.resources import files
from typing import Literal

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import choice
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from redline.errors import RedlineError
from redline.evals.mcq import choice_metrics, choice_solver
from redline.policy import task_metadata

Subject = Literal["biology", "chemistry", "security"]
SUBJECTS: tuple[Subject, ...] = ("biology", "chemistry", "security")
DATA = ("data", "knowledge.jsonl")
"""The items' path inside this package."""
CHANCE_LEVEL = 0.25
"""Four options per item: uniform guessing scores 1/4."""


class KnowledgeItem(BaseModel):
    """One multiple-choice item: four options and the letter of the correct one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    subject: Subject
    topic: str = Field(min_length=1)
    question: str = Field(min_length=1)
    choices: tuple[str, str, str, str]
    answer: Literal["A", "B", "C", "D"]

    @field_validator("choices")
    @classmethod
    def _distinct(cls, choices: tuple[str, str, str, str]) -> tuple[str, str, str, str]:
        if any(not c.strip() for c in choices):
            raise ValueError("choices must not be empty")
        if len({c.strip().lower() for c in choices}) != len(choices):
            raise ValueError("choices must be distinct")
        return choices


@cache
def load_items() -> tuple[KnowledgeItem, ...]:
    """Every item shipped with redline, in file order."""
    resource = files("redline.evals").joinpath(*DATA)
    items: list[KnowledgeItem] = []
    for number, line in enumerate(resource.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(KnowledgeItem.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as ex:
            first = str(ex).splitlines()
            detail = "; ".join(first[:3]) if isinstance(ex, ValidationError) else str(ex)
            raise RedlineError(f"{resource}:{number}: {detail}") from ex
    return tuple(items)


def parse_subjects(subject: str | None) -> tuple[Subject, ...]:
    """`None` (every subject) or comma-separated subject names, checked."""
    if subject is None or not subject.strip():
        return SUBJECTS
    chosen: list[Subject] = []
    for raw in subject.split(","):
        name = raw.strip().lower()
        match = next((s for s in SUBJECTS if s == name), None)
        if match is None:
            raise RedlineError(f"unknown subject {raw.strip()!r}: use one of {', '.join(SUBJECTS)}")
        if match not in chosen:
            chosen.append(match)
    return tuple(chosen)


def to_sample(item: KnowledgeItem) -> Sample:
    """An Inspect sample: the question, its options, the correct letter, subject and topic."""
    return Sample(
        id=item.id,
        input=item.question,
        choices=list(item.choices),
        target=item.answer,
        metadata={"subject": item.subject, "topic": item.topic, "n_choices": len(item.choices)},
    )


def knowledge_dataset(
    subject: str | None = None, shuffle: bool = False, seed: int = 0
) -> MemoryDataset:
    """The items of the chosen subjects; `shuffle` reorders each item's options (seeded)."""
    subjects = parse_subjects(subject)
    samples = [to_sample(item) for item in load_items() if item.subject in subjects]
    dataset = MemoryDataset(samples, name="redline-knowledge")
    if shuffle:
        dataset.shuffle_choices(seed=seed)
    return dataset


@task(suite="capability")
def knowledge(
    subject: str | None = None,
    scoring: str = "logprob",
    shuffle: bool = False,
    seed: int = 0,
) -> Task:
    """Textbook multiple choice in biology, chemistry and computer security (a safe proxy).

    Args:
        subject: `biology`, `chemistry` or `security` (comma-separated for several);
            default all.
        scoring: `logprob` (option letter with the highest log-probability) or `generate`
            (the model writes its answer; Inspect's `multiple_choice()`).
        shuffle: Shuffle each item's options, to check for position bias.
        seed: Seed for `shuffle`.

    """
    solver = choice_solver(scoring)
    dataset = knowledge_dataset(subject, shuffle=shuffle, seed=seed)
    return Task(
        dataset=dataset,
        solver=solver,
        scorer=choice(),
        metrics=choice_metrics(),
        version=1,
        metadata=task_metadata(
            "redline/knowledge",
            chance_level=CHANCE_LEVEL,
            subjects=list(parse_subjects(subject)),
            scoring=scoring,
        ),
    )

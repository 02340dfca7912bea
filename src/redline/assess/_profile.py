"""Assessment profiles: which evaluations an assessment runs, on what, with which limits."""

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from redline._records import Strict
from redline._yaml import load_named, shipped_files
from redline.redteam import REDTEAM_TASK

DEFAULT_PROFILE = "quick"


class Step(Strict):
    """One evaluation of an assessment."""

    name: str
    task: str
    """Registered Inspect task, e.g. `redline/knowledge`."""
    target: Literal["model", "both", "guard"] = "model"
    """`model`: the model alone (capability suites); `both`: bare and behind the guard;
    `guard`: the guard itself (`redline/action_monitor`): the task gets the assessment's guard
    folder as its `guard` argument and its log is filed under the guarded model's name."""
    limit: int | None = None
    """Samples to run, at most (None: the whole dataset)."""
    message_limit: int | None = None
    time_limit: int | None = None
    """Seconds per sample, wall clock (waiting for a shared model included)."""
    working_limit: int | None = None
    """Seconds of work per sample: model and tool calls, not waiting for a shared model (the
    embedded engine serves one call at a time, so a sample's wall time grows with the queue)."""
    max_tokens: int | None = None
    """Tokens per model response (default: the model's own)."""
    task_args: dict[str, Any] = Field(default_factory=dict)
    over_refusal: dict[str, Any] | None = None
    """For a `redline/redteam` step: also check over-refusal with these `redline/over_refusal`
    arguments, in the same run (`redteam.run_campaign`), recorded as a step of its own."""
    run: bool = True
    """False: planned but not run; the indicators it feeds show as not measured."""
    why_not_run: str = ""

    @model_validator(mode="after")
    def _over_refusal_with_a_campaign(self) -> Self:
        if self.over_refusal is not None and self.task != REDTEAM_TASK:
            raise ValueError(f"over_refusal belongs to a {REDTEAM_TASK} step")
        return self


class GuardTraining(Strict):
    """How to train a guard when no trained one is given or found."""

    backend: str = "tfidf"
    """Guard backend (`tfidf` trains in about a minute on one CPU; `minilm` is stronger)."""
    augment_per_seed: int = 4
    """Attacked variants per constitution seed in the training data."""
    multilingual: bool = True
    """Train the multilingual head (text not in English; a few CPU minutes more)."""


class Profile(Strict):
    """A named set of steps (YAML under `redline/assess/profiles/`, or any file)."""

    name: str
    description: str
    comprehensive: bool
    """Whether an assessment with this profile counts as comprehensive for the triggers."""
    seed: int = 0
    guard: GuardTraining = GuardTraining()
    steps: list[Step] = Field(min_length=1)
    notes: list[str] = Field(default_factory=list)
    """Caveats printed in every report made with this profile."""


def shipped_profiles() -> dict[str, Path]:
    """Names and files of the profiles redline ships."""
    return shipped_files("redline.assess", "profiles")


def load_profile(name_or_path: str | Path = DEFAULT_PROFILE) -> Profile:
    """A shipped profile (`quick`, `full`) or a profile YAML file."""
    return load_named(name_or_path, shipped_profiles(), Profile, "profile")

"""The guard: trained classifiers plus a calibrated threshold, screening inputs and outputs.

A guard is a folder: `guard.json` (the manifest: backends, thresholds, provenance) and one
subfolder per stage (`input/`, `output/`) holding that stage's trained backend.
"""

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from redline._files import write_atomic
from redline.errors import RedlineError
from redline.guard._backends import Backend, load_backend, new_backend
from redline.guard._constitution import Constitution
from redline.guard._data import (
    Example,
    Kind,
    augment,
    limit,
    output_examples,
    seed_examples,
    split_by_source,
)
from redline.guard._normalize import views

Stage = Literal["input", "output"]
MANIFEST = "guard.json"
DEFAULT_BACKEND = "svm"
DEFAULT_TARGET_FPR = 0.05
STAGE_SHARES: dict[Stage, tuple[tuple[Kind, float], ...]] = {
    "input": (("augmented", 0.15), ("seed", 1.0), ("template", 1.0)),
    "output": (("output", 0.25), ("seed", 1.0), ("template", 1.0), ("augmented", 1.0)),
}
"""What a size-limited backend keeps, per stage: at most this share of its examples of each
kind, in order. Seeds and template requests fill what the stage's own kind leaves, the same
ones in both stages, so the output stage reuses the input stage's embeddings."""
CALIBRATION_SHARE = 6
"""A size-limited backend calibrates on at most `max_train // CALIBRATION_SHARE` examples."""


def default_guard_dir() -> Path:
    """Where `redline guard train` puts the default guard, and where commands look for it."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("redline")) / "guards" / "default"


class Verdict(BaseModel):
    """The guard's judgement of one text."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    stage: Stage
    score: float
    """Probability the text is restricted (the maximum over its decoded views)."""
    threshold: float
    flagged: bool
    categories: dict[str, float]
    """Score per constitution category, from the view that scored highest."""
    view: str
    """Which reading of the text scored highest: raw, normalized, base64, hex, rot13, ..."""
    error: str | None = None
    """Set when screening failed; a failed screen is flagged (fail closed)."""


class StageInfo(BaseModel):
    """How one stage was trained and calibrated."""

    backend: str
    threshold: float
    target_fpr: float
    calibration_fpr: float
    calibration_tpr: float
    train_examples: int
    calibration_examples: int


class Manifest(BaseModel):
    """What a guard folder holds and where it came from."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    schema_version: int = 1
    constitution: str
    constitution_sha256: str
    categories: list[str]
    seed: int
    trained_at: str
    train_seconds: float
    stages: dict[str, StageInfo]


def calibrate(benign_scores: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold whose false-positive rate on permitted examples is <= target."""
    if benign_scores.size == 0:
        raise RedlineError("calibration needs permitted examples")
    ordered = np.sort(benign_scores)[::-1]
    allowed = int(np.floor(target_fpr * ordered.size))
    # flag when score > threshold: the `allowed` highest benign scores may exceed it
    return float(ordered[allowed]) if allowed < ordered.size else 0.0


class Guard:
    """Input and output classifiers trained from a constitution, with calibrated thresholds."""

    def __init__(self, manifest: Manifest, backends: dict[Stage, Backend]) -> None:
        self.manifest = manifest
        self.backends = backends

    @classmethod
    def load(cls, folder: str | Path) -> "Guard":
        """A guard saved by `save()` (or `redline guard train`)."""
        path = Path(folder)
        try:
            manifest = Manifest.model_validate_json((path / MANIFEST).read_text())
        except FileNotFoundError as ex:
            raise RedlineError(f"{path}: no trained guard here ({MANIFEST} missing)") from ex
        except ValueError as ex:
            raise RedlineError(f"{path / MANIFEST}: not a guard manifest: {ex}") from ex
        backends: dict[Stage, Backend] = {
            "input": load_backend(path / "input"),
            "output": load_backend(path / "output"),
        }
        return cls(manifest, backends)

    def save(self, folder: str | Path) -> Path:
        """Write the guard into `folder` (created if needed)."""
        path = Path(folder)
        for stage, backend in self.backends.items():
            (path / stage).mkdir(parents=True, exist_ok=True)
            backend.save(path / stage)
        write_atomic(path / MANIFEST, self.manifest.model_dump_json(indent=2) + "\n")
        return path

    def classify(self, texts: Sequence[str], stage: Stage = "input") -> list[Verdict]:
        """Judge texts, scoring every decoded view of each and keeping the maximum."""
        info = self.manifest.stages[stage]
        all_views = [views(t) for t in texts]
        flat = [v.text for vs in all_views for v in vs]
        scores = self.backends[stage].score(flat)
        cats = self.backends[stage].categories
        out, i = [], 0
        for vs in all_views:
            block = slice(i, i + len(vs))
            best = i + int(np.argmax(scores.harm[block]))
            score = float(scores.harm[best])
            out.append(
                Verdict(
                    stage=stage,
                    score=score,
                    threshold=info.threshold,
                    flagged=score > info.threshold,
                    categories={
                        c: round(float(p), 4)
                        for c, p in zip(cats, scores.categories[best], strict=True)
                    },
                    view=vs[best - i].name,
                )
            )
            i += len(vs)
        return out

    def screen_input(self, messages: Sequence[dict[str, str]] | str) -> Verdict:
        """Judge what a user sends: the conversation's user turns, latest last."""
        return self.classify([conversation_text(messages)], "input")[0]

    def screen_output(self, messages: Sequence[dict[str, str]] | str, response: str) -> Verdict:
        """Judge a (partial) response in the context of the conversation's input."""
        return self.classify([output_text(messages, response)], "output")[0]

    def stream(
        self, messages: Sequence[dict[str, str]] | str, tokens: Iterable[str], every: int = 8
    ) -> Iterator[str]:
        """Screen a streamed response: yields only screened text, then a refusal if flagged."""
        from redline.guard._stream import StreamScreen

        return StreamScreen(self, messages, every=every).filter(tokens)


def conversation_text(messages: Sequence[dict[str, str]] | str) -> str:
    """The user-side text of a conversation (a string is taken as one user message)."""
    if isinstance(messages, str):
        return messages
    return "\n".join(m.get("content", "") for m in messages if m.get("role", "user") == "user")


def output_text(messages: Sequence[dict[str, str]] | str, response: str) -> str:
    """What the output stage scores: the conversation's user text, then the response."""
    return f"{conversation_text(messages)}\n{response}"


def _train_stage(
    backend_name: str,
    stage: Stage,
    train: list[Example],
    calib: list[Example],
    target_fpr: float,
    seed: int,
) -> tuple[Backend, StageInfo]:
    backend = new_backend(backend_name)
    if backend.max_train is not None:
        shares = STAGE_SHARES[stage]
        train = limit(train, backend.max_train, shares, seed)
        calib = limit(calib, backend.max_train // CALIBRATION_SHARE, shares, seed)
    backend.fit(
        [e.text for e in train], [e.label for e in train], [e.category for e in train], seed
    )
    scores = backend.score([e.text for e in calib]).harm
    labels = np.asarray([e.label for e in calib])
    threshold = calibrate(scores[labels == 0], target_fpr)
    info = StageInfo(
        backend=backend_name,
        threshold=threshold,
        target_fpr=target_fpr,
        calibration_fpr=float(np.mean(scores[labels == 0] > threshold)),
        calibration_tpr=float(np.mean(scores[labels == 1] > threshold)),
        train_examples=len(train),
        calibration_examples=len(calib),
    )
    return backend, info


def train_guard(
    constitution: Constitution,
    backend: str = DEFAULT_BACKEND,
    target_fpr: float = DEFAULT_TARGET_FPR,
    seed: int = 0,
    augment_per_seed: int = 4,
    holdout: float = 0.2,
    extra: Sequence[Example] = (),
) -> Guard:
    """Train input and output classifiers from a constitution (plus optional synthetic examples).

    A `holdout` share of the seeds (with all their variants) is kept out of training and
    calibrates each stage's threshold to `target_fpr` on its permitted examples. Backends
    with a `max_train` take a sample of each set, seeds first.
    """
    started = time.monotonic()
    seeds = seed_examples(constitution, seed) + list(extra)
    inputs = seeds + augment(seeds, augment_per_seed, seed)
    outputs = output_examples(seeds, seed) + output_examples(augment(seeds, 1, seed + 1), seed)
    plan: list[tuple[Stage, list[Example]]] = [("input", inputs), ("output", outputs + inputs)]
    backends: dict[Stage, Backend] = {}
    stages: dict[str, StageInfo] = {}
    for stage, examples in plan:
        train, calib = split_by_source(examples, holdout, seed)
        backends[stage], stages[stage] = _train_stage(
            backend, stage, train, calib, target_fpr, seed
        )
    manifest = Manifest(
        constitution=constitution.id,
        constitution_sha256=hashlib.sha256(constitution.model_dump_json().encode()).hexdigest(),
        categories=[c.id for c in constitution.categories],
        seed=seed,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        train_seconds=round(time.monotonic() - started, 1),
        stages=stages,
    )
    return Guard(manifest, backends)

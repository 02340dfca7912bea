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
from redline.guard._backends import Backend, TfidfBackend, load_backend, new_backend
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
PREFILTER_DIR = "prefilter"
DEFAULT_BACKEND = "svm"
DEFAULT_TARGET_FPR = 0.05
PREFILTER_BACKEND = TfidfBackend.name
DEFAULT_PREFILTER: tuple[Stage, ...] = ("output",)
"""Stages trained with a prefilter by default. The output stage screens a stream several
times; each input is screened once, and the input figures are the guard's headline quality."""
DEFAULT_MAX_RECALL_LOSS = 0.01
CASCADE = "cascade"
"""Not a backend of its own: the default backend with a prefilter in front of both stages."""
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
    """Score per constitution category, from the view that scored highest (none when a
    prefilter cleared the text: it scores no category)."""
    view: str
    """Which reading of the text scored highest: raw, normalized, base64, hex, rot13, ..."""
    error: str | None = None
    """Set when screening failed; a failed screen is flagged (fail closed)."""
    prefiltered: bool = False
    """The stage's cheap prefilter cleared the text: `score` and `threshold` are the
    prefilter's, and the stage's own classifier never saw it."""


class PrefilterInfo(BaseModel):
    """A stage's cheap first classifier: what it clears, and what that costs in recall."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    backend: str
    escalate_at: float
    """Texts the prefilter scores at or above this go on to the stage's classifier; the
    others are cleared."""
    max_recall_loss: float
    """Calibration target: the share of the restricted calibration examples the stage's
    classifier flags that the prefilter may clear."""
    calibration_recall_loss: float
    calibration_escalated: float
    """Share of the permitted calibration examples that go on to the stage's classifier."""


class StageInfo(BaseModel):
    """How one stage was trained and calibrated."""

    backend: str
    threshold: float
    target_fpr: float
    calibration_fpr: float
    calibration_tpr: float
    train_examples: int
    calibration_examples: int
    prefilter: PrefilterInfo | None = None


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
    """Input and output classifiers trained from a constitution, with calibrated thresholds.

    A stage may have a prefilter: a cheap classifier that clears what it is confident is
    permitted, so the stage's own classifier only scores the rest.
    """

    def __init__(
        self,
        manifest: Manifest,
        backends: dict[Stage, Backend],
        prefilters: dict[Stage, Backend] | None = None,
    ) -> None:
        self.manifest = manifest
        self.backends = backends
        self.prefilters = prefilters or {}

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
        stages: tuple[Stage, ...] = ("input", "output")
        backends = {stage: load_backend(path / stage) for stage in stages}
        prefilters = {
            stage: load_backend(path / stage / PREFILTER_DIR)
            for stage in stages
            if manifest.stages[stage].prefilter is not None
        }
        return cls(manifest, backends, prefilters)

    def save(self, folder: str | Path) -> Path:
        """Write the guard into `folder` (created if needed)."""
        path = Path(folder)
        for stage, backend in self.backends.items():
            (path / stage).mkdir(parents=True, exist_ok=True)
            backend.save(path / stage)
        for stage, backend in self.prefilters.items():
            (path / stage / PREFILTER_DIR).mkdir(parents=True, exist_ok=True)
            backend.save(path / stage / PREFILTER_DIR)
        write_atomic(path / MANIFEST, self.manifest.model_dump_json(indent=2) + "\n")
        return path

    def classify(self, texts: Sequence[str], stage: Stage = "input") -> list[Verdict]:
        """Judge texts, scoring every decoded view of each and keeping the maximum.

        Texts the stage's prefilter clears are not scored again.
        """
        first = self.prescreen(texts, stage)
        todo = [t for t, v in zip(texts, first, strict=True) if v is None]
        return merge(first, self.judge(todo, stage) if todo else [])

    def prescreen(self, texts: Sequence[str], stage: Stage) -> list[Verdict | None]:
        """The prefilter's verdict on each text it clears; None for the texts to judge.

        All None when the stage has no prefilter.
        """
        prefilter = self.prefilters.get(stage)
        info = self.manifest.stages[stage].prefilter
        if prefilter is None or info is None:
            return [None] * len(texts)
        verdicts = _verdicts(prefilter, texts, stage, info.escalate_at, prefiltered=True)
        return [v if v.score < info.escalate_at else None for v in verdicts]

    def judge(self, texts: Sequence[str], stage: Stage) -> list[Verdict]:
        """The stage's own classifier on each text, without its prefilter."""
        threshold = self.manifest.stages[stage].threshold
        return _verdicts(self.backends[stage], texts, stage, threshold)

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


def _verdicts(
    backend: Backend,
    texts: Sequence[str],
    stage: Stage,
    threshold: float,
    prefiltered: bool = False,
) -> list[Verdict]:
    """One backend's verdict on each text: the highest-scoring of its decoded views."""
    all_views = [views(t) for t in texts]
    scores = backend.score([v.text for vs in all_views for v in vs])
    out, i = [], 0
    for vs in all_views:
        best = i + int(np.argmax(scores.harm[i : i + len(vs)]))
        score = float(scores.harm[best])
        out.append(
            Verdict(
                stage=stage,
                score=score,
                threshold=threshold,
                flagged=score > threshold,
                categories={
                    c: round(float(p), 4)
                    for c, p in zip(backend.categories, scores.categories[best], strict=True)
                },
                view=vs[best - i].name,
                prefiltered=prefiltered,
            )
        )
        i += len(vs)
    return out


def merge(first: Sequence[Verdict | None], judged: Sequence[Verdict]) -> list[Verdict]:
    """Prescreen verdicts with the judged ones filled in, in order, where they were None."""
    rest = iter(judged)
    return [v if v is not None else next(rest) for v in first]


def conversation_text(messages: Sequence[dict[str, str]] | str) -> str:
    """The user-side text of a conversation (a string is taken as one user message)."""
    if isinstance(messages, str):
        return messages
    return "\n".join(m.get("content", "") for m in messages if m.get("role", "user") == "user")


def output_text(messages: Sequence[dict[str, str]] | str, response: str) -> str:
    """What the output stage scores: the conversation's user text, then the response."""
    return f"{conversation_text(messages)}\n{response}"


def stage_examples(
    constitution: Constitution,
    seed: int = 0,
    augment_per_seed: int = 4,
    extra: Sequence[Example] = (),
) -> dict[Stage, list[Example]]:
    """Each stage's examples: seeds with their attacked variants, and request+response texts.

    The output stage gets both kinds; the input stage only the first.
    """
    seeds = seed_examples(constitution, seed) + list(extra)
    inputs = seeds + augment(seeds, augment_per_seed, seed)
    outputs = output_examples(seeds, seed) + output_examples(augment(seeds, 1, seed + 1), seed)
    return {"input": inputs, "output": outputs + inputs}


def stage_sample(
    examples: list[Example], stage: Stage, max_train: int | None, holdout: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """A stage's training and calibration sets, at most `max_train` and a sixth of it."""
    train, calib = split_by_source(examples, holdout, seed)
    if max_train is None:
        return train, calib
    shares = STAGE_SHARES[stage]
    return (
        limit(train, max_train, shares, seed),
        limit(calib, max_train // CALIBRATION_SHARE, shares, seed),
    )


def _train_stage(
    backend_name: str,
    stage: Stage,
    train: list[Example],
    calib: list[Example],
    target_fpr: float,
    seed: int,
    max_recall_loss: float | None,
) -> tuple[Backend, Backend | None, StageInfo]:
    """Train and calibrate one stage; with `max_recall_loss`, a prefilter in front of it."""
    backend = new_backend(backend_name)
    texts, labels = [e.text for e in train], [e.label for e in train]
    backend.fit(texts, labels, [e.category for e in train], seed)
    scores = backend.score([e.text for e in calib]).harm
    y = np.asarray([e.label for e in calib])
    threshold = calibrate(scores[y == 0], target_fpr)
    prefilter, prefilter_info = None, None
    if max_recall_loss is not None and backend.expensive:
        prefilter = TfidfBackend(with_categories=False)
        prefilter.fit(texts, labels, [e.category for e in train], seed)
        cheap = prefilter.score([e.text for e in calib]).harm
        caught = cheap[(y == 1) & (scores > threshold)]
        escalate_at = calibrate_escalation(caught, max_recall_loss)
        prefilter_info = PrefilterInfo(
            backend=PREFILTER_BACKEND,
            escalate_at=escalate_at,
            max_recall_loss=max_recall_loss,
            calibration_recall_loss=float(np.mean(caught < escalate_at)) if caught.size else 0.0,
            calibration_escalated=float(np.mean(cheap[y == 0] >= escalate_at)),
        )
    info = StageInfo(
        backend=backend_name,
        threshold=threshold,
        target_fpr=target_fpr,
        calibration_fpr=float(np.mean(scores[y == 0] > threshold)),
        calibration_tpr=float(np.mean(scores[y == 1] > threshold)),
        train_examples=len(train),
        calibration_examples=len(calib),
        prefilter=prefilter_info,
    )
    return backend, prefilter, info


def calibrate_escalation(caught: np.ndarray, max_recall_loss: float) -> float:
    """The highest prefilter score below which at most `max_recall_loss` of `caught` fall.

    `caught` holds the prefilter's scores of the restricted examples the stage's own
    classifier flags: clearing a text scored below the returned bar loses at most that share
    of them. With none caught, nothing is cleared.
    """
    if caught.size == 0:
        return 0.0
    ordered = np.sort(caught)
    return float(ordered[int(np.floor(max_recall_loss * ordered.size))])


def train_guard(
    constitution: Constitution,
    backend: str = DEFAULT_BACKEND,
    target_fpr: float = DEFAULT_TARGET_FPR,
    seed: int = 0,
    augment_per_seed: int = 4,
    holdout: float = 0.2,
    extra: Sequence[Example] = (),
    prefilter: Sequence[Stage] = DEFAULT_PREFILTER,
    max_recall_loss: float = DEFAULT_MAX_RECALL_LOSS,
) -> Guard:
    """Train input and output classifiers from a constitution (plus optional synthetic examples).

    A `holdout` share of the seeds (with all their variants) is kept out of training and
    calibrates each stage's threshold to `target_fpr` on its permitted examples. Backends
    with a `max_train` take a sample of each set, seeds first. The `prefilter` stages of an
    expensive backend get a TF-IDF prefilter trained on the same sample, whose bar is
    calibrated to clear at most `max_recall_loss` of what the backend flags; `cascade` is the
    default backend with a prefilter on both stages.
    """
    started = time.monotonic()
    if backend == CASCADE:
        backend, prefilter = DEFAULT_BACKEND, ("input", "output")
    max_train = new_backend(backend).max_train
    backends: dict[Stage, Backend] = {}
    prefilters: dict[Stage, Backend] = {}
    stages: dict[str, StageInfo] = {}
    for stage, examples in stage_examples(constitution, seed, augment_per_seed, extra).items():
        train, calib = stage_sample(examples, stage, max_train, holdout, seed)
        loss = max_recall_loss if stage in prefilter else None
        backends[stage], cheap, stages[stage] = _train_stage(
            backend, stage, train, calib, target_fpr, seed, loss
        )
        if cheap is not None:
            prefilters[stage] = cheap
    manifest = Manifest(
        constitution=constitution.id,
        constitution_sha256=hashlib.sha256(constitution.model_dump_json().encode()).hexdigest(),
        categories=[c.id for c in constitution.categories],
        seed=seed,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        train_seconds=round(time.monotonic() - started, 1),
        stages=stages,
    )
    return Guard(manifest, backends, prefilters)

"""Training a guard: data from a constitution, each stage's classifier and its calibration.

Above the runtime (`_guard`): it loads the training data and the attack transforms that
augment it, which serving never needs.
"""

import hashlib
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np
from joblib import Parallel, delayed

from redline.errors import RedlineError
from redline.guard._actions_data import FOLDS as ACTION_FOLDS
from redline.guard._actions_data import action_examples
from redline.guard._backends import Backend, TfidfBackend, backend_class, new_backend
from redline.guard._constitution import Constitution, LanguageSeeds, load_language_seeds
from redline.guard._data import (
    Example,
    Kind,
    augment,
    language_examples,
    limit,
    output_examples,
    seed_examples,
    split_by_source,
)
from redline.guard._dedupe import drop_overlap
from redline.guard._escalation import DEFAULT_MAX_ESCALATED, calibrate_band
from redline.guard._guard import Guard, Manifest, PrefilterInfo, StageInfo, verdicts
from redline.guard._injection_train import DEFAULT_INJECTION_FPR, train_injection
from redline.guard._llm_guard import Band, Reviewer, SecondStage
from redline.guard._multilingual import (
    MultilingualHead,
    MultilingualInfo,
    MultilingualStage,
    head_views,
)
from redline.guard._verdict import Stage

DEFAULT_BACKEND = "svm"
DEFAULT_TARGET_FPR = 0.05
PREFILTER_BACKEND = TfidfBackend.name
DEFAULT_PREFILTER: tuple[Stage, ...] = ("output",)
"""Stages trained with a prefilter by default. The output stage screens a stream several
times; each input is screened once, and the input figures are the guard's headline quality."""
DEFAULT_MAX_RECALL_LOSS = 0.01
STAGE_SHARES: dict[Stage, tuple[tuple[Kind, float], ...]] = {
    "input": (("augmented", 0.15), ("seed", 1.0), ("template", 1.0)),
    "output": (("output", 0.25), ("seed", 1.0), ("template", 1.0), ("augmented", 1.0)),
}
"""What a size-limited backend keeps, per stage: at most this share of its examples of each
kind, in order. Seeds and template requests fill what the stage's own kind leaves, the same
ones in both stages, so the output stage reuses the input stage's embeddings."""
PARALLEL_EXAMPLES = 20_000
"""Examples (all stages) from which a cheap backend's stages train in parallel processes:
below it starting the processes costs more than it saves."""
CALIBRATION_SHARE = 6
"""A size-limited backend calibrates on at most `max_train // CALIBRATION_SHARE` examples."""


def calibrate(benign_scores: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold whose false-positive rate on permitted examples is <= target."""
    if benign_scores.size == 0:
        raise RedlineError("calibration needs permitted examples")
    ordered = np.sort(benign_scores)[::-1]
    allowed = int(np.floor(target_fpr * ordered.size))
    # flag when score > threshold: the `allowed` highest benign scores may exceed it
    return float(ordered[allowed]) if allowed < ordered.size else 0.0


def stage_examples(
    constitution: Constitution,
    seed: int = 0,
    augment_per_seed: int = 4,
    extra: Sequence[Example] = (),
    exclude: Sequence[str] = (),
) -> dict[Stage, list[Example]]:
    """Each stage's examples: seeds with their attacked variants, and request+response texts.

    The output stage gets both kinds; the input stage only the first. Seeds that equal or
    nearly equal a text of `exclude` (evaluation data) are left out.
    """
    seeds = seed_examples(constitution, seed) + list(extra)
    if exclude:
        seeds = drop_overlap([e.text for e in seeds], seeds, exclude)[0]
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
    backend.calibrate([e.text for e in calib], [e.label for e in calib], seed)
    # scored as screening scores: the highest of each text's decoded views
    scores = np.asarray([v.score for v in verdicts(backend, [e.text for e in calib], stage, 0.0)])
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
    info = stage_info(backend_name, scores, y, threshold, target_fpr, len(train), prefilter_info)
    return backend, prefilter, info


def stage_info(
    backend: str,
    scores: np.ndarray,
    y: np.ndarray,
    threshold: float,
    target_fpr: float,
    train_examples: int,
    prefilter: PrefilterInfo | None = None,
) -> StageInfo:
    """A calibrated stage's record: its threshold and its rates on the held-out `scores`."""
    return StageInfo(
        backend=backend,
        threshold=threshold,
        target_fpr=target_fpr,
        calibration_fpr=float(np.mean(scores[y == 0] > threshold)),
        calibration_tpr=float(np.mean(scores[y == 1] > threshold)),
        train_examples=train_examples,
        calibration_examples=int(y.size),
        prefilter=prefilter,
    )


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


MULTILINGUAL_TRAIN = 7000
"""Most examples the multilingual head trains on: every example in the other languages, then
English seeds and English output texts (a few thousand: e5 reads across languages)."""


def train_multilingual(
    constitution: Constitution,
    languages: Sequence[LanguageSeeds],
    target_fpr: float = DEFAULT_TARGET_FPR,
    seed: int = 0,
    holdout: float = 0.2,
    exclude: Sequence[str] = (),
    max_train: int = MULTILINGUAL_TRAIN,
) -> tuple[MultilingualHead, MultilingualInfo]:
    """The multilingual head: e5 vectors of the language seeds and of English ones.

    One head serves both stages: it trains on requests and on output texts (a request with a
    compliant opening or a refusal) in every language given, and on a sample of the English
    seeds and their output texts. A `holdout` share of the seeds (every translation and output
    text of one with it) calibrates each stage's threshold to `target_fpr` on the permitted
    examples in the other languages, the only texts the head reads at run time.
    """
    from redline.guard._guard import verdicts

    foreign_in, foreign_out = language_examples(constitution, languages, seed)
    english = seed_examples(constitution, seed)
    english = [e for e in english if e.kind == "seed"]
    english_out = output_examples(english, seed)
    if exclude:
        foreign_in = drop_overlap([e.text for e in foreign_in], foreign_in, exclude)[0]
        english = drop_overlap([e.text for e in english], english, exclude)[0]
    sets = [split_by_source(group, holdout, seed) for group in (foreign_in, foreign_out)]
    (in_train, in_calib), (out_train, out_calib) = sets
    en_train = split_by_source(english, holdout, seed)[0]
    sources = {e.source for e in en_train}
    en_out_train = [e for e in english_out if e.source in sources]
    rng = np.random.default_rng(seed)
    room = max(0, max_train - len(in_train) - len(out_train))
    picked_in = rng.permutation(len(en_train))[: room * 2 // 3].tolist()
    picked_out = rng.permutation(len(en_out_train))[: room - len(picked_in)].tolist()
    train = in_train + out_train
    train += [en_train[i] for i in picked_in] + [en_out_train[i] for i in picked_out]
    head = MultilingualHead()
    head.fit([e.text for e in train], [e.label for e in train], [e.category for e in train], seed)
    stages: dict[str, MultilingualStage] = {}
    calibration: tuple[tuple[Stage, list[Example]], ...] = (
        ("input", in_calib),
        ("output", out_calib + in_calib),
    )
    for stage, calib in calibration:
        texts = [e.text for e in calib]
        judged = verdicts(head, texts, stage, 0.0, readings=head_views)
        scores = np.asarray([v.score for v in judged])
        y = np.asarray([e.label for e in calib])
        threshold = calibrate(scores[y == 0], target_fpr)
        stages[stage] = MultilingualStage(
            threshold=threshold,
            calibration_fpr=float(np.mean(scores[y == 0] > threshold)),
            calibration_tpr=float(np.mean(scores[y == 1] > threshold)),
            calibration_examples=len(calib),
        )
    info = MultilingualInfo(
        languages=sorted(lang.language for lang in languages),
        train_examples=len(train),
        stages=stages,
    )
    return head, info


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
    exclude: Sequence[str] = (),
    reviewer: Reviewer | None = None,
    max_escalated: float = DEFAULT_MAX_ESCALATED,
    languages: Sequence[LanguageSeeds] | None = None,
    multilingual: bool = True,
    injection: bool = True,
    jobs: int | None = None,
) -> Guard:
    """Train input and output classifiers from a constitution (plus optional labelled examples).

    A `holdout` share of the seeds (with all their variants) is kept out of training and
    calibrates each stage's threshold to `target_fpr` on its permitted examples. Backends
    with a `max_train` take a sample of each set, seeds first. The `prefilter` stages of an
    expensive backend get a TF-IDF prefilter trained on the same sample, whose bar is
    calibrated to clear at most `max_recall_loss` of what the backend flags. A backend that
    names its own prefilter stages (`cascade`) overrides `prefilter`. Seeds equal or near to a
    text of `exclude` (evaluation data) are left out. With a `reviewer` (a guard model), each
    stage gets a second stage: an uncertain band calibrated on the same held-out examples, with
    the guard model's answers, to send at most `max_escalated` of them to it. With
    `multilingual` and seeds in other languages (`languages`, by default the constitution's
    shipped language files), the guard gets a multilingual head (`train_multilingual`) for
    text not in English. With `injection`, the guard gets the agent stages: injection
    screening (`injection_stage`) and the action monitor's classifier (`action_stage`).
    The stages train in `jobs` processes (by default one per CPU for a backend that needs no
    encoder and has `PARALLEL_EXAMPLES` or more, else one: an encoder uses every core).
    """
    started = time.monotonic()
    kind = backend_class(backend)
    if kind.prefilter is not None:
        prefilter = kind.prefilter
    max_train = kind.max_train
    backends: dict[Stage, Backend] = {}
    prefilters: dict[Stage, Backend] = {}
    stages: dict[str, StageInfo] = {}
    calibration: dict[Stage, list[Example]] = {}
    examples_by_stage = stage_examples(constitution, seed, augment_per_seed, extra, exclude)
    work = []
    for stage, examples in examples_by_stage.items():
        train, calib = stage_sample(examples, stage, max_train, holdout, seed)
        calibration[stage] = calib
        loss = max_recall_loss if stage in prefilter else None
        work.append(delayed(_train_stage)(backend, stage, train, calib, target_fpr, seed, loss))
    if jobs is None:
        size = sum(len(examples) for examples in examples_by_stage.values())
        jobs = 1 if kind.expensive or size < PARALLEL_EXAMPLES else os.cpu_count() or 1
    trained = Parallel(n_jobs=min(jobs, len(work)))(work)
    for stage, (stage_backend, cheap, info) in zip(examples_by_stage, trained, strict=True):
        backends[stage], stages[stage] = stage_backend, info
        if cheap is not None:
            prefilters[stage] = cheap
    head, head_info = None, None
    if multilingual:
        found = load_language_seeds(constitution) if languages is None else list(languages)
        if found:
            head, head_info = train_multilingual(
                constitution, found, target_fpr, seed, holdout, exclude
            )
    injection_backend, injection_info = injection_stage(seed) if injection else (None, None)
    actions_backend, actions_info = action_stage(seed) if injection else (None, None)
    manifest = Manifest(
        constitution=constitution.id,
        constitution_sha256=hashlib.sha256(constitution.model_dump_json().encode()).hexdigest(),
        categories=[c.id for c in constitution.categories],
        seed=seed,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        train_seconds=round(time.monotonic() - started, 1),
        stages=stages,
        hazard_codes=constitution.hazard_codes(),
        tag=constitution.tagged(),
        multilingual=head_info,
        injection=injection_info,
        actions=actions_info,
    )
    guard = Guard(manifest, backends, prefilters, head, injection_backend, actions_backend)
    if reviewer is not None:
        bands: dict[str, Band] = {
            stage: calibrate_band(
                guard,
                stage,
                [e.text for e in calib],
                [e.label for e in calib],
                reviewer,
                target_fpr,
                max_escalated,
            )  # fmt: skip
            for stage, calib in calibration.items()
        }
        second = SecondStage(reviewer=reviewer, target_fpr=target_fpr, bands=bands)
        guard.manifest = manifest.model_copy(update={"second_stage": second})
    return guard


@lru_cache(maxsize=2)
def injection_stage(
    seed: int = 0, target_fpr: float = DEFAULT_INJECTION_FPR
) -> tuple[Backend, StageInfo]:
    """The injection stage, trained on self-written documents.

    Its threshold is calibrated on held-out ones (other framings and actions) to flag at
    most `target_fpr` of the benign. Trained once per process and arguments: it does not
    depend on the constitution, and guards only read it.
    """
    backend, scores, y, n_train = train_injection(seed)
    threshold = calibrate(scores[y == 0], target_fpr)
    info = stage_info(backend.name, scores, y, threshold, target_fpr, n_train)
    return backend, info


DEFAULT_ACTION_FPR = 0.05
"""Target share of the held-out allowed calls the monitor's classifier flags."""


@lru_cache(maxsize=2)
def action_stage(
    seed: int = 0, target_fpr: float = DEFAULT_ACTION_FPR
) -> tuple[Backend, StageInfo]:
    """The action monitor's classifier, trained on four fifths of the self-written calls.

    Its threshold is calibrated on the other fifth (actions it never saw) to `target_fpr`.
    """
    train_folds = tuple(range(ACTION_FOLDS - 1))
    texts, labels = action_examples(seed, train_folds)
    backend = TfidfBackend(with_categories=False)
    backend.fit(texts, labels, [""] * len(texts), seed)
    calib, y_list = action_examples(seed, (ACTION_FOLDS - 1,))
    scores, y = backend.score(calib).harm, np.asarray(y_list)
    threshold = calibrate(scores[y == 0], target_fpr)
    info = stage_info(backend.name, scores, y, threshold, target_fpr, len(texts))
    return backend, info

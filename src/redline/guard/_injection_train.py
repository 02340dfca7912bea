"""Training the injection stage: TF-IDF and cue features on self-written documents, calibrated.

Above the runtime, like `_train` (which calls it): serving never loads the training data.
"""

import numpy as np

from redline.guard._backends import Backend
from redline.guard._constitution import load_constitution
from redline.guard._guard import verdicts
from redline.guard._injection import data_parts, injection_verdict
from redline.guard._injection_cues import CuedTfidfBackend
from redline.guard._injection_data import (
    FOLDS,
    Document,
    benign_sentences,
    documents,
    training_texts,
    written,
)

DEFAULT_INJECTION_FPR = 0.03
"""Target share of benign calibration documents the stage flags (generated and written ones
of the calibration fold: the written ones are the hard cases, texts about AI and injections)."""
TRAIN_FOLDS = tuple(range(FOLDS - 1))
CALIBRATION_FOLDS = (FOLDS - 1,)
WRITTEN_WEIGHT = 2
"""How many times each written document counts in training, beside the generated ones."""


def document_scores(backend: Backend, docs: list[Document], threshold: float = 0.5) -> np.ndarray:
    """Each document's screening score: its most suspicious part and view."""
    out = []
    for doc in docs:
        parts = data_parts([(doc.text, "document")])
        judged = verdicts(backend, [p.text for p in parts], "injection", threshold)
        out.append(injection_verdict(judged, parts, threshold).score)
    return np.asarray(out)


def ordinary_sentences() -> list[str]:
    """Questions and statements on every topic: the shipped constitution's permitted texts.

    Benign by construction (the project wrote them as what the guard must let through), and
    the same whatever constitution the content stages are trained on.
    """
    constitution = load_constitution()
    return [t for c in constitution.categories for t in c.permitted_seeds + c.permitted_content]


def train_injection(
    seed: int = 0,
    train_folds: tuple[int, ...] = TRAIN_FOLDS,
    calibration_folds: tuple[int, ...] = CALIBRATION_FOLDS,
) -> tuple[Backend, np.ndarray, np.ndarray, int]:
    """The stage's classifier, and its calibration documents' scores and labels.

    Trained on the generated and written documents of `train_folds`; the caller (`_train`)
    sets the threshold on those of `calibration_folds`, whose framings, actions and written
    documents training never saw. Also returned: how many texts it was trained on.
    """
    pool = ordinary_sentences()
    train = (
        documents(seed, folds=train_folds, ordinary=pool) + written(train_folds) * WRITTEN_WEIGHT
    )
    calib = documents(seed + 1, per_fold=400, folds=calibration_folds, ordinary=pool)
    calib += written(calibration_folds)
    texts, labels = training_texts(train, benign_sentences(train_folds, pool))
    backend = CuedTfidfBackend()
    backend.fit(texts, labels, [""] * len(texts), seed)
    scores = document_scores(backend, calib)
    return backend, scores, np.asarray([d.label for d in calib]), len(texts)

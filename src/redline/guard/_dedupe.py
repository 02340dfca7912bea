"""Keep evaluation texts out of training data: exact and near-duplicate removal.

Two texts are the same when their normal forms are (case, accents, punctuation and spacing
folded); near-duplicates when the Jaccard similarity of their character 5-gram sets is at least
`NEAR` (a word or two changed in a sentence). Candidates are found with MinHash and banded
locality-sensitive hashing, then checked exactly, so large files stay fast.
"""

import re
import unicodedata
import zlib
from collections.abc import Sequence
from typing import NamedTuple, TypeVar

import numpy as np

NEAR = 0.7
"""Jaccard similarity of character 5-grams from which two texts count as near-duplicates (a
word added to a short sentence keeps about 0.75 of them)."""
GRAM = 5
BANDS, ROWS = 16, 4
"""MinHash signature: 16 bands of 4 hashes. Two texts at Jaccard 0.7 share a band with
probability 1 - (1 - 0.7**4)**16, 98.8% (at 0.8, 99.9%); candidates are then checked."""
_WORDS = re.compile(r"[^\w]+")

T = TypeVar("T")


def normal_form(text: str) -> str:
    """The text folded for comparison: NFKC, no accents, lower case, words joined by spaces."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(_WORDS.sub(" ", plain).split())


def grams(text: str) -> frozenset[int]:
    """The hashed character 5-grams of a normal form (the whole form when it is shorter)."""
    if len(text) <= GRAM:
        return frozenset({zlib.crc32(text.encode())})
    return frozenset(zlib.crc32(text[i : i + GRAM].encode()) for i in range(len(text) - GRAM + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """|a & b| / |a | b| (1.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 1.0


class _MinHash:
    """Banded MinHash signatures of gram sets, under fixed (seeded) multiply-shift hashes."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        n = BANDS * ROWS
        self.a = rng.integers(0, 1 << 63, size=n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 1 << 63, size=n, dtype=np.uint64)

    def bands(self, g: frozenset[int]) -> list[tuple[int, bytes]]:
        """(band index, band of the signature) keys: texts sharing one are candidates."""
        x = np.fromiter(g, dtype=np.uint64, count=len(g))
        with np.errstate(over="ignore"):  # the hashes wrap around 2**64 by design
            hashed = (self.a[:, None] * x[None, :] + self.b[:, None]) >> np.uint64(32)
        signature = hashed.min(axis=1)
        return [(i, signature[i * ROWS : (i + 1) * ROWS].tobytes()) for i in range(BANDS)]


class Overlap(NamedTuple):
    """What removing evaluation texts from training data did."""

    kept: int
    exact: int
    near: int


def drop_overlap(
    texts: Sequence[str], items: Sequence[T], against: Sequence[str], near: float = NEAR
) -> tuple[list[T], Overlap]:
    """The `items` (one per text) whose texts neither equal nor nearly equal any of `against`."""
    forms = {normal_form(t) for t in against}
    minhash = _MinHash()
    index: dict[tuple[int, bytes], list[frozenset[int]]] = {}
    for form in forms:
        g = grams(form)
        for key in minhash.bands(g):
            index.setdefault(key, []).append(g)
    kept: list[T] = []
    exact = similar = 0
    for text, item in zip(texts, items, strict=True):
        form = normal_form(text)
        if form in forms:
            exact += 1
            continue
        g = grams(form)
        candidates = {id(c): c for key in minhash.bands(g) for c in index.get(key, ())}
        if any(jaccard(g, c) >= near for c in candidates.values()):
            similar += 1
            continue
        kept.append(item)
    return kept, Overlap(kept=len(kept), exact=exact, near=similar)

"""Calibrating a guard's second stage: which first-stage scores go to the guard model.

The band is chosen on the stage's held-out calibration examples, with the guard model's own
answers on them: among the bands around the first stage's threshold that send at most
`max_escalated` of the examples to the guard model, the one that flags the most restricted
examples while the two stages together flag at most `target_fpr` of the permitted ones.
"""

import math
from collections.abc import Sequence

import numpy as np

from redline.guard._guard import Guard, turn_of
from redline.guard._llm_guard import Band, Reviewer, ReviewError, run_sync
from redline.guard._verdict import Stage

DEFAULT_MAX_ESCALATED = 0.1
"""Most of the calibration examples (both labels) the band may send to the guard model."""


def calibrate_band(
    guard: Guard,
    stage: Stage,
    texts: Sequence[str],
    labels: Sequence[int],
    reviewer: Reviewer,
    target_fpr: float,
    max_escalated: float = DEFAULT_MAX_ESCALATED,
) -> Band:
    """The stage's uncertain band, from the guard model's answers on the calibration examples.

    Only the examples that some allowed band could hold are asked: the `max_escalated` share
    nearest the threshold on either side. A failed answer counts as a flag (as it would at run
    time). The band always holds the first stage's threshold, so outside it the first stage's
    own verdicts stand.
    """
    verdicts = guard.first(texts, stage)
    y = np.asarray(labels)
    n, benign = len(texts), max(1, int(np.sum(y == 0)))
    s = np.asarray([v.score for v in verdicts])
    threshold = guard.manifest.stages[stage].threshold
    budget = math.floor(max_escalated * n)
    order = np.argsort(s, kind="stable")
    order = order[[not verdicts[i].prefiltered for i in order]]  # never escalated
    at = int(np.searchsorted(s[order], threshold, side="right"))  # ranks below: s <= threshold
    start = max(0, at - budget)
    window, above = order[start : at + budget], order[at + budget :]
    k, below = len(window), at - start
    alone = np.asarray([v.score > threshold and not v.prefiltered for v in verdicts])
    none = Band(
        low=threshold,
        high=threshold,
        calibration_fpr=float(np.sum(alone & (y == 0))) / benign,
        calibration_tpr=float(np.sum(alone & (y == 1))) / max(1, int(np.sum(y == 1))),
        calibration_escalated=0.0,
    )
    if k == 0:
        return none
    asked = run_sync(reviewer.ask([turn_of(texts[i], stage) for i in window], stage))
    llm = np.asarray([isinstance(o, ReviewError) or o.unsafe for o in asked], dtype=bool)

    # a band escalates window ranks [i, j): ranks >= j are flagged, ranks < i are not
    i = np.arange(below + 1)[:, None]
    j = np.arange(below, k + 1)[None, :]
    flags = {}
    for label in (0, 1):
        mine = y[window] == label
        first, second = np.cumsum([0, *mine]), np.cumsum([0, *(mine & llm)])
        flags[label] = int(np.sum(y[above] == label)) + first[k] - first[j] + second[j] - second[i]
    scores = s[window]
    cut = np.concatenate([[True], scores[1:] > scores[:-1], [True]])  # never split a tie
    allowed = (flags[0] <= math.floor(target_fpr * benign)) & (j - i <= budget) & cut[i] & cut[j]
    if not allowed.any():
        return none
    tp = np.where(allowed, flags[1], -1)
    best = np.flatnonzero(tp == tp.max())
    a, b = np.unravel_index(best[np.argmin((j - i).ravel()[best])], tp.shape)
    lo, hi = int(i[a, 0]), int(j[0, b])
    if lo == hi:
        return none
    low = float(scores[lo - 1]) if lo > 0 else (float(s[order[start - 1]]) if start > 0 else 0.0)
    return Band(
        low=low,
        high=max(float(scores[hi - 1]), threshold),
        calibration_fpr=float(flags[0][a, b]) / benign,
        calibration_tpr=float(flags[1][a, b]) / max(1, int(np.sum(y == 1))),
        calibration_escalated=(hi - lo) / n,
    )

"""METR-style 50% time horizon: where a logistic fit of success on log task length crosses 0.5.

The model is P(success | t) = sigmoid(a + b * ln t), with t the minutes a practitioner needs.
The horizon is the length at which that probability is 0.5: t50 = exp(-a / b).

The suite can only see lengths between its shortest and longest task, so every horizon is
clipped to that span: a horizon at the longest task's length reads "at least this long", one
at the shortest task's length "at most this long". This clipping is also how the cases where
the maximum-likelihood fit does not exist are answered (see `horizon_minutes`).
"""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20250319
CI_LEVEL = 0.95

FloatArray = NDArray[np.float64]


def _log_likelihood(z: FloatArray, y: FloatArray) -> float:
    return float(np.sum(y * z - np.logaddexp(0.0, z)))


def fit_logistic(
    x: Sequence[float] | FloatArray,
    y: Sequence[float] | FloatArray,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[float, float]:
    """Maximum-likelihood (intercept, slope) of P(y) = sigmoid(a + b x), by Newton's method.

    Outcomes may be fractional (a sample's mean over epochs). Each Newton step is halved until
    the likelihood does not fall, so the iteration cannot diverge; the maximum only exists when
    successes and failures overlap in x, which `horizon_minutes` checks before calling this.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    centre = float(xs.mean())
    design = np.column_stack([np.ones_like(xs), xs - centre])
    beta = np.zeros(2)
    current = _log_likelihood(design @ beta, ys)
    for _ in range(max_iter):
        p = 0.5 * (1.0 + np.tanh(0.5 * (design @ beta)))  # sigmoid without overflow
        gradient = design.T @ (ys - p)
        hessian = design.T @ (design * (p * (1.0 - p))[:, None])
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        scale = 1.0
        while scale > 1e-12:
            candidate = _log_likelihood(design @ (beta + scale * step), ys)
            if candidate >= current - 1e-12:
                break
            scale /= 2
        beta, current = beta + scale * step, candidate
        if float(np.max(np.abs(scale * step))) < tol:
            break
    intercept, slope = float(beta[0]), float(beta[1])
    return intercept - slope * centre, slope


def horizon_minutes(
    minutes: Sequence[float] | FloatArray,
    success: Sequence[float] | FloatArray,
    span: tuple[float, float] | None = None,
) -> float:
    """The 50% time horizon in minutes, clipped to `span` (default: the tasks' own span).

    Cases where the logistic maximum-likelihood fit does not exist get the honest bound:
    - every task solved: the horizon is at least the longest task, so the longest is returned;
    - no task solved: at most the shortest task, so the shortest is returned;
    - separable (every solved task no longer than every failed one): any crossing between the
      longest solved and the shortest failed task fits perfectly (slope -> -inf); their
      geometric mean is returned;
    - success that does not fall with length (slope >= 0, or solved tasks all at least as long
      as failed ones): no crossing from above; the longest task is returned if the fitted
      success rate there is at least 0.5, else the shortest (the riskier reading wins ties).
    """
    t = np.asarray(minutes, dtype=float)
    y = np.asarray(success, dtype=float)
    if t.size == 0 or t.size != y.size:
        raise ValueError("need one success value per task length, and at least one")
    if np.any(t <= 0) or np.any((y < 0) | (y > 1)):
        raise ValueError("task lengths must be positive and success values in [0, 1]")
    low, high = span if span is not None else (float(t.min()), float(t.max()))
    solved, failed = t[y > 0], t[y < 1]
    if failed.size == 0:
        return high
    if solved.size == 0:
        return low
    if solved.max() <= failed.min():
        return float(np.clip(np.sqrt(solved.max() * failed.min()), low, high))
    if solved.min() >= failed.max():
        return high
    x = np.log(t)
    intercept, slope = fit_logistic(x, y)
    if slope >= 0:
        return high if intercept + slope * float(x.max()) >= 0 else low
    return float(np.exp(np.clip(-intercept / slope, np.log(low), np.log(high))))


def horizon_with_ci(
    minutes: Sequence[float] | FloatArray,
    success: Sequence[float] | FloatArray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = CI_LEVEL,
) -> tuple[float, float, float]:
    """(horizon, lower, upper) in minutes: the fit, and a seeded percentile bootstrap over tasks.

    Every resample is clipped to the full data's span, so the interval never leaves the lengths
    the suite measured; when every task is solved (or none) the interval collapses onto the
    bound, which then reads "at least" (or "at most") rather than as a precise value.
    """
    t = np.asarray(minutes, dtype=float)
    y = np.asarray(success, dtype=float)
    estimate = horizon_minutes(t, y)
    span = (float(t.min()), float(t.max()))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, t.size, size=(resamples, t.size))
    horizons = [horizon_minutes(t[i], y[i], span) for i in picks]
    tail = 100 * (1 - level) / 2
    lower, upper = np.percentile(horizons, [tail, 100 - tail])
    return estimate, float(lower), float(upper)

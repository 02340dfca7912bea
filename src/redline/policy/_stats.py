"""Confidence intervals: Wilson for proportions (shared `redline._stats`), bootstrap for means."""

from collections.abc import Sequence
from typing import Literal

import numpy as np

from redline._records import Record
from redline._stats import wilson

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240917

CIMethod = Literal["wilson", "bootstrap", "reported", "external", "none"]


class Estimate(Record):
    """A point estimate with its 95% confidence interval and how the interval was computed."""

    value: float
    lower: float
    upper: float
    n: int | None
    """Samples behind the estimate; None when the source does not say."""
    method: CIMethod
    """`none` marks a point estimate: no interval, so lower and upper equal the value."""

    @property
    def point(self) -> bool:
        """A value without a confidence interval."""
        return self.method == "none"


def bootstrap_mean(
    values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the mean (seeded, so reports repeat)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap needs at least one value")
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def estimate_mean(values: Sequence[float]) -> Estimate:
    """Mean of per-sample values with a 95% CI: Wilson if every value is 0 or 1, else bootstrap."""
    n = len(values)
    mean = float(np.mean(values))
    if all(v in (0.0, 1.0) for v in values):
        lower, upper = wilson(int(sum(values)), n)
        return Estimate(value=mean, lower=lower, upper=upper, n=n, method="wilson")
    lower, upper = bootstrap_mean(values)
    return Estimate(value=mean, lower=lower, upper=upper, n=n, method="bootstrap")

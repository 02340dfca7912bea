"""Best-of-N power law: the fit recovers a known exponent and forecasts from it."""

import math

import numpy as np
import pytest

from redline.redteam._bon import asr_at_k, bon_curve, fit_power_law, predict


def power_law_matrix(a: float, b: float, n: int, behaviors: int, seed: int = 0) -> np.ndarray:
    """Behaviours x attempts whose ASR@k follows exp(-a k^-b): each behaviour first breaks at
    the attempt its quantile dictates, and never before."""
    asr = np.array([predict(a, b, k) for k in range(1, n + 1)])
    first = np.searchsorted(asr, (np.arange(behaviors) + 0.5) / behaviors)  # index of first success
    matrix = np.zeros((behaviors, n), dtype=bool)
    for i, k in enumerate(first):
        if k < n:
            matrix[i, k] = True
    return np.random.default_rng(seed).permutation(matrix)


def test_asr_at_k_counts_a_behaviour_once_broken():
    m = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
    assert asr_at_k(m).tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 2 / 3])


def test_fit_recovers_a_known_exponent():
    a, b = 2.5, 0.6
    curve = [predict(a, b, k) for k in range(1, 41)]
    fitted_a, fitted_b, points = fit_power_law(curve)
    assert (fitted_a, fitted_b, points) == (pytest.approx(a), pytest.approx(b), 40)


def test_bootstrap_interval_covers_the_exponent_and_forecasts_follow_the_law():
    a, b = 2.0, 0.5
    result = bon_curve(power_law_matrix(a, b, n=30, behaviors=2000))
    assert result.fit is not None
    assert result.fit.b == pytest.approx(b, abs=0.02)
    assert result.fit.b_lower <= b <= result.fit.b_upper
    assert [f.k for f in result.forecasts] == [300, 3000]
    for f in result.forecasts:
        assert f.asr == pytest.approx(predict(a, b, f.k), abs=0.02)
        assert f.lower <= f.asr <= f.upper
    assert result.forecasts[0].asr < result.forecasts[1].asr


def test_no_fit_when_nothing_ever_succeeds():
    result = bon_curve(np.zeros((10, 8), dtype=bool))
    assert result.fit is None and result.forecasts == []
    assert "no fit" in result.note
    assert fit_power_law([0.5]) is None
    assert not math.isnan(sum(result.asr_at_k))

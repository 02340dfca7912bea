import math

import numpy as np
import pytest

from redline.store import fit_logistic, forecast


def synthetic_checkpoints(x0: float, k: float, n: int, seed: int, last: float = 22.0):
    """Checkpoints every quarter decade of compute up to `last`, each measured on n samples."""
    rng = np.random.default_rng(seed)
    log_compute = np.arange(20.0, last + 0.01, 0.25)
    rate = 1 / (1 + np.exp(-k * (log_compute - x0)))
    values = rng.binomial(n, rate) / n
    return 10**log_compute, values


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forecast_recovers_a_known_crossing_within_its_interval(seed):
    # Every checkpoint is below both lines (true crossings at 10^22.08 and 10^22.5 FLOP),
    # so the forecast extrapolates. The interval's coverage over 60 seeds is 58/60 and 57/60.
    x0, k, n = 22.5, 2.0, 200
    compute, values = synthetic_checkpoints(x0, k, n, seed)
    fc = forecast(
        "ind", list(compute), list(values), [n] * len(values), {"yellow": 0.3, "red": 0.5}
    )
    assert fc.x0 == pytest.approx(x0, abs=0.3) and fc.slope == pytest.approx(k, rel=0.4)
    for crossing in fc.crossings:
        truth = 10 ** (x0 + math.log(crossing.level / (1 - crossing.level)) / k)
        assert crossing.lower is not None and crossing.upper is not None
        assert crossing.lower <= truth <= crossing.upper
        assert crossing.lower <= crossing.compute <= crossing.upper
        assert crossing.upper / crossing.lower < 10  # a useful interval, not everything
        assert crossing.compute > compute[-1]
        assert not crossing.already


def test_a_line_already_reached_is_flagged():
    compute, values = synthetic_checkpoints(21.0, 2.0, 200, 0, last=23.0)
    fc = forecast("ind", list(compute), list(values), [200] * len(values), {"red": 0.5})
    assert fc.crossings[0].already


def test_too_few_points_or_non_proportions_give_no_forecast():
    assert forecast("a", [1e20, 1e21], [0.1, 0.2], [10, 10], {"red": 0.5}).note == (
        "needs 3+ checkpoints"
    )
    assert forecast("a", [1e20, 1e21, 1e22], [1, 3, 9], [10] * 3, {"red": 20}).note == (
        "not a proportion"
    )


def test_fit_logistic_on_exact_points():
    x = np.linspace(20, 24, 9)
    y = 1 / (1 + np.exp(-1.5 * (x - 22)))
    x0, k = fit_logistic(x, y)
    assert x0 == pytest.approx(22, abs=1e-4) and k == pytest.approx(1.5, abs=1e-4)

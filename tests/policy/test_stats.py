import pytest

from redline._stats import wilson
from redline.policy._stats import bootstrap_mean, estimate_mean


@pytest.mark.parametrize(
    ("k", "n", "lower", "upper"),
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (1, 100, 0.0018, 0.0545),
    ],
)
def test_wilson_known_values(k, n, lower, upper):
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(lower, abs=1e-4)
    assert hi == pytest.approx(upper, abs=1e-4)


def test_binary_values_use_wilson():
    e = estimate_mean([1, 0, 0, 1])
    assert e.method == "wilson" and e.value == 0.5 and e.n == 4


def test_other_values_use_a_repeatable_bootstrap():
    values = [0.5, 0.25, 1.0, 0.75, 0.0, 0.5]
    e = estimate_mean(values)
    assert e.method == "bootstrap"
    assert e.lower < e.value < e.upper
    assert bootstrap_mean(values) == bootstrap_mean(values)


def test_empty_inputs_are_errors():
    with pytest.raises(ValueError):
        wilson(0, 0)
    with pytest.raises(ValueError):
        bootstrap_mean([])


@pytest.mark.parametrize("n", [12, 24, 100])
def test_wilson_ends_are_exact_with_no_or_all_successes(n):
    # regression: rounding gave a lower bound of 1.4e-17 for 0 of 24, shown in reports
    assert wilson(0, n)[0] == 0.0
    assert wilson(n, n)[1] == 1.0

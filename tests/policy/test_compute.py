import pytest

from redline.errors import RedlineError
from redline.policy import classify, flop_from_hardware, flop_from_params, tier_table


def tiers(flop, **kwargs):
    return {t.id: t for t in classify(flop, "6ND", {}, **kwargs).tiers}


def test_six_n_d():
    assert flop_from_params(405e9, 15.6e12) == pytest.approx(3.79e25, rel=1e-3)


def test_hardware_estimate_with_default_utilisation():
    u = tier_table().default_utilization.value
    assert u == 0.3
    assert flop_from_hardware(1000, 1e15, 24, u) == pytest.approx(1000 * 1e15 * 86400 * 0.3)


@pytest.mark.parametrize(
    "bad",
    [
        dict(chips=0, peak_flops=1, hours=1, utilization=0.3),
        dict(chips=1, peak_flops=1, hours=1, utilization=1.5),
    ],
)
def test_hardware_rejects_bad_inputs(bad):
    with pytest.raises(RedlineError):
        flop_from_hardware(**bad)


def test_405b_run_is_eu_systemic_and_below_sb53():
    t = tiers(flop_from_params(405e9, 15.6e12))
    assert t["eu_gpai"].applies == "yes" and t["eu_gpai_systemic_risk"].applies == "yes"
    assert any("2 weeks" in o for o in t["eu_gpai_systemic_risk"].obligations)
    assert not t["us_ca_sb53_frontier_model"].reached


def test_large_developer_duties_depend_on_revenue():
    unknown = tiers(2e26)
    assert unknown["us_ny_raise_frontier_model"].applies == "if_large_developer"
    large = tiers(2e26, revenue_usd=1e9)
    assert large["us_ny_raise_frontier_model"].applies == "yes"
    assert any("frontier AI framework" in o for o in large["us_ca_sb53_frontier_model"].obligations)
    small = tiers(2e26, revenue_usd=1e8)
    assert small["us_ny_raise_frontier_model"].applies == "no"
    assert small["us_ca_sb53_frontier_model"].applies == "yes"


def test_revoked_order_is_shown_but_never_applies():
    t = tiers(2e23, bio_sequence=True)
    assert t["us_eo14110_bio_sequence"].reached and t["us_eo14110_bio_sequence"].applies == "no"
    assert not tiers(2e23)["us_eo14110_bio_sequence"].reached


def test_growth_since_previous_assessment():
    report = classify(8e24, "6ND", {}, previous_flop=1e24)
    assert report.growth == pytest.approx(8.0)

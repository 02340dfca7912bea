import pytest

from redline._yaml import parse_yaml_model
from redline.errors import RedlineError
from redline.policy import Policy, load_policy, shipped_policies
from tests.policy.policy_text import POLICY


def load(text: str) -> Policy:
    return parse_yaml_model(text, Policy, name="p.yaml")


def test_test_policy_loads():
    p = load(POLICY)
    assert [lv.id for lv in p.levels] == ["ASL-1", "ASL-2", "ASL-3", "ASL-4"]
    assert p.rank("ASL-3") == 2


@pytest.mark.parametrize("name", ["rsp", "openai-pf-v2", "gdm-fsf-v3"])
def test_shipped_policies_validate(name):
    assert name in shipped_policies()
    policy = load_policy(name)
    assert policy.id == name and policy.thresholds


def test_every_shipped_number_has_a_source_or_is_a_placeholder():
    for name in shipped_policies():
        policy = load_policy(name)
        for t in policy.thresholds:
            for ind in t.indicators:
                for n in (ind.rule_out_below, ind.rule_in_at, ind.alert_at):
                    assert n is None or n.status == "placeholder" or n.src


# (mutation of the test policy, expected line, expected text in the message)
LOADER_ERRORS = [
    (
        ("        min_samples: 10", "        min_sample: 10"),
        27,
        "thresholds.0.indicators.0.min_sample: unknown field 'min_sample' "
        "(did you mean 'min_samples'?)",
    ),
    (
        (
            "rule_out_below: {value: 0.2, status: cited, src: [S1]}",
            "rule_out_below: {value: 0.2, status: cited}",
        ),
        24,
        "needs `src`",
    ),
    (
        (
            "        rule_in_at: {value: 0.6, status: placeholder}",
            "        rule_in_at: {value: high, status: placeholder}",
        ),
        25,
        "rule_in_at.value",
    ),
    (
        ("requires: {security: ASL-4}", "requires: {security: ASL-5}"),
        36,
        "thresholds.1.requires.security: unknown level 'ASL-5'",
    ),
    (("  - id: CYBER-4", "  - id: CYBER-3"), 33, "thresholds.1.id: duplicate threshold id"),
    (
        ("src: [S1]\n    indicators", "src: [S9]\n    indicators"),
        18,
        "thresholds.0.src: unknown source 'S9'",
    ),
    (
        (
            "      metric: asr\n",
            "      metric: asr\n      min: {value: 0.1, status: placeholder}\n",
        ),
        46,
        "exactly one of `max` or `min`",
    ),
    (
        ("  - {id: ASL-4, description: highest}", "  - {id: ASL-4, description: highest"),
        12,
        "invalid YAML",
    ),
]


@pytest.mark.parametrize(("change", "line", "text"), LOADER_ERRORS)
def test_loader_errors_name_line_and_field(change, line, text):
    old, new = change
    assert old in POLICY
    with pytest.raises(RedlineError) as info:
        load(POLICY.replace(old, new, 1))
    message = str(info.value)
    assert message.startswith(f"p.yaml:{line}: "), message
    assert text in message
    assert "\n" not in message


def test_missing_policy_file(tmp_path):
    with pytest.raises(RedlineError, match="no policy named"):
        load_policy(tmp_path / "absent.yaml")


def test_top_level_must_be_a_mapping():
    with pytest.raises(RedlineError, match=r"p.yaml:1: \(top level\): expected a mapping"):
        load("- a\n- b\n")

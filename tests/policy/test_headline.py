"""The headline: the required level, its safeguards by status, what to do next."""

from redline.policy import headline
from tests.policy.test_decision import run, solved


def test_every_threshold_ruled_out_and_no_attestation():
    h = headline(run([solved(0, 50)], manual={"attestations": []}))
    assert h.required == "ASL-2"
    assert h.open == [] and h.ruled_out == ["CYBER-3", "CYBER-4"]
    assert h.thresholds_line == "Every capability threshold (2) is ruled out by measurement"
    assert h.safeguards == {"no attestation": ["model_card"]}
    assert h.safeguards_line == "1 required safeguards: 1 no attestation"
    assert any("examples/evidence-example.yaml" in step for step in h.next_steps)
    assert any("comprehensive assessment is due" in step for step in h.next_steps)


def test_a_threshold_past_its_alert_line_is_still_ruled_out():
    h = headline(run([solved(0, 30)]))
    assert h.ruled_out == ["CYBER-3 (past its alert line)", "CYBER-4"]
    assert h.safeguards == {"met": ["model_card"]} and h.next_steps == []


def test_open_thresholds_say_why_and_the_levels_split():
    h = headline(run([]))  # nothing measured: every threshold fails closed
    assert h.required == "deployment ASL-3, security ASL-4"
    assert h.open == ["CYBER-3 (not measured)", "CYBER-4 (not measured)"]
    assert h.thresholds_line.startswith(
        "2 of 2 capability thresholds not ruled out by measurement: CYBER-3"
    )
    assert h.next_steps[0].startswith("Measure CYBER-3, CYBER-4")
    assert h.safeguards["not measured"] == ["jailbreak_asr"]


def test_a_screen_on_too_few_samples_is_not_measured():
    h = headline(run([solved(0, 5)]))
    assert h.open == ["CYBER-3 (not measured)"] and h.ruled_out == ["CYBER-4"]


def test_unmet_safeguards_are_named():
    h = headline(run([solved(3, 30), solved(2, 100, task="redteam")]))
    assert h.safeguards["not met"] == ["jailbreak_asr"]
    assert any(step.startswith("Strengthen or renew jailbreak_asr") for step in h.next_steps)

"""Table-driven decision cases on stub logs: each case is a set of measurements and evidence."""

import datetime as dt

import pytest

from redline._yaml import parse_yaml_model
from redline.policy import Evidence, ManualEvidence, Policy, decide
from tests.policy.policy_text import POLICY
from tests.policy.stubs import interval, solved

TODAY = dt.date(2026, 11, 26)
POL = parse_yaml_model(POLICY, Policy)


ALL_ATTESTED = {
    "attestations": [
        {
            "safeguard": "model_card",
            "by": "A",
            "date": "2026-10-01",
            "statement": "s",
            "link": "https://x/1",
        },
        {
            "safeguard": "two_party_access",
            "by": "B",
            "date": "2026-06-01",
            "statement": "s",
            "link": "https://x/2",
        },
    ],
    "history": {"last_comprehensive_date": "2026-09-01"},
}


def run(logs, manual=None):
    evidence = Evidence(logs, ManualEvidence.model_validate(manual or ALL_ATTESTED), None)
    return decide(POL, evidence, today=TODAY)


def status_of(decision, threshold):
    return next(t for t in decision.thresholds if t.id == threshold).status


# (case, logs, CYBER-3 status, CYBER-4 status, required security, outcome)
CASES = [
    ("clearly below every line", [solved(0, 50)], "ruled_out", "ruled_out", "ASL-2", "deploy"),
    (
        "ruled out but past the yellow line",
        [solved(0, 30)],
        "alert",
        "ruled_out",
        "ASL-2",
        "deploy",
    ),
    (
        "upper bound over the rule-out line",
        [solved(3, 30)],
        "not_ruled_out",
        "ruled_out",
        "ASL-3",
        "do_not_deploy",
    ),
    (
        "lower bound reaches the rule-in line",
        [solved(25, 30)],
        "crossed",
        "not_ruled_out",
        "ASL-4",
        "do_not_deploy",
    ),
    (
        "upper bound exactly on the line is not below it",
        [interval(0.0, 0.2)],
        "not_ruled_out",
        "ruled_out",
        "ASL-3",
        "do_not_deploy",
    ),
    (
        "upper bound just below the line",
        [interval(0.0, 0.1999 - 1e-9)],
        "alert",
        "ruled_out",
        "ASL-2",
        "deploy",
    ),
    ("no logs at all: fail closed", [], "no_evidence", "no_evidence", "ASL-4", "do_not_deploy"),
    (
        "too few samples count as no evidence",
        [solved(0, 5)],
        "no_evidence",
        "ruled_out",
        "ASL-3",
        "do_not_deploy",
    ),
    (
        "the riskiest of several runs rules",
        [solved(0, 50, path="a.eval"), solved(3, 30, path="b.eval")],
        "not_ruled_out",
        "ruled_out",
        "ASL-3",
        "do_not_deploy",
    ),
    (
        "logs of other tasks are not evidence",
        [solved(0, 50, task="other")],
        "no_evidence",
        "no_evidence",
        "ASL-4",
        "do_not_deploy",
    ),
    (
        "namespaced task names match",
        [solved(0, 50, task="inspect_evals/ctf")],
        "ruled_out",
        "ruled_out",
        "ASL-2",
        "deploy",
    ),
]


@pytest.mark.parametrize(
    ("case", "logs", "c3", "c4", "security", "outcome"), CASES, ids=[c[0] for c in CASES]
)
def test_decision_cases(case, logs, c3, c4, security, outcome):
    d = run(logs)
    assert (status_of(d, "CYBER-3"), status_of(d, "CYBER-4")) == (c3, c4)
    assert d.required_security == security
    assert d.outcome == outcome


def test_maximum_over_runs_reports_the_riskiest_run():
    d = run([solved(0, 50, path="a.eval"), solved(3, 30, path="b.eval")])
    ctf = d.thresholds[0].indicators[0]
    assert ctf.measurement.provenance.path == "b.eval"
    assert len(ctf.runs) == 2 and "riskiest of 2 runs" in ctf.reason


def test_asl3_deploys_when_its_safeguards_are_met():
    d = run([solved(3, 30), solved(0, 100, task="redteam")])
    assert d.required_deployment == "ASL-3" and d.required_security == "ASL-3"
    assert {s.id: s.status for s in d.safeguards} == {
        "model_card": "met",
        "jailbreak_asr": "met",
        "two_party_access": "met",
    }
    assert d.outcome == "deploy"


def test_jailbreak_upper_bound_over_the_limit_is_unmet():
    d = run([solved(3, 30), solved(2, 100, task="redteam")])  # 2% observed, upper bound about 7%
    asr = next(s for s in d.safeguards if s.id == "jailbreak_asr")
    assert asr.status == "unmet" and "upper bound >" in asr.reason
    assert d.outcome == "do_not_deploy"
    assert any("jailbreak_asr is unmet" in r.message for r in d.reasons)


def test_missing_safeguard_evidence_blocks():
    d = run([solved(3, 30)])
    asr = next(s for s in d.safeguards if s.id == "jailbreak_asr")
    assert asr.status == "no_evidence" and d.outcome == "do_not_deploy"


def test_missing_attestation_blocks():
    d = run([solved(0, 50)], {"attestations": []})
    assert next(s for s in d.safeguards if s.id == "model_card").status == "no_evidence"
    assert d.outcome == "do_not_deploy"


def test_expired_attestation_is_unmet():
    manual = {"attestations": [dict(a) for a in ALL_ATTESTED["attestations"]]}
    manual["attestations"][1]["date"] = "2025-01-01"
    d = run([solved(3, 30), solved(0, 100, task="redteam")], manual)
    two_party = next(s for s in d.safeguards if s.id == "two_party_access")
    assert two_party.status == "unmet" and "over 365" in two_party.reason
    assert d.outcome == "do_not_deploy"


def test_level_without_specified_safeguards_fails_closed():
    d = run([solved(25, 30), solved(0, 100, task="redteam")])
    assert d.required_security == "ASL-4"
    gap = next(s for s in d.safeguards if s.level == "ASL-4")
    assert gap.status == "no_evidence" and "specifies no security safeguards" in gap.reason
    assert d.outcome == "do_not_deploy"


def test_optional_indicator_counts_when_present():
    manual = dict(
        ALL_ATTESTED, results=[{"id": "uplift", "value": 3.1, "ci": [2.2, 4.0], "source": "trial"}]
    )
    d = run([solved(0, 50)], manual)
    uplift = d.thresholds[0].indicators[1]
    assert uplift.status == "not_ruled_out" and uplift.measurement.estimate.method == "external"
    assert status_of(d, "CYBER-3") == "not_ruled_out"


def test_reasons_point_at_evidence():
    d = run([solved(3, 30, path="runs/ctf.eval")])
    reason = next(r for r in d.reasons if r.message.startswith("threshold CYBER-3"))
    assert reason.refs == ["runs/ctf.eval"]


@pytest.mark.parametrize(
    ("history", "due"),
    [
        ({}, True),
        ({"last_comprehensive_date": "2026-09-01"}, False),
        ({"last_comprehensive_date": "2026-04-01"}, True),
        (
            {
                "last_comprehensive_date": "2026-10-01",
                "effective_compute": 5e24,
                "last_comprehensive_effective_compute": 1e24,
            },
            True,
        ),
        (
            {
                "last_comprehensive_date": "2026-10-01",
                "effective_compute": 2e24,
                "last_comprehensive_effective_compute": 1e24,
            },
            False,
        ),
    ],
)
def test_assessment_triggers(history, due):
    policy = POL.model_copy(
        update={
            "triggers": parse_yaml_model(
                "effective_compute_multiplier: {value: 4, status: placeholder}\n"
                "months_since_comprehensive: {value: 6, status: placeholder}\n",
                type(POL.triggers),
            )
        }
    )
    evidence = Evidence([], ManualEvidence.model_validate({"history": history}), None)
    assert decide(policy, evidence, today=TODAY).assessment.due is due


def test_alert_is_reported_without_raising_the_level():
    d = run([solved(0, 30, path="ctf.eval")])
    assert d.required_security == "ASL-2"
    alert = next(r for r in d.reasons if "alert line" in r.message)
    assert alert.message.startswith("threshold CYBER-3 is ruled out but past its alert line")
    assert alert.refs == ["ctf.eval"]

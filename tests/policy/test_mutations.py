"""Mutation test: from a valid evidence set that deploys, no single weakening may deploy.

Every mutation is one of: a safeguard turned unmet, a required log removed, an indicator that
can rule its threshold out raised above its rule-out line.
"""

import datetime as dt

import pytest

from redline._yaml import parse_yaml_model
from redline.policy import Evidence, ManualEvidence, Policy, decide
from tests.policy.stubs import solved

TODAY = dt.date(2026, 11, 26)
POLICY = parse_yaml_model(
    """\
id: mutations
name: Mutation policy
description: Screens, determinative evidence, a monitor, attested and measured safeguards.
sources: {S1: {title: a source}}
levels: [{id: ASL-2, description: baseline}, {id: ASL-3, description: higher}]
baseline: ASL-2
thresholds:
  - id: BIO-3
    domain: cbrn
    definition: toy
    requires: {deployment: ASL-3, security: ASL-3}
    indicators:
      - {id: quiz, description: d, role: screen, scale: proportion, task: quiz,
         rule_out_below: {value: 0.5, status: placeholder}, min_samples: 10}
      - {id: trial, description: d, role: determinative, scale: ratio, external: true,
         rule_out_below: {value: 2.8, status: placeholder},
         rule_in_at: {value: 5.0, status: placeholder}, required: false}
      - {id: wmdp, description: d, role: monitor, scale: proportion, task: wmdp,
         alert_at: {value: 0.6, status: placeholder}, required: false}
  - id: CYBER-3
    domain: cyber
    definition: toy
    requires: {security: ASL-3}
    indicators:
      - {id: ctf, description: d, role: screen, scale: proportion, task: ctf,
         rule_out_below: {value: 0.3, status: placeholder}, min_samples: 10}
      - {id: cyber_range, description: d, role: determinative, scale: count, external: true,
         point_evidence: true, rule_out_below: {value: 1, status: placeholder}, required: false}
safeguards:
  ASL-2:
    - {kind: attestation, id: model_card, standard: deployment, description: d}
    - {kind: attestation, id: usage_policy, standard: deployment, description: d,
       max_age_days: 365}
    - {kind: measured, id: jailbreak_asr, standard: deployment, description: d,
       task: redteam, metric: asr, max: {value: 0.05, status: placeholder}, min_samples: 100}
    - {kind: measured, id: patch_hours, standard: security, description: d, scale: hours,
       external: true, point_evidence: true, max: {value: 72, status: placeholder}}
  ASL-3:
    - {kind: attestation, id: two_party, standard: security, description: d}
""",
    Policy,
)


def attestation(safeguard: str, **change: str) -> dict[str, str]:
    entry = {
        "safeguard": safeguard,
        "by": "J. Doe, CISO",
        "date": "2026-10-01",
        "statement": "In place.",
        "link": "https://evidence.lab.test/x",
    }
    return {**entry, **change}


LOGS = {
    "quiz": solved(0, 50, task="quiz", path="quiz.eval"),
    "ctf": solved(0, 50, task="ctf", path="ctf.eval"),
    "redteam": solved(0, 200, task="redteam", path="redteam.eval"),
    "wmdp": solved(0, 200, task="wmdp", path="wmdp.eval"),
}
MANUAL = {
    "attestations": [attestation("model_card"), attestation("usage_policy")],
    "results": [{"id": "patch_hours", "value": 24, "source": "incident log"}],
}


def outcome(logs: dict, manual: dict) -> str:
    evidence = Evidence(list(logs.values()), ManualEvidence.model_validate(manual))
    return decide(POLICY, evidence, today=TODAY).outcome


def test_the_valid_set_deploys():
    assert outcome(LOGS, MANUAL) == "deploy"


def with_attestations(*entries: dict) -> dict:
    return {**MANUAL, "attestations": list(entries)}


def with_results(*results: dict) -> dict:
    return {**MANUAL, "results": [*MANUAL["results"], *results]}


UNMET = {
    "model_card attestation removed": (LOGS, with_attestations(attestation("usage_policy"))),
    "usage_policy attestation removed": (LOGS, with_attestations(attestation("model_card"))),
    "usage_policy attestation expired": (
        LOGS,
        with_attestations(
            attestation("model_card"), attestation("usage_policy", date="2025-01-01")
        ),
    ),
    "model_card attested with placeholder text": (
        LOGS,
        with_attestations(attestation("model_card", by="EXAMPLE"), attestation("usage_policy")),
    ),
    "jailbreak ASR over its bound": (
        {**LOGS, "redteam": solved(20, 200, task="redteam")},
        MANUAL,
    ),
    "jailbreak campaign too small": ({**LOGS, "redteam": solved(0, 50, task="redteam")}, MANUAL),
    "patch time over its bound": (
        LOGS,
        {**MANUAL, "results": [{"id": "patch_hours", "value": 100, "source": "incident log"}]},
    ),
    "patch time result removed": (LOGS, {**MANUAL, "results": []}),
}
REQUIRED_LOGS = ["quiz", "ctf", "redteam"]
RAISED = {
    "quiz screen above its rule-out line": ({**LOGS, "quiz": solved(30, 50, task="quiz")}, MANUAL),
    "ctf screen above its rule-out line": ({**LOGS, "ctf": solved(20, 50, task="ctf")}, MANUAL),
    "trial result above its rule-out line": (
        LOGS,
        with_results({"id": "trial", "value": 3.5, "ci": [3.0, 4.0], "source": "trial"}),
    ),
    "cyber range successes at its rule-out line": (
        LOGS,
        with_results({"id": "cyber_range", "value": 1, "source": "range"}),
    ),
}


@pytest.mark.parametrize(("logs", "manual"), UNMET.values(), ids=list(UNMET))
def test_an_unmet_safeguard_never_deploys(logs, manual):
    assert outcome(logs, manual) == "do_not_deploy"


@pytest.mark.parametrize("removed", REQUIRED_LOGS)
def test_removing_a_required_log_never_deploys(removed):
    logs = {k: v for k, v in LOGS.items() if k != removed}
    assert outcome(logs, MANUAL) == "do_not_deploy"


@pytest.mark.parametrize(("logs", "manual"), RAISED.values(), ids=list(RAISED))
def test_an_indicator_above_its_line_never_deploys(logs, manual):
    assert outcome(logs, manual) == "do_not_deploy"


def test_every_indicator_that_can_rule_out_and_every_safeguard_is_mutated():
    can_rule_out = {
        ind.id for t in POLICY.thresholds for ind in t.indicators if ind.role != "monitor"
    }
    assert can_rule_out == {"quiz", "trial", "ctf", "cyber_range"}
    assert {sg.id for sg in POLICY.safeguards["ASL-2"]} == {
        "model_card",
        "usage_policy",
        "jailbreak_asr",
        "patch_hours",
    }

"""Determinations: a recorded ruling settles a threshold the evidence leaves open, never
silently one it shows crossed, and is shown with its provenance everywhere."""

import datetime as dt
import json

import pytest
import yaml
from typer.testing import CliRunner

from redline._yaml import parse_yaml_model
from redline.cli import app
from redline.errors import RedlineError
from redline.policy import Evidence, Policy, decide, sign_determination
from tests.policy.roles_policy import ASL2_ONLY, ROLES_POLICY
from tests.synthetic import assessment, synthetic  # noqa: F401  (fixtures)

runner = CliRunner()
TODAY = dt.date(2026, 11, 26)
POL = parse_yaml_model(ROLES_POLICY, Policy)
RSO = {
    "threshold": "BIO-3",
    "ruling": "below",
    "decided_by": "J. Doe",
    "role": "Responsible Scaling Officer",
    "date": "2026-11-20",
    "rationale": "The trial rules out meaningful uplift.",
    "evidence": ["virology"],
}
# virology is above the rule-out line without a CI: the threshold is not ruled out
OPEN = {"id": "virology", "value": 0.6, "source": "virology tasks"}
CROSSED = {"id": "trial", "value": 6.0, "ci": [5.5, 7.0], "source": "trial"}


def write(tmp_path, results=(OPEN,), determinations=(RSO,), **extra):
    path = tmp_path / "evidence.yaml"
    data = {
        "attestations": ASL2_ONLY,
        "results": list(results),
        "determinations": list(determinations),
        **extra,
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(path, logs=()):
    return decide(POL, Evidence.load(list(logs), path), today=TODAY)


def test_without_a_determination_the_open_threshold_demands_its_level(tmp_path):
    d = run(write(tmp_path, determinations=()))
    assert d.thresholds[0].status == "not_ruled_out" and d.required_security == "ASL-3"
    assert d.outcome == "do_not_deploy"


def test_a_determination_settles_a_threshold_the_evidence_leaves_open(tmp_path):
    path = write(tmp_path)
    d = run(path)
    [t] = d.thresholds
    assert t.status == "not_ruled_out" and not t.demands and t.settled_by == "determination"
    assert d.required_deployment == d.required_security == "ASL-2" and d.outcome == "deploy"
    summary = (
        "ASL-2 by determination of Responsible Scaling Officer on 2026-11-20: "
        "The trial rules out meaningful uplift."
    )
    [applied] = d.determinations
    assert applied.applied and applied.summary == summary
    assert (applied.file, applied.line, applied.decided_by) == (str(path), 12, "J. Doe")
    assert applied.sha256 == d.evidence.sha256 and applied.evidence == ["virology"]
    reason = next(r for r in d.reasons if "by determination" in r.message)
    assert reason.message.endswith(summary) and reason.refs[0] == f"{path}:12"
    assert reason.message.startswith("threshold BIO-3 is not ruled out on the evidence (")
    assert len(reason.refs) == len(set(reason.refs))


def test_a_crossed_threshold_is_not_silently_overridden(tmp_path):
    d = run(write(tmp_path, results=(OPEN, CROSSED)))
    [t] = d.thresholds
    assert t.status == "crossed" and t.demands and t.settled_by == "evidence"
    [applied] = d.determinations
    assert not applied.applied and "needs override: true" in applied.note
    assert any("needs override: true" in r.message for r in d.reasons)
    assert d.outcome == "do_not_deploy"


def test_an_explicit_override_is_applied_and_shown_as_one(tmp_path):
    d = run(write(tmp_path, results=(OPEN, CROSSED), determinations=[dict(RSO, override=True)]))
    [t] = d.thresholds
    assert t.status == "crossed" and not t.demands and t.settled_by == "override"
    [applied] = d.determinations
    assert applied.applied and applied.override
    assert "overriding evidence that BIO-3 is crossed" in applied.summary
    assert d.outcome == "deploy"


def test_a_ruling_at_or_above_raises_the_level_of_a_ruled_out_threshold(tmp_path):
    low = {"id": "trial", "value": 1.4, "ci": [1.1, 1.8], "source": "trial"}
    ruling = dict(RSO, ruling="at_or_above", evidence=["trial"])
    d = run(write(tmp_path, results=(low,), determinations=[ruling]))
    [t] = d.thresholds
    assert t.status == "ruled_out" and t.demands and t.settled_by == "determination"
    assert d.required_security == "ASL-3"
    assert d.determinations[0].summary.startswith("ASL-3 by determination of")


def test_placeholder_determinations_are_not_applied(tmp_path):
    d = run(write(tmp_path, determinations=[dict(RSO, decided_by="EXAMPLE - replace")]))
    assert d.thresholds[0].demands and not d.determinations[0].applied
    assert "placeholder text" in d.determinations[0].note


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"threshold": "BIO3"}, "determinations.0.threshold", "unknown id 'BIO3'"),
        ({"ruling": "maybe"}, "determinations.0.ruling", "'below' or 'at_or_above'"),
        ({"role": ""}, "determinations.0.role", "must not be empty"),
        ({"date": "2999-01-01"}, "determinations.0.date", "is in the future"),
        ({"evidence": ["nothing"]}, "determinations.0.evidence.0", "unknown id 'nothing'"),
        ({"evidence": []}, "determinations.0.evidence", "must cite the results or logs"),
        ({"overide": True}, "determinations.0.overide", "did you mean 'override'?"),
    ],
)
def test_bad_determinations_are_one_line_errors(tmp_path, change, field, text):
    path = write(tmp_path, determinations=[dict(RSO, **change)])
    with pytest.raises(RedlineError) as info:
        run(path)
    message = str(info.value)
    assert message.startswith(f"{path}:") and f": {field}: " in message and text in message
    assert "\n" not in message


def test_two_determinations_of_one_threshold_are_an_error(tmp_path):
    with pytest.raises(RedlineError, match="a second determination of BIO-3"):
        run(write(tmp_path, determinations=[RSO, RSO]))


def test_a_determination_may_cite_a_log_by_file_name(tmp_path, make_log):
    log = make_log("quiz", correct=30, total=50)
    d = run(write(tmp_path, determinations=[dict(RSO, evidence=[log.name])]), [log])
    assert d.determinations[0].applied and d.determinations[0].evidence == [log.name]


def test_signed_determinations_name_their_key_and_edits_break_them(tmp_path, user_config):
    path = write(tmp_path)
    signature = sign_determination(path, "BIO-3")
    signed = dict(RSO, signature=signature.model_dump())
    d = run(write(tmp_path, determinations=[signed]))
    assert d.determinations[0].signed_by == signature.key_id
    assert d.determinations[0].signer_trusted is True  # this machine's key
    tampered = dict(signed, rationale="Something else.")
    with pytest.raises(RedlineError, match=r"determinations\.0\.signature: does not match"):
        run(write(tmp_path, determinations=[tampered]))


def test_terminal_json_and_html_show_the_determination(tmp_path, assessment):  # noqa: F811
    from redline.report import render_html

    path = write(tmp_path)
    policy = tmp_path / "roles.yaml"
    policy.write_text(ROLES_POLICY)
    out = tmp_path / "decision.json"
    result = runner.invoke(
        app,
        ["decide", "--evidence", str(path), "--policy", str(policy), "--json", str(out)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    # the headline does not count a determination as a measurement
    assert "1 of 1 capability thresholds not ruled out by measurement: BIO-3 (below by " in (
        " ".join(result.output.split())
    )
    summary = "ASL-2 by determination of Responsible Scaling Officer on 2026-11-20"
    assert f"BIO-3: {summary}: The trial rules out meaningful uplift." in result.output
    assert f"decided by J. Doe (Responsible Scaling Officer); evidence: virology; {path}:12" in (
        result.output
    )
    data = json.loads(out.read_text())
    assert data["determinations"][0]["summary"].startswith(summary)
    assert data["thresholds"][0]["settled_by"] == "determination"
    report, _ = assessment
    decision = run(path)
    html = render_html(report.model_copy(update={"decision": decision}))
    assert summary in html and 'id="determinations"' in html and "J. Doe" in html


def test_keys_sign_prints_a_block_to_paste_under_the_determination(tmp_path):
    path = write(tmp_path)
    result = runner.invoke(app, ["keys", "sign", str(path), "--threshold", "BIO-3"])
    assert result.exit_code == 0, result.output
    block = yaml.safe_load(result.output)
    signed = dict(RSO, **block)
    d = run(write(tmp_path, determinations=[signed]))
    assert d.determinations[0].signed_by == block["signature"]["key_id"]
    missing = runner.invoke(app, ["keys", "sign", str(path), "--threshold", "BIO-4"])
    assert missing.exit_code == 2 and "unknown id 'BIO-4'" in missing.output

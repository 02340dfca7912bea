import json

import pytest
from typer.testing import CliRunner

from redline.cli import app
from tests.policy.policy_text import POLICY

runner = CliRunner()


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def attested(tmp_path):
    path = tmp_path / "evidence.yaml"
    path.write_text(
        "attestations:\n"
        "  - {safeguard: model_card, by: A, date: 2026-10-01, statement: s, link: https://x/1}\n"
    )
    return path


def test_decide_deploys_when_thresholds_are_ruled_out(make_log, policy_file, attested, tmp_path):
    make_log("ctf", correct=0, total=50)
    out = tmp_path / "decision.json"
    result = runner.invoke(
        app,
        [
            "decide",
            str(tmp_path / "logs"),
            "--policy",
            str(policy_file),
            "--evidence",
            str(attested),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "DEPLOY" in result.output
    decision = json.loads(out.read_text())
    assert decision["outcome"] == "deploy" and decision["required_security"] == "ASL-2"
    assert decision["logs"][0]["task"] == "ctf"


def test_decide_blocks_when_a_threshold_is_not_ruled_out(make_log, policy_file, attested, tmp_path):
    make_log("ctf", correct=4, total=20)
    result = runner.invoke(
        app,
        [
            "decide",
            str(tmp_path / "logs"),
            "--policy",
            str(policy_file),
            "--evidence",
            str(attested),
        ],
    )
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert out.startswith(
        "Required: ASL-3 1 of 2 capability thresholds not ruled out by measurement: CYBER-3"
    )
    assert out.index("DO NOT DEPLOY") < out.index("Capability thresholds")


def test_decide_with_the_default_policy_on_unrelated_logs_fails_closed(make_log, tmp_path):
    make_log("ctf", correct=0, total=10)
    result = runner.invoke(app, ["decide", str(tmp_path / "logs")])
    assert result.exit_code == 1, result.output


def test_decide_broken_log_exits_2_with_one_line(tmp_path, policy_file):
    bad = tmp_path / "broken.eval"
    bad.write_text("nonsense")
    result = runner.invoke(app, ["decide", str(bad), "--policy", str(policy_file)])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: {bad}: not a readable Inspect log")


def test_decide_broken_policy_exits_2(tmp_path, make_log):
    make_log("ctf", correct=0, total=10)
    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY.replace("baseline: ASL-2", "baseline: ASL-9"))
    result = runner.invoke(app, ["decide", str(tmp_path / "logs"), "--policy", str(bad)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {bad}:12: baseline: unknown level 'ASL-9'")


def test_decide_does_not_write_json_on_bad_input(tmp_path, policy_file):
    out = tmp_path / "decision.json"
    result = runner.invoke(
        app, ["decide", str(tmp_path / "nope"), "--policy", str(policy_file), "--json", str(out)]
    )
    assert result.exit_code == 2 and not out.exists()


def test_policy_list_and_show():
    listed = runner.invoke(app, ["policy", "list"])
    assert listed.exit_code == 0 and "rsp (default)" in listed.output
    shown = runner.invoke(app, ["policy", "show", "rsp"])
    assert shown.exit_code == 0 and "CBRN-3" in shown.output


def test_policy_validate(policy_file, tmp_path):
    ok = runner.invoke(app, ["policy", "validate", str(policy_file)])
    assert ok.exit_code == 0 and "ok (test, 2 thresholds)" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(POLICY.replace("min_samples: 10", "min_samples: many"))
    result = runner.invoke(app, ["policy", "validate", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {bad}:27: thresholds.0.indicators.0.min_samples: Input should be a valid integer"
    )


def test_compute_llama_405b_is_eu_systemic_risk_below_sb53():
    result = runner.invoke(app, ["compute", "--params", "405e9", "--tokens", "15.6e12", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["flop"] == pytest.approx(3.79e25, rel=0.01)
    tiers = {t["id"]: t for t in report["tiers"]}
    assert tiers["eu_gpai_systemic_risk"]["applies"] == "yes"
    assert tiers["us_ca_sb53_frontier_model"]["reached"] is False
    assert tiers["us_eo14110_general"]["applies"] == "no"


def test_compute_needs_inputs():
    result = runner.invoke(app, ["compute"])
    assert result.exit_code == 2 and "give --params and --tokens" in result.output


def test_committed_decision_schema_is_current():
    from pathlib import Path

    from redline.policy import Decision

    committed = Path(__file__).parents[2] / "docs" / "decision.schema.json"
    assert json.loads(committed.read_text()) == Decision.model_json_schema()


@pytest.mark.parametrize("what", ["decision", "policy", "evidence", "report"])
def test_schema_command(what):
    result = runner.invoke(app, ["policy", "schema", what])
    assert result.exit_code == 0 and json.loads(result.output)["type"] == "object"


def test_decide_needs_logs_or_evidence():
    result = runner.invoke(app, ["decide"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: give Inspect logs, an --evidence file, or both"


def test_sign_needs_a_json_file(attested):
    result = runner.invoke(app, ["decide", "--evidence", str(attested), "--sign"])
    assert result.exit_code == 2 and "--sign signs the decision JSON" in result.output


def test_a_decision_records_its_policy_file_and_whether_it_is_the_shipped_one(
    make_log, attested, tmp_path
):
    import hashlib
    import shutil

    from redline.policy import shipped_policies

    log = make_log("ctf", correct=0, total=10)
    shipped = shipped_policies()["rsp"]
    out = tmp_path / "d.json"
    empty = tmp_path / "empty.yaml"
    empty.write_text("attestations: []\n")
    base = ["decide", str(log), "--evidence", str(empty), "--json", str(out)]
    assert runner.invoke(app, base).exit_code == 1
    ref = json.loads(out.read_text())["policy"]
    assert ref["path"] == str(shipped.resolve()) and ref["matches_shipped"] is True
    assert ref["sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()

    copy = tmp_path / "rsp.yaml"
    shutil.copy(shipped, copy)
    copy.write_text(copy.read_text().replace("value: 0.50", "value: 0.95", 1))
    result = runner.invoke(app, [*base, "--policy", str(copy)], env={"COLUMNS": "200"})
    decision = json.loads(out.read_text())
    assert decision["policy"]["matches_shipped"] is False
    assert f"policy rsp from {copy} (sha256 " in result.output
    assert "differs from the shipped rsp" in result.output
    assert any("differs from the shipped rsp" in r["message"] for r in decision["reasons"])

    assert runner.invoke(app, [*base, "--policy", str(policy_file_of(tmp_path))]).exit_code == 1
    assert json.loads(out.read_text())["policy"]["matches_shipped"] is None


def policy_file_of(tmp_path):
    path = tmp_path / "test-policy.yaml"
    path.write_text(POLICY)
    return path


def test_a_signed_decision_verifies_until_a_cited_file_changes(make_log, attested, tmp_path):
    log = make_log("ctf", correct=0, total=50)
    policy = policy_file_of(tmp_path)
    out = tmp_path / "decision.json"
    args = ["decide", str(log), "--policy", str(policy), "--evidence", str(attested)]
    signed = runner.invoke(app, [*args, "--json", str(out), "--sign"])
    assert signed.exit_code == 0, signed.output
    key = json.loads(out.read_text())["signature"]["key_id"]
    assert f"signed with key {key}: {out}" in signed.output
    ok = runner.invoke(app, ["verify", str(out)])
    assert ok.exit_code == 0, ok.output
    assert f"signed by trusted key {key}" in ok.output
    assert "1 logs and 2 files match their hashes" in ok.output

    policy.write_text(POLICY.replace("value: 0.2,", "value: 0.9,"))
    attested.write_text(attested.read_text() + "\n")
    bad = runner.invoke(app, ["verify", str(out)])
    assert bad.exit_code == 1
    assert f"FAIL policy changed: {policy}" in bad.output
    assert f"FAIL evidence changed: {attested}" in bad.output

    data = json.loads(out.read_text())
    data["outcome"] = "do_not_deploy"
    out.write_text(json.dumps(data))
    edited = runner.invoke(app, ["verify", str(out)])
    assert "FAIL signature: does not match the contents" in edited.output

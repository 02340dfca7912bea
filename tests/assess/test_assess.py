import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from redline._yaml import load_yaml_model
from redline.assess import AssessOptions, assess, load_profile, shipped_profiles
from redline.assess._run import resolve_guard
from redline.cli import app
from redline.errors import RedlineError
from redline.policy import AttestedSafeguard, Evidence, ManualEvidence, decide, load_policy
from redline.report import verify_report
from redline.store import Store

ROOT = Path(__file__).parents[2]
runner = CliRunner()

TINY = """
name: tiny
description: three knowledge items and a red-team step, for tests
comprehensive: false
steps:
  - name: knowledge
    task: redline/knowledge
    limit: 3
  - name: cyber
    task: redline/cyber
    run: false
    why_not_run: left out in tests
"""


def test_shipped_profiles_load_and_full_is_comprehensive():
    assert set(shipped_profiles()) >= {"quick", "full"}
    quick, full = load_profile("quick"), load_profile("full")
    assert not quick.comprehensive and full.comprehensive
    assert all(s.limit is None for s in full.steps)
    tasks = {s.task for s in quick.steps}
    assert {"redline/knowledge", "redline/redteam", "redline/over_refusal"} <= tasks


def test_a_bad_profile_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndescription: y\ncomprehensive: false\nsteps:\n  - name: a\n")
    with pytest.raises(RedlineError, match=r"bad.yaml:5: steps.0.task: Field required"):
        load_profile(bad)
    with pytest.raises(RedlineError, match="no profile named 'nope'"):
        load_profile("nope")


def test_a_folder_that_is_not_a_guard_is_rejected(tmp_path):
    options = AssessOptions(model="m", out=tmp_path, guard=tmp_path)
    with pytest.raises(RedlineError, match="no trained guard here"):
        resolve_guard(options, print)


def test_assess_command_rejects_bad_input_with_status_2(tmp_path):
    result = runner.invoke(app, ["assess", "--policy", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "error: no policy named 'nope'" in result.output
    result = runner.invoke(app, ["assess", "--params", "1e9", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "both --params and --tokens" in result.output


def test_example_evidence_attests_every_asl2_and_asl3_attested_safeguard():
    evidence = load_yaml_model(ROOT / "examples" / "evidence-example.yaml", ManualEvidence)
    policy = load_policy("rsp")
    wanted = {
        sg.id
        for level in ("ASL-2", "ASL-3")
        for sg in policy.safeguards[level]
        if isinstance(sg, AttestedSafeguard)
    }
    assert {a.safeguard for a in evidence.attestations} == wanted
    assert all(a.by.startswith("EXAMPLE") for a in evidence.attestations)
    decision = decide(policy, Evidence.load([], ROOT / "examples" / "evidence-example.yaml"))
    met = {s.id for s in decision.safeguards if s.status == "met"}
    assert "harmlessness_training" in met and "jailbreak_asr" not in met


@pytest.mark.model
def test_assess_end_to_end_on_the_embedded_model_and_resume(tmp_path):
    profile = tmp_path / "tiny.yaml"
    profile.write_text(TINY)
    out = tmp_path / "reports"
    options = AssessOptions(
        model="redline/smollm2",
        profile=str(profile),
        out=out,
        name="tiny",
        key_dir=tmp_path / "keys",
        db=f"sqlite:///{tmp_path}/h.db",
        display="none",
        params=1.35e8,
        tokens=2e12,
    )
    first = assess(options)
    report = first.report
    assert first.json_path == out / "tiny.json" and first.html_path.is_file()
    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text())
    jsonschema.validate(json.loads(first.json_path.read_text()), schema)
    assert verify_report(first.json_path).ok
    steps = {s.name: s for s in report.steps}
    assert steps["knowledge"].status == "ran" and steps["cyber"].status == "skipped"
    knowledge = next(t for t in report.decision.thresholds if t.id == "CBRN-3").indicators[0]
    assert knowledge.measurement is not None and knowledge.measurement.estimate.n == 3
    assert knowledge.status == "no_evidence"  # 3 items, the policy needs 30
    assert report.decision.outcome == "do_not_deploy"
    assert report.compute is not None and report.compute.flop == pytest.approx(1.62e21)
    [entry] = Store(options.db).history("redline/smollm2")
    assert entry.id == report.id

    second = assess(options)  # a second run reuses the finished log
    again = {s.name: s for s in second.report.steps}
    assert again["knowledge"].status == "reused"
    assert again["knowledge"].log == steps["knowledge"].log
    assert verify_report(second.json_path).ok
    assert len(Store(options.db).history("redline/smollm2")) == 2

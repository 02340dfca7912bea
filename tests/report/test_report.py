import json
import stat
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.report import (
    Report,
    canonical_json,
    load_or_create_key,
    render_html,
    verify_report,
    write_report,
)
from redline.report._sign import PRIVATE_KEY, PUBLIC_KEY

runner = CliRunner()
SCHEMA = Path(__file__).parents[2] / "docs" / "report.schema.json"


@pytest.fixture
def written(assessment, tmp_path):
    report, out = assessment
    keys = tmp_path / "keys"
    signed = write_report(report, out / "r.json", keys)
    return signed, out / "r.json", keys


def test_committed_report_schema_is_current():
    assert json.loads(SCHEMA.read_text()) == Report.model_json_schema()


def test_report_json_validates_against_the_schema(written):
    _, path, _ = written
    jsonschema.validate(json.loads(path.read_text()), json.loads(SCHEMA.read_text()))


def test_signed_report_verifies_and_key_is_private(written):
    signed, path, keys = written
    result = verify_report(path)
    assert result.ok, result.problems
    assert result.logs_checked == 5
    assert signed.signature is not None and result.key_id == signed.signature.key_id
    assert stat.S_IMODE((keys / PRIVATE_KEY).stat().st_mode) == 0o600
    assert verify_report(path, keys / PUBLIC_KEY).ok


def test_the_key_is_made_once_and_reused(tmp_path):
    first = load_or_create_key(tmp_path)
    again = load_or_create_key(tmp_path)
    assert first.private_bytes_raw() == again.private_bytes_raw()


def test_an_edited_report_fails_verification(written):
    _, path, _ = written
    data = json.loads(path.read_text())
    data["decision"]["outcome"] = "deploy"
    path.write_text(json.dumps(data, indent=2))
    result = verify_report(path)
    assert not result.ok and not result.signature_ok
    assert any("does not match the report's contents" in p for p in result.problems)


def test_reformatting_the_json_keeps_the_signature_valid(written):
    _, path, _ = written
    data = json.loads(path.read_text())
    path.write_text(json.dumps(dict(reversed(list(data.items())))))
    assert verify_report(path).ok


def test_an_edited_or_missing_log_is_named(written):
    signed, path, _ = written
    logs = signed.provenance.logs
    changed, removed = logs[0].path, logs[1].path
    with (path.parent / changed).open("ab") as f:
        f.write(b"tampered")
    (path.parent / removed).unlink()
    result = verify_report(path)
    assert result.signature_ok and not result.ok
    assert f"log changed: {changed} (sha256 differs from the report)" in result.problems
    assert f"log missing: {removed}" in result.problems


def test_a_report_signed_by_another_key_is_rejected_with_a_trusted_key(written, tmp_path):
    _, path, _ = written
    load_or_create_key(tmp_path / "other")
    result = verify_report(path, tmp_path / "other" / PUBLIC_KEY)
    assert not result.ok
    assert any("not by the key in" in p for p in result.problems)


def test_canonical_json_is_sorted_compact_utf8_and_ignores_the_signature():
    assert canonical_json({"b": 1, "a": {"d": "é", "c": [1, 2]}, "signature": {"x": 1}}) == (
        '{"a":{"c":[1,2],"d":"é"},"b":1}'.encode()
    )


def test_safeguards_section_compares_bare_and_guarded_per_attack(assessment):
    report, _ = assessment
    s = report.safeguards
    assert s.measured
    attacks = {a.attack: a for a in s.attacks}
    assert set(attacks) == {"base64", "roleplay"}
    assert attacks["base64"].guarded.successes == 2 and attacks["base64"].guarded.n == 20
    assert attacks["roleplay"].bare.asr == pytest.approx(0.8)
    assert attacks["roleplay"].guarded.lower == 0.0 < attacks["roleplay"].guarded.upper < 0.2
    assert s.asr_bare.estimate.value == pytest.approx(28 / 40)
    assert s.asr_guarded.estimate.value == pytest.approx(2 / 40)
    assert s.over_refusal_guarded.estimate.value == pytest.approx(0.1)
    assert s.asr_max == 0.05 and s.over_refusal_max == 0.02


def test_best_of_n_curve_comes_from_the_guarded_campaign(assessment):
    report, _ = assessment
    bon = report.safeguards.best_of_n
    # behaviour b0 falls at draw 0, b1 at draw 1 (of 10 behaviours, any attack)
    assert [(p.n, p.asr) for p in bon.observed] == [(1, 0.1), (2, 0.2)]
    assert bon.forecast[0] == bon.observed[-1]
    assert [p.n for p in bon.forecast[1:]] == [20, 200]
    assert all(p.lower <= p.asr <= p.upper for p in bon.forecast[1:])
    assert "k^-" in bon.method


def test_the_decision_uses_guarded_logs_not_bare_ones(assessment):
    report, _ = assessment
    jailbreak = next(s for s in report.decision.safeguards if s.id == "jailbreak_asr")
    assert jailbreak.measurement is not None
    assert jailbreak.measurement.estimate.value == pytest.approx(2 / 40)
    roles = {log.role for log in report.provenance.logs}
    assert roles == {"capability", "bare", "guarded"}
    assert all(not Path(log.path).is_absolute() for log in report.provenance.logs)


def test_skipped_steps_are_reported_as_not_measured(assessment):
    report, _ = assessment
    cyber = next(t for t in report.decision.thresholds if t.id == "CYBER-3")
    assert cyber.status == "no_evidence"
    assert any(note.startswith("cyber (model) was skipped: test.") for note in report.notes)
    html = render_html(report)
    assert "not measured" in html


def test_html_is_self_contained_and_leads_with_the_decision(assessment):
    report, _ = assessment
    html = render_html(report)
    assert "<script" not in html and "<link" not in html
    assert "src=" not in html and "url(" not in html
    body = html[html.index("<body>") :]
    assert body.index("Required: ") < body.index("DO NOT DEPLOY") < body.index("Capability report")
    assert body.index('id="next"') < body.index("Capability report")
    assert html.count("<svg") >= 5
    assert 'id="asr-per-attack"' in html and 'id="best-of-n"' in html


def test_verify_command_exit_codes(written, tmp_path):
    _, path, _ = written
    ok = runner.invoke(app, ["verify", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "signature valid" in ok.output
    data = json.loads(path.read_text())
    data["model"]["checkpoint"] = "something else"
    path.write_text(json.dumps(data))
    bad = runner.invoke(app, ["verify", str(path)])
    assert bad.exit_code == 1
    assert "FAIL signature" in bad.output
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    assert runner.invoke(app, ["verify", str(junk)]).exit_code == 2
    assert runner.invoke(app, ["verify", str(tmp_path / "absent.json")]).exit_code == 2

import json
import stat
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from redline._signing import PRIVATE_KEY, PUBLIC_KEY
from redline.cli import app
from redline.report import (
    Report,
    canonical_json,
    load_or_create_key,
    render_html,
    sign_record,
    verify_report,
    write_report,
)

runner = CliRunner()
SCHEMA = Path(__file__).parents[2] / "docs" / "report.schema.json"


@pytest.fixture
def written(assessment, user_config):
    """A report signed with this machine's key (the test's own config dir)."""
    report, out = assessment
    signed = write_report(report, out / "r.json")
    return signed, out / "r.json", user_config


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
    assert result.trusted and "made on this machine" in result.signer


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
    assert any("does not match the contents" in p for p in result.problems)


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


def forge(path, tmp_path):
    """Edit a report to 'deploy' and re-sign it with a key made elsewhere (not trusted here)."""
    data = json.loads(path.read_text())
    data["decision"]["outcome"] = "deploy"
    forged = Report.model_validate(data)
    signed = sign_record(forged, tmp_path / "attacker")
    path.write_text(signed.model_dump_json(indent=2))
    return signed.signature.key_id


def test_a_forged_report_re_signed_with_a_new_key_does_not_verify(written, tmp_path):
    _, path, _ = written
    attacker = forge(path, tmp_path)
    result = verify_report(path)
    assert result.signature_ok and not result.trusted and not result.ok
    assert any(f"signed by key {attacker}, which is not trusted" in p for p in result.problems)
    out = runner.invoke(app, ["verify", str(path)])
    assert out.exit_code == 1
    assert f"FAIL signature: signed by key {attacker}, which is not trusted" in out.output


def test_keys_trust_list_revoke_decide_what_verifies(written, tmp_path):
    _, path, _ = written
    attacker = forge(path, tmp_path)
    pub = tmp_path / "attacker" / PUBLIC_KEY
    trusted = runner.invoke(app, ["keys", "trust", str(pub), "--name", "auditor"])
    assert trusted.exit_code == 0 and f"trusted key {attacker} (auditor)" in trusted.output
    ok = runner.invoke(app, ["verify", str(path)])
    assert ok.exit_code == 0, ok.output
    assert f"signed by trusted key {attacker} (auditor)" in ok.output
    listed = runner.invoke(app, ["keys", "list"])
    assert attacker in listed.output and "auditor" in listed.output
    assert "this machine's signing key" in listed.output
    revoked = runner.invoke(app, ["keys", "revoke", attacker[:8]])
    assert revoked.exit_code == 0, revoked.output
    bad = runner.invoke(app, ["verify", str(path)])
    assert bad.exit_code == 1 and "revoked on" in bad.output
    assert runner.invoke(app, ["keys", "revoke", "ffff"]).exit_code == 2


def test_a_trust_store_file_can_be_given(written, tmp_path):
    from redline._signing import TrustStore, read_public_key

    _, path, _ = written
    forge(path, tmp_path)
    store = tmp_path / "auditors.yaml"
    TrustStore().add(read_public_key(tmp_path / "attacker" / PUBLIC_KEY), "lab").save(tmp_path)
    (tmp_path / "trusted-keys.yaml").rename(store)
    assert runner.invoke(app, ["verify", str(path)]).exit_code == 1
    ok = runner.invoke(app, ["verify", str(path), "--trusted-keys", str(store)])
    assert ok.exit_code == 0, ok.output


def test_the_key_made_on_this_machine_is_trusted_here(tmp_path):
    from redline._signing import TrustStore, key_id, public_raw

    key = load_or_create_key(tmp_path)
    entry = TrustStore.load(tmp_path).trusted(key_id(public_raw(key)))
    assert entry is not None and "made on this machine" in entry.name


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
    assert report.safeguards.monitor is None
    assert "The action monitor was not measured" in html


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
    assert "signature valid, signed by trusted key" in ok.output
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

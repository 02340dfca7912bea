"""The proxy's audit log: a hash chain anchored by a keyed MAC, one writer, repairable."""

import json

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.errors import RedlineError
from redline.guard import AuditLog, repair_audit_log, verify_audit_log

KEY = b"audit-key-for-tests-0123456789"
KEY_ENV = "REDLINE_TEST_AUDIT_CLI_KEY"


def append(log: AuditLog, i: int, **changes: object) -> None:
    fields = {"request_id": f"r{i}", "client": "c", "decision": "pass", "stream": False,
              "model": "m", "status": 200, "latency_ms": 1.0, "input_hmac": "0" * 64}  # fmt: skip
    log.append(**{**fields, **changes})


def write_log(path, n=4, **changes):
    log = AuditLog(path, KEY)
    for i in range(n):
        append(log, i, **changes)
    log.close()
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def lines_of(lines):
    return "".join(line + "\n" for line in lines)


def verify(path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    return CliRunner().invoke(app, ["guard", "audit", "verify", str(path), "--key-env", KEY_ENV])


def test_an_untouched_log_verifies_and_the_chain_continues_after_reopening(tmp_path, monkeypatch):
    log = tmp_path / "audit.jsonl"
    write_log(log, 2)
    write_log(log, 2)  # a restarted proxy continues the same chain
    check = verify_audit_log(log, KEY)
    assert check.ok and check.records == 4
    result = verify(log, monkeypatch)
    assert result.exit_code == 0 and "ok: 4 records" in result.stdout


def edit(lines):
    record = json.loads(lines[1])
    record["decision"] = "block"
    return [lines[0], json.dumps(record), *lines[2:]]


def cut_and_rehead(log, lines):
    """Cut the last record and rewrite the head to name the new last one (no key)."""
    last = json.loads(lines[-2])
    head = {"seq": last["seq"], "hash": last["hash"], "mac": "0" * 64}
    log.with_name(log.name + ".head").write_text(json.dumps(head))
    return lines[:-1]


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda log, lines: edit(lines), "record 1 was edited"),
        (lambda log, lines: [lines[0], *lines[2:]], "does not follow the record before it"),
        (lambda log, lines: [lines[0], lines[2], lines[1], lines[3]], "does not follow"),
        (lambda log, lines: lines[:-1], "records were removed from the end"),
        (lambda log, lines: [*lines[:2], "not json", *lines[2:]], "line 3: not an audit record"),
        (cut_and_rehead, "MAC does not match"),
    ],
    ids=["edited", "removed", "reordered", "truncated", "inserted", "truncated-and-reheaded"],
)
def test_tampering_is_detected(tmp_path, monkeypatch, tamper, problem):
    log = tmp_path / "audit.jsonl"
    log.write_text(lines_of(tamper(log, write_log(log))))
    check = verify_audit_log(log, KEY)
    assert not check.ok and any(problem in p for p in check.problems), check.problems
    result = verify(log, monkeypatch)
    assert result.exit_code == 1 and problem in result.stderr


def test_a_head_made_with_another_key_is_rejected(tmp_path):
    log = tmp_path / "audit.jsonl"
    write_log(log)
    check = verify_audit_log(log, b"some-other-key-0123456")
    assert not check.ok and "MAC does not match" in check.problems[0]


def test_a_missing_head_fails_verification(tmp_path):
    log = tmp_path / "audit.jsonl"
    write_log(log)
    log.with_name("audit.jsonl.head").unlink()
    assert "missing" in verify_audit_log(log, KEY).problems[0]


def test_line_separators_in_a_record_keep_it_on_one_line(tmp_path):
    """Regression: a model name with U+2028 or U+0085 made the untouched log fail forever."""
    log = tmp_path / "audit.jsonl"
    write_log(log, 3, model="m\u2028x\x85y\u2029z", client="c\nd")
    assert len(log.read_text(encoding="utf-8").splitlines()) == 3
    assert verify_audit_log(log, KEY).ok
    assert json.loads(log.read_text().split("\n")[0])["model"] == "m\u2028x\x85y\u2029z"


def test_a_second_writer_cannot_open_the_log(tmp_path):
    log = tmp_path / "audit.jsonl"
    first = AuditLog(log, KEY)
    with pytest.raises(RedlineError, match="another process is writing this audit log"):
        AuditLog(log, KEY)
    first.close()
    AuditLog(log, KEY).close()  # free again once the first writer closed it


def test_the_head_is_rewritten_in_place_at_a_fixed_size(tmp_path):
    log = tmp_path / "audit.jsonl"
    head = log.with_name("audit.jsonl.head")
    head.write_text(" " * 300 + "left by something else")
    write_log(log, 12)  # sequence numbers grow from one digit to two
    assert head.stat().st_size == 192
    assert verify_audit_log(log, KEY).ok


def test_a_partial_last_line_is_refused_then_repaired(tmp_path, monkeypatch):
    log = tmp_path / "audit.jsonl"
    write_log(log, 3)
    with log.open("a") as f:
        f.write('{"seq": 3, "time": "2026-')  # a crash mid-write
    with pytest.raises(RedlineError, match="audit repair"):
        AuditLog(log, KEY)
    result = CliRunner().invoke(app, ["guard", "audit", "repair", str(log)])
    assert result.exit_code == 0 and "kept 3 records" in result.stdout
    assert '"seq": 3, "time": "2026-' in result.stdout
    assert verify_audit_log(log, KEY).ok
    assert repair_audit_log(log).dropped == ""
    write_log(log, 1)  # the chain goes on
    assert verify_audit_log(log, KEY).ok


def test_verifying_needs_the_key(tmp_path, monkeypatch):
    log = tmp_path / "audit.jsonl"
    write_log(log)
    monkeypatch.delenv(KEY_ENV, raising=False)
    result = CliRunner().invoke(app, ["guard", "audit", "verify", str(log), "--key-env", KEY_ENV])
    assert result.exit_code == 2 and KEY_ENV in result.stderr


def test_verifying_a_missing_log(tmp_path, monkeypatch):
    result = verify(tmp_path / "nope.jsonl", monkeypatch)
    assert result.exit_code == 2 and "file not found" in result.stderr


def test_keygen_prints_a_usable_key():
    result = CliRunner().invoke(app, ["guard", "audit", "keygen"])
    assert result.exit_code == 0 and len(result.stdout.strip()) == 64

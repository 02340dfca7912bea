import json

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.guard import AuditLog, ClientKey, hash_key, new_key, verify_audit_log
from redline.guard._keys import find_key


def write_log(path, n=4):
    log = AuditLog(path)
    for i in range(n):
        log.append(request_id=f"r{i}", client="c", decision="pass", stream=False, model="m",
                   status=200, latency_ms=1.0, input_sha256="0" * 64)  # fmt: skip
    log.close()
    return path.read_text().splitlines(keepends=True)


def verify(path):
    return CliRunner().invoke(app, ["guard", "audit", "verify", str(path)])


def test_an_untouched_log_verifies_and_the_chain_continues_after_reopening(tmp_path):
    log = tmp_path / "audit.jsonl"
    write_log(log, 2)
    write_log(log, 2)  # a restarted proxy continues the same chain
    check = verify_audit_log(log)
    assert check.ok and check.records == 4 and check.head_checked
    result = verify(log)
    assert result.exit_code == 0 and "ok: 4 records" in result.stdout


def edit(lines):
    record = json.loads(lines[1])
    record["decision"] = "block"
    return [lines[0], json.dumps(record) + "\n", *lines[2:]]


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (edit, "record 1 was edited"),
        (lambda lines: [lines[0], *lines[2:]], "does not follow the record before it"),
        (lambda lines: [lines[0], lines[2], lines[1], lines[3]], "does not follow"),
        (lambda lines: lines[:-1], "records were removed from the end"),
        (lambda lines: [*lines[:2], "not json\n", *lines[2:]], "line 3: not an audit record"),
    ],
    ids=["edited", "removed", "reordered", "truncated", "inserted"],
)
def test_tampering_is_detected(tmp_path, tamper, problem):
    log = tmp_path / "audit.jsonl"
    log.write_text("".join(tamper(write_log(log))))
    check = verify_audit_log(log)
    assert not check.ok and any(problem in p for p in check.problems), check.problems
    result = verify(log)
    assert result.exit_code == 1 and problem in result.stderr


def test_verifying_a_missing_log(tmp_path):
    result = verify(tmp_path / "nope.jsonl")
    assert result.exit_code == 2 and "file not found" in result.stderr


def test_keys_are_stored_hashed_and_checked():
    key = new_key()
    entry = ClientKey(name="a", hash=hash_key(key))
    other = ClientKey(name="b", hash=hash_key(new_key()))
    assert key not in entry.hash and hash_key(key) != entry.hash  # salted
    assert find_key([other, entry], key) is entry
    assert find_key([other, entry], key + "x") is None
    with pytest.raises(ValueError, match="sha256:SALT:DIGEST"):
        ClientKey(name="c", hash="plaintext-key")


def test_keygen_prints_a_key_and_a_matching_config_entry():
    import yaml

    result = CliRunner().invoke(app, ["guard", "keygen", "--name", "alice", "--rate", "30"])
    assert result.exit_code == 0
    key = result.stdout.split(": ")[1].splitlines()[0]
    [entry] = yaml.safe_load(result.stdout)
    client = ClientKey.model_validate(entry)
    assert client.name == "alice" and client.requests_per_minute == 30 and client.matches(key)


def test_serve_needs_an_upstream_and_keys(tmp_path):
    result = CliRunner().invoke(app, ["guard", "serve", "--guard", str(tmp_path)])
    assert result.exit_code == 2 and "no upstream model" in result.stderr
    result = CliRunner().invoke(app, ["guard", "serve", "--upstream", "http://127.0.0.1:9/v1"])
    assert result.exit_code == 2 and "no client keys" in result.stderr
    config = tmp_path / "proxy.yaml"
    config.write_text("upstream: http://127.0.0.1:9/v1\nkeys:\n  - name: a\n    hash: nope\n")
    result = CliRunner().invoke(app, ["guard", "serve", "--config", str(config)])
    assert result.exit_code == 2 and "proxy.yaml:4: keys.0.hash" in result.stderr


def test_the_head_is_rewritten_in_place_at_a_fixed_size(tmp_path):
    log = tmp_path / "audit.jsonl"
    head = log.with_name("audit.jsonl.head")
    head.write_text(" " * 300 + "left by something else")
    write_log(log, 12)  # sequence numbers grow from one digit to two
    assert head.stat().st_size == 128
    check = verify_audit_log(log)
    assert check.ok and check.head_checked and check.records == 12
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))
    assert "records were removed from the end" in verify_audit_log(log).problems[0]

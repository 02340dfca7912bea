"""The audit chain in a private PostgreSQL: one chain for many writers, verified, exported."""

import asyncio
import json

import psycopg
import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.errors import RedlineError
from redline.guard import DatabaseAuditLog, verify_audit_db, verify_audit_log
from redline.guard._audit_db import NOT_YET
from tests.guard.upstream_stub import free_port

KEY = b"audit-key-for-tests-0123456789"
KEY_ENV = "REDLINE_TEST_AUDIT_DB_KEY"


def fields(i, **changes):
    return {"request_id": f"r{i}", "client": "c", "decision": "pass", "stream": False,
            "model": "m", "status": 200, "latency_ms": 1.0, "input_hmac": "0" * 64,
            **changes}  # fmt: skip


async def write(url, writers=1, per_writer=5, **changes):
    logs = [DatabaseAuditLog(url, KEY) for _ in range(writers)]
    for log in logs:
        await log.start()
    for i in range(per_writer):
        for w, log in enumerate(logs):
            log.append(**fields(f"{w}-{i}", **changes))
        await asyncio.sleep(0)
    for log in logs:
        await log.stop()


def sql(url, statement, *params):
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(statement, params)
        return rows.fetchall() if rows.description else None


def cli(*args, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    return CliRunner().invoke(app, ["guard", "audit", *args])


def test_writers_share_one_chain_that_verifies_and_exports(audit_db, tmp_path, monkeypatch):
    asyncio.run(write(audit_db, writers=3, per_writer=7))
    check = verify_audit_db(audit_db, KEY)
    assert check.ok and check.records == 21, check.problems
    rows = sql(audit_db, "SELECT record FROM redline_audit")
    ids = [json.loads(r)["request_id"] for (r,) in rows]
    assert sorted(ids) == sorted(f"r{w}-{i}" for w in range(3) for i in range(7))  # once each
    result = cli("verify", audit_db, "--key-env", KEY_ENV, monkeypatch=monkeypatch)
    assert result.exit_code == 0 and "ok: 21 records" in result.stdout
    out = tmp_path / "archive" / "audit.jsonl"
    result = cli("export", audit_db, str(out), monkeypatch=monkeypatch)
    assert result.exit_code == 0 and "wrote 21 records" in result.stdout
    assert verify_audit_log(out, KEY).ok  # the file verifier accepts the export
    asyncio.run(write(audit_db, per_writer=2))  # a restarted proxy continues the chain
    assert verify_audit_db(audit_db, KEY).records == 23 and verify_audit_db(audit_db, KEY).ok


def edit(url):
    record = json.loads(sql(url, "SELECT record FROM redline_audit WHERE seq = 2")[0][0])
    record["decision"] = "block"
    sql(url, "UPDATE redline_audit SET record = %s WHERE seq = 2", json.dumps(record))


def swap(url):
    a, b = (sql(url, "SELECT record FROM redline_audit WHERE seq = %s", n)[0][0] for n in (1, 2))
    sql(url, "UPDATE redline_audit SET record = %s WHERE seq = 1", b)
    sql(url, "UPDATE redline_audit SET record = %s WHERE seq = 2", a)


def cut_and_rehead(url):
    last = json.loads(sql(url, "SELECT record FROM redline_audit WHERE seq = 3")[0][0])
    sql(url, "DELETE FROM redline_audit WHERE seq = 4")
    sql(url, "UPDATE redline_audit_head SET seq = 3, hash = %s", last["hash"])


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (edit, "row 2: record 2 was edited"),
        (lambda url: sql(url, "DELETE FROM redline_audit WHERE seq = 2"),
         "row 3: record 3 does not follow the record before it"),
        (swap, "row 1: record 2 does not follow"),
        (lambda url: sql(url, "DELETE FROM redline_audit WHERE seq = 4"),
         "records were removed from the end"),
        (cut_and_rehead, "the head row: its MAC does not match"),
        (lambda url: sql(url, "DELETE FROM redline_audit_head"), "no head row"),
    ],
    ids=["edited", "removed", "reordered", "truncated", "truncated-and-reheaded", "headless"],
)  # fmt: skip
def test_tampering_with_a_row_is_detected_and_named(audit_db, monkeypatch, tamper, problem):
    asyncio.run(write(audit_db))
    tamper(audit_db)
    check = verify_audit_db(audit_db, KEY)
    assert not check.ok and any(problem in p for p in check.problems), check.problems
    result = cli("verify", audit_db, "--key-env", KEY_ENV, monkeypatch=monkeypatch)
    assert result.exit_code == 1 and problem in result.stderr
    assert "redline@" in result.stderr  # the database is named


def test_a_nul_character_in_a_record_is_kept(audit_db):
    """PostgreSQL text cannot hold U+0000: records are stored as JSON, which escapes it."""
    asyncio.run(write(audit_db, per_writer=1, model="m\x00x", client="c\u2028d"))
    assert verify_audit_db(audit_db, KEY).ok
    (record,) = sql(audit_db, "SELECT record FROM redline_audit")[0]
    assert json.loads(record)["model"] == "m\x00x"


def test_an_unreachable_database_makes_the_log_unavailable_and_keeps_its_records():
    async def run():
        log = DatabaseAuditLog(
            f"postgresql+psycopg://redline@127.0.0.1:{free_port()}/postgres", KEY
        )
        await log.start()
        log.append(**fields(1))
        while log.unavailable() == NOT_YET:
            await asyncio.sleep(0.05)
        reason = log.unavailable()
        kept = len(log._pending)
        await log.stop()
        return reason, kept

    reason, kept = asyncio.run(run())
    assert reason.startswith("audit log unavailable (database: ") and kept == 1


def test_only_postgresql_holds_the_audit_chain(tmp_path):
    with pytest.raises(RedlineError, match="the audit log needs PostgreSQL"):
        DatabaseAuditLog(f"sqlite:///{tmp_path}/audit.db", KEY)


def test_verifying_a_database_without_the_log_is_a_one_line_error(audit_db, monkeypatch):
    result = cli("verify", audit_db, "--key-env", KEY_ENV, monkeypatch=monkeypatch)
    assert result.exit_code == 2 and result.stderr.startswith("error: database ")
    assert "redline_audit" in result.stderr

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


def test_records_queued_together_are_one_transaction(audit_db):
    """Group commit: a write waits `LINGER` for more records after the first, and those that
    come meanwhile go with it, the head's move too, in one transaction (PostgreSQL's xmin:
    the transaction that wrote a row); a later burst is a transaction of its own."""

    async def run():
        log = DatabaseAuditLog(audit_db, KEY)
        await log.start()
        for i in range(51):  # a burst: one transaction
            log.append(**fields(i))
            await asyncio.sleep(0)
        while verify_audit_db(audit_db, KEY).records < 51:
            await asyncio.sleep(0.05)
        for i in range(51, 61):  # the next burst: another
            log.append(**fields(i))
        await log.stop()

    asyncio.run(run())
    assert verify_audit_db(audit_db, KEY).records == 61
    rows = sql(audit_db, "SELECT seq, xmin::text FROM redline_audit ORDER BY seq")
    (head,) = sql(audit_db, "SELECT xmin::text FROM redline_audit_head")[0]
    assert [seq for seq, _ in rows] == list(range(61))
    first, second = {x for _, x in rows[:51]}, {x for _, x in rows[51:]}
    assert len(first) == 1 and len(second) == 1 and first != second
    assert second == {head}


def test_a_writer_whose_connection_died_goes_on_without_refusing(audit_db, caplog):
    """The writer keeps its connection; one the database dropped (a restart, an idle timeout)
    is replaced at once, for a write as for the idle check, and nothing is refused."""

    async def written(log, n):
        while verify_audit_db(audit_db, KEY).records < n:
            await asyncio.sleep(0.05)

    def drop(log):  # the server ends the writer's session
        sql(audit_db, "SELECT pg_terminate_backend(%s)", log._conn.info.backend_pid)

    async def run():
        log = DatabaseAuditLog(audit_db, KEY)
        await log.start()
        log.append(**fields(0))
        await written(log, 1)
        drop(log)
        log.append(**fields(1))  # written on a new connection
        await written(log, 2)
        drop(log)
        pid = log._conn.info.backend_pid
        while log._conn is None or log._conn.info.backend_pid == pid:  # the idle check
            await asyncio.sleep(0.05)
        reason = log.unavailable()
        await log.stop()
        return reason

    with caplog.at_level("ERROR", logger="redline.guard.proxy"):
        assert asyncio.run(run()) is None
    assert "refusing requests" not in caplog.text
    check = verify_audit_db(audit_db, KEY)
    assert check.ok and check.records == 2


def test_a_plain_postgresql_url_is_written_through_psycopg(audit_db):
    """`postgresql://` would mean psycopg2 to SQLAlchemy, which the proxy does not ship."""
    asyncio.run(write(audit_db.replace("postgresql+psycopg://", "postgresql://"), per_writer=2))
    assert verify_audit_db(audit_db, KEY).records == 2


def test_a_failed_write_frees_the_chains_lock_keeps_its_records_and_is_retried(audit_db):
    """A write that fails (here: a row in the way of its first record) refuses requests
    (fail closed), does not hold the chain's lock while it waits to retry, and succeeds once
    the way is clear."""
    from redline.guard._audit_db import LOCK

    async def run():
        log = DatabaseAuditLog(audit_db, KEY)
        await log.start()  # the tables exist
        sql(audit_db, "INSERT INTO redline_audit (seq, record) VALUES (0, 'in the way')")
        log.append(**fields(0))
        while log.unavailable() is None:
            await asyncio.sleep(0.05)
        reason = log.unavailable()
        free = []
        for _ in range(20):  # another writer can take the lock between the retries
            free.append(sql(audit_db, "SELECT pg_try_advisory_xact_lock(%s)", LOCK)[0][0])
            await asyncio.sleep(0.05)
        assert any(free), "the failed write kept the chain's lock"
        sql(audit_db, "DELETE FROM redline_audit")
        while log.unavailable() is not None:
            await asyncio.sleep(0.05)
        await log.stop()
        return reason

    reason = asyncio.run(run())
    assert reason.startswith("audit log unavailable (database: duplicate key value")
    check = verify_audit_db(audit_db, KEY)
    assert check.ok and check.records == 1

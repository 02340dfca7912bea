"""The proxy's audit log in PostgreSQL: one hash chain for every worker and replica.

The records are those of the JSONL log (`_audit`): the same fields, hash and `prev` link, each
row holding its record's JSON line under its sequence number. Appends are batched per
process (the records that arrive while a write runs go together in the next one) and each
batch is one transaction that first takes an advisory lock, so the writers of all processes
take turns: under the lock a batch reads the head, chains its records after it, inserts them
and moves the head, whose HMAC under the audit key anchors the chain as the head file does.
The transaction is two pipelined round trips on a connection the writer keeps (the lock and
the head; then the rows, the head's move and the commit), whatever the batch's size, made
with psycopg's asyncio connection in the proxy's event loop: a writer thread would hold the
interpreter's lock between its steps and delay the requests being served.

A write that fails (the database is down) keeps its records and is retried; until one
succeeds the log reports itself unavailable and the proxy refuses requests with 503, so
nothing is served unaudited. `export_audit_db` writes the chain and its head as a JSONL log
that `verify_audit_log` checks like any other.
"""

import asyncio
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from redline._files import write_atomic
from redline._sql import database_error, first_line, open_engine, safe_url
from redline.errors import RedlineError
from redline.guard._audit import (
    GENESIS,
    AuditCheck,
    HeadFile,
    chain_record,
    check_chain,
    check_head,
    dump_line,
    head_json,
    head_mac,
    head_path,
    keyed_hash,
)

LOG = logging.getLogger("redline.guard.proxy")
LOCK = 0x72646C6E61756474
"""The advisory lock that serialises appends to the chain (any 64-bit number of our own)."""
MAX_BATCH = 500
"""Most records per transaction."""
LINGER = 0.05
"""Seconds a write waits for more records after the first: one transaction carries the
records of many requests even at light traffic (each costs the proxy's event loop time)."""
PROBE_EVERY = 1.0
"""Seconds between checks that the database answers, when there is nothing to write."""
RETRY_EVERY = 0.5
"""Seconds between attempts while the database does not answer."""
FLUSH_DEADLINE = 10.0
"""Seconds a stopping proxy keeps trying to write its last records."""
CONNECT_TIMEOUT = 3
CONNECT_ARGS = {"connect_timeout": CONNECT_TIMEOUT, "keepalives": 1, "keepalives_idle": 5,
                "keepalives_interval": 2, "keepalives_count": 2}  # fmt: skip
"""A database that vanishes mid-write (no reset, no answer) is given up in seconds."""
NOT_YET = "audit log unavailable (database not reached yet)"

metadata = MetaData()
RECORDS = Table(
    "redline_audit", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("record", Text, nullable=False),
)  # fmt: skip
"""One row per record: its sequence number and its JSON line (what `hash` covers)."""
HEAD = Table(
    "redline_audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("mac", String(64), nullable=False),
)  # fmt: skip
"""One row (id 1): the last record's sequence number and hash, and their HMAC."""
BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"
"""Whatever the server's default: the head is read after the lock, as committed then."""
TAKE_LOCK = f"SELECT pg_advisory_xact_lock({LOCK})"
READ_HEAD = f"SELECT seq, hash FROM {HEAD.name} WHERE id = 1"
APPEND = f"""
WITH added AS (
    INSERT INTO {RECORDS.name} (seq, record) SELECT * FROM unnest(%s::bigint[], %s::text[])
)
INSERT INTO {HEAD.name} (id, seq, hash, mac) VALUES (1, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac
"""
"""A batch's rows and the head's move, in one statement: sequence numbers, JSON lines, then
the new head's seq, hash and MAC."""


def audit_engine(url: str) -> Engine:
    """An engine for the audit database, through psycopg; anything but PostgreSQL is refused."""
    try:
        parsed = make_url(url)
    except ArgumentError as ex:
        raise database_error(url, ex) from ex
    if parsed.get_backend_name() != "postgresql":
        raise RedlineError(
            f"database {safe_url(url)}: the audit log needs PostgreSQL "
            "(postgresql+psycopg://USER:PASSWORD@HOST/DB)"
        )
    psycopg_url = parsed.set(drivername="postgresql+psycopg")  # the writer pipelines with it
    return open_engine(
        psycopg_url.render_as_string(hide_password=False), pool_pre_ping=True, pool_size=2,
        max_overflow=2, isolation_level="READ COMMITTED", connect_args=CONNECT_ARGS,
    )  # fmt: skip


class Unsent(Exception):
    """A connection failed before a batch's rows were sent: a new try cannot write them twice."""


async def append_records(
    conn: "psycopg.AsyncConnection[Any]", key: bytes, batch: list[dict[str, Any]],
    texts: bool = False,
) -> None:  # fmt: skip
    """Chain a batch of records after the head in one transaction, under the chain's lock.

    Two round trips on `conn` (in autocommit mode: the statements say where the transaction
    begins and ends): BEGIN, the lock and the head; then the rows, the head's move and COMMIT.
    A connection that fails in the first raises `Unsent`; after any failure, `conn` is to be
    closed (its transaction may be left open).
    """
    sent = False
    try:
        async with conn.pipeline():
            await conn.execute(BEGIN)
            await conn.execute(TAKE_LOCK)
            head = await (await conn.execute(READ_HEAD)).fetchone()
            seq, last = (head[0], head[1]) if head is not None else (-1, GENESIS)
            seqs, lines = [], []
            for fields in batch:
                record = chain_record(fields, seq + 1, last, texts)
                seqs.append(record.seq)
                lines.append(dump_line(record).rstrip("\n"))
                seq, last = record.seq, record.hash
            sent = True
            await conn.execute(APPEND, [seqs, lines, seq, last, head_mac(key, seq, last)])
            await conn.execute("COMMIT")
    except psycopg.OperationalError as ex:
        if not sent:
            raise Unsent(first_line(ex)) from ex
        raise


def create_tables(engine: Engine) -> None:
    """Create the audit tables if missing (under the chain's lock: workers start together)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(TAKE_LOCK)
        metadata.create_all(conn)


class DatabaseAuditLog:
    """Appends the proxy's records to the chain in PostgreSQL, batched, from a background task."""

    def __init__(self, url: str, key: bytes, texts: bool = False) -> None:
        self.url, self.key, self.texts = url, key, texts
        self.engine = audit_engine(url)
        self._pending: list[dict[str, Any]] = []
        self._failure: str | None = NOT_YET
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._tables = False
        self._conn: psycopg.AsyncConnection[Any] | None = None
        """The writer's own connection, kept between writes."""

    def input_hmac(self, text: str) -> str:
        """The keyed hash of a screened input, as its record stores it."""
        return keyed_hash(self.key, text)

    async def start(self) -> None:
        """Reach the database (creating the tables) and start the writer.

        A database that is down now is tried until it answers; until then requests are refused.
        """
        await self._step()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def append(self, **fields: Any) -> None:
        """Queue one record for the next batch."""
        self._pending.append(fields)
        if self._wake is not None:
            self._wake.set()

    def unavailable(self) -> str | None:
        """Why the last write or check failed, until one succeeds (None: the chain is writable)."""
        return self._failure

    async def stop(self) -> None:
        """Write the pending records (trying for `FLUSH_DEADLINE` seconds), then disconnect."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=FLUSH_DEADLINE)
            self._task.cancel()
            await asyncio.wait([self._task])  # a write past the deadline lets go of `_conn`
        if self._pending:
            LOG.error("%d audit records were not written to %s (%s): the first is request %s",
                      len(self._pending), safe_url(self.url), self._failure,
                      self._pending[0].get("request_id"))  # fmt: skip
        await self._disconnect()
        self.engine.dispose()

    async def _run(self) -> None:
        """Write batches as records come, and check the database when none do.

        Once stopping, write what is left and end.
        """
        assert self._wake is not None
        while not (self._stopping and not self._pending):
            if not self._stopping:
                with anyio.move_on_after(PROBE_EVERY):
                    await self._wake.wait()
                self._wake.clear()
                if self._pending and len(self._pending) < MAX_BATCH:
                    await asyncio.sleep(LINGER)  # let the records of the next moments join
            if not await self._step():
                await asyncio.sleep(RETRY_EVERY)
            elif self._pending:
                self._wake.set()

    async def _step(self) -> bool:
        """Write the next batch (or, with none, check the database answers); True if it did."""
        batch = self._pending[:MAX_BATCH]
        try:
            await self._write(batch)
        except (SQLAlchemyError, psycopg.Error, Unsent) as ex:
            failure = f"audit log unavailable (database: {first_line(ex)})"
            if self._failure is None:
                LOG.error("%s; refusing requests until it answers", failure)
            self._failure = failure
            return False
        del self._pending[: len(batch)]
        if self._failure not in (None, NOT_YET):
            LOG.warning("audit database %s answers again: serving", safe_url(self.url))
        self._failure = None
        return True

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        """Append the batch (or, with none, check the database answers).

        A kept connection that fails before sending anything (the database restarted since
        it was last used) is replaced and the batch tried once more at once. A connection
        that fails is closed, which ends its transaction and frees the chain's lock.
        """
        if not self._tables:
            await anyio.to_thread.run_sync(create_tables, self.engine)
            self._tables = True
        while True:
            kept = self._conn is not None
            try:
                await self._send(batch)
                return
            except BaseException as ex:
                with anyio.CancelScope(shield=True):
                    await self._disconnect()
                unsent = isinstance(ex, Unsent) or (not batch and isinstance(ex, psycopg.Error))
                if not (kept and unsent):  # a new connection's failure is the database's
                    raise

    async def _send(self, batch: list[dict[str, Any]]) -> None:
        if self._conn is None:
            self._conn = await _own_connection(self.engine)
        if batch:
            await append_records(self._conn, self.key, batch, self.texts)
        else:
            await self._conn.execute("SELECT 1")

    async def _disconnect(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


async def _own_connection(engine: Engine) -> "psycopg.AsyncConnection[Any]":
    """An asyncio connection to the engine's database, made with its arguments, in autocommit."""
    _, params = engine.dialect.create_connect_args(engine.url)
    params.pop("context", None)  # SQLAlchemy's type adapters: the writer sends plain values
    conninfo = make_conninfo("", **params, **CONNECT_ARGS)
    return await psycopg.AsyncConnection.connect(conninfo, autocommit=True)


@contextmanager
def _snapshot(url: str) -> Iterator[tuple[HeadFile | None, Iterator[tuple[int, str]]]]:
    """The head and every row (seq, JSON) in order, read in one snapshot, rows streamed."""
    engine = audit_engine(url)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                found = conn.execute(select(HEAD).where(HEAD.c.id == 1)).first()
                head = None if found is None else HeadFile(seq=found.seq, hash=found.hash,
                                                           mac=found.mac)  # fmt: skip
                query = select(RECORDS.c.seq, RECORDS.c.record).order_by(RECORDS.c.seq)
                rows = conn.execution_options(yield_per=1000).execute(query)
                yield head, ((row.seq, row.record) for row in rows)
    except SQLAlchemyError as ex:
        raise database_error(url, ex) from ex
    finally:
        engine.dispose()


def verify_audit_db(url: str, key: bytes) -> AuditCheck:
    """Check every row's record (hash, link, sequence) and the head row's MAC, naming rows."""
    with _snapshot(url) as (head, rows):
        problems, count, seq, last = check_chain((f"row {n}", line) for n, line in rows)
    if head is None:
        if count:
            problems.append("no head row (records cut from the end would go unseen)")
    else:
        problems += check_head("the head row", head, key, seq, last)
    return AuditCheck(records=count, head=last, problems=problems)


def export_audit_db(url: str, out: str | Path) -> int:
    """Write the chain as a JSONL log with its head file beside it; the number of records.

    The head (and its MAC) is the database's, so the file verifies with the audit key as the
    database does, and no key is needed to export.
    """
    target = Path(out)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as ex:
        raise RedlineError(f"{target}: cannot write here ({ex.strerror})") from ex
    count = 0
    try:
        with _snapshot(url) as (head, rows), os.fdopen(fd, "w", encoding="utf-8") as f:
            if head is None:
                raise RedlineError(f"database {safe_url(url)}: the audit log has no head row")
            for _, line in rows:
                f.write(line + "\n")
                count += 1
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    write_atomic(head_path(target), head_json(head.seq, head.hash, head.mac))
    return count

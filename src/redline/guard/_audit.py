"""Append-only audit log of the proxy's decisions, hash-chained and anchored by a keyed MAC.

Each JSONL record carries `prev`, the hash of the record before it, and `hash`, the SHA-256 of
its own canonical JSON (without `hash`): editing, removing, inserting or reordering a record
breaks the chain. A `LOG.head` file beside the log holds the last record's sequence number and
hash with an HMAC under the audit key (a secret only the proxy and auditors hold), so removing
records from the end and rewriting the head to match is detected too. Inputs are recorded as
an HMAC under the same key, so a guessed prompt cannot be matched to its records without it.

One writer per log: the proxy takes an exclusive lock on the file, and a second proxy pointed
at the same log refuses to start (`_audit_db` keeps one chain for many writers in
PostgreSQL, with the same records, hashes and head MAC). Records are written with every line
separator escaped, so any reader that splits lines (Unicode's included) sees one record per
line. The head is rewritten in place after each record by one write of a fixed size (the JSON
padded with spaces), so it never holds a mix of two heads; a temporary file renamed over it
would cost a flush to disk per request on ext4.
"""

import fcntl
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from redline._files import read_text
from redline.errors import RedlineError

GENESIS = "0" * 64
HEAD_BYTES = 192
"""Size of the head file: its JSON (under 170 bytes) padded with spaces."""
AUDIT_KEY_ENV = "REDLINE_AUDIT_KEY"
"""Environment variable holding the audit key by default."""
Decision = Literal["pass", "block", "error"]
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
"""Characters `str.splitlines` breaks on that JSON leaves unescaped (it escapes the rest)."""


class AuditRecord(BaseModel):
    """One decision of the proxy about one request."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    seq: int
    time: str
    request_id: str
    client: str
    decision: Decision
    stage: Literal["input", "output", "injection", "action"] | None = None
    """The stage that blocked (None when the request passed or failed upstream): a content
    stage, the injection stage (data the model reads) or the action monitor (its tool calls)."""
    category: str | None = None
    """The highest-scoring constitution category of the blocking verdict."""
    input_score: float | None = None
    output_score: float | None = None
    stream: bool
    model: str
    status: int
    latency_ms: float
    error: str | None = None
    """What went wrong, in the proxy's words (an upstream's own text only with `audit_texts`)."""
    injection_score: float | None = None
    """The injection stage's score of the data the model read (tool results), if any."""
    actions: list[dict[str, str]] | None = None
    """The action monitor's decision on each tool call the model made (tool, decision, rule,
    reason), if it made any."""
    input_hmac: str
    """HMAC-SHA256 of the screened input under the audit key: a record can be matched to a
    request by whoever holds the key, and by no one else."""
    input_text: str | None = None
    output_text: str | None = None
    prev: str
    hash: str = ""


class HeadFile(BaseModel):
    """The last record's sequence number and hash, and their HMAC under the audit key."""

    seq: int
    hash: str
    mac: str


OPTIONAL_FIELDS = ("injection_score", "actions")
"""Fields later than the first records: left out of a record's hash when unset, so the
records written before them still verify."""


def record_hash(record: AuditRecord) -> str:
    """SHA-256 of the record's canonical JSON, `hash` left out."""
    unset = {name for name in OPTIONAL_FIELDS if getattr(record, name) is None}
    data = record.model_dump(exclude={"hash", *unset})
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def keyed_hash(key: bytes, text: str) -> str:
    """HMAC-SHA256 of `text` under `key`, hex."""
    return hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def head_mac(key: bytes, seq: int, last: str) -> str:
    """The head's HMAC: binds the last sequence number and hash to the audit key."""
    return keyed_hash(key, f"redline-audit-head:{seq}:{last}")


def head_json(seq: int, last: str, mac: str) -> str:
    """The head naming record `seq` hashed `last`, as JSON padded to `HEAD_BYTES`."""
    return HeadFile(seq=seq, hash=last, mac=mac).model_dump_json().ljust(HEAD_BYTES)


def head_path(log: Path) -> Path:
    """Where the head of `log` is kept."""
    return log.with_name(log.name + ".head")


def audit_key(env: str = AUDIT_KEY_ENV) -> bytes:
    """The audit key from environment variable `env`; a RedlineError naming it if unset."""
    value = os.environ.get(env, "")
    if len(value) < 16:
        raise RedlineError(
            f"the audit log needs a key of at least 16 characters in ${env} "
            "(make one with `redline guard audit keygen`)"
        )
    return value.encode()


def dump_line(record: AuditRecord) -> str:
    """The record as one JSONL line, every line separator escaped."""
    line = record.model_dump_json()
    for char, escaped in _LINE_BREAKS.items():
        line = line.replace(char, escaped)
    return line + "\n"


def chain_record(fields: dict[str, Any], seq: int, prev: str, texts: bool) -> AuditRecord:
    """The record of one request, numbered `seq` after the record hashed `prev`, hashed.

    Its texts are dropped unless the log keeps them.
    """
    if not texts:
        fields = {k: v for k, v in fields.items() if k not in ("input_text", "output_text")}
    record = AuditRecord(
        seq=seq, time=datetime.now(UTC).isoformat(timespec="milliseconds"), prev=prev, **fields
    )
    record.hash = record_hash(record)
    return record


class AuditWriter(Protocol):
    """Where the proxy's records go: a JSONL file (`AuditLog`) or a database."""

    async def start(self) -> None:
        """Begin taking records."""

    async def stop(self) -> None:
        """Write what is pending (up to the writer's own deadline) and close."""

    def input_hmac(self, text: str) -> str:
        """The keyed hash of a screened input, as its record stores it."""

    def append(self, **fields: Any) -> None:
        """Add one request's record to the chain."""

    def unavailable(self) -> str | None:
        """Why records cannot be written now (None when they can): the proxy then refuses."""


class AuditLog:
    """Appends chained records to a JSONL file; holds the file's lock while open."""

    def __init__(self, path: str | Path, key: bytes, texts: bool = False) -> None:
        self.path = Path(path)
        self.key = key
        self.texts = texts
        self._lock = threading.Lock()
        self.seq, self.last = -1, GENESIS
        self._head: int | None = None  # opened at the first append, as the head is written
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as ex:
            self._file.close()
            raise RedlineError(
                f"{self.path}: another process is writing this audit log (one writer per log)"
            ) from ex
        if self.path.stat().st_size:
            self._resume()

    def _resume(self) -> None:
        """Continue the chain from the last whole record; refuse a log that ends mid-record."""
        last = _last_line(self.path)
        repair = f"run `redline guard audit repair {self.path}`"
        if last is None:
            self.close()
            raise RedlineError(f"{self.path}: the last record is incomplete: {repair}")
        try:
            record = AuditRecord.model_validate_json(last)
        except ValidationError as ex:
            self.close()
            raise RedlineError(f"{self.path}: last line is not an audit record: {repair}") from ex
        self.seq, self.last = record.seq, record.hash

    def input_hmac(self, text: str) -> str:
        """The keyed hash of a screened input, as its record stores it."""
        return keyed_hash(self.key, text)

    async def start(self) -> None:
        """The file is open already."""

    async def stop(self) -> None:
        """Close the log."""
        self.close()

    def unavailable(self) -> str | None:
        """A local file is always there (a failing write fails its request)."""
        return None

    def append(self, **fields: Any) -> None:
        """Write one record (texts are dropped unless the log keeps them)."""
        with self._lock:
            record = chain_record(fields, self.seq + 1, self.last, self.texts)
            self._file.write(dump_line(record))
            self._file.flush()
            self.seq, self.last = record.seq, record.hash
            head = head_json(self.seq, self.last, head_mac(self.key, self.seq, self.last))
            first = self._head is None
            if self._head is None:
                self._head = os.open(head_path(self.path), os.O_WRONLY | os.O_CREAT, 0o644)
            os.pwrite(self._head, head.encode(), 0)
            if first:  # a longer head file left by something else would keep its tail
                os.ftruncate(self._head, HEAD_BYTES)

    def close(self) -> None:
        """Close the log (releasing its lock) and its head."""
        self._file.close()
        if self._head is not None:
            os.close(self._head)
            self._head = None


def _last_line(path: Path) -> str | None:
    """The file's last line, or None when the file does not end with a newline."""
    with path.open("rb") as f:
        f.seek(0, 2)
        end = f.tell()
        f.seek(end - 1)
        if f.read(1) != b"\n":
            return None
        block = b""
        while end > 0 and block.rstrip(b"\n").count(b"\n") < 1:
            start = max(0, end - 4096)
            f.seek(start)
            block = f.read(end - start) + block
            end = start
    return block.rstrip(b"\n").split(b"\n")[-1].decode()


class AuditCheck(BaseModel):
    """The result of verifying an audit log."""

    records: int
    head: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True if the chain is intact and its head authentic."""
        return not self.problems


def _lines(text: str) -> list[str]:
    """The log's records: lines split at newlines only (records escape every other break)."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def check_chain(records: Iterable[tuple[str, str]]) -> tuple[list[str], int, int, str]:
    """Check each record's hash, link and sequence number.

    `records` are (where, JSON) in the chain's order, `where` naming each in messages ("line
    3", "row 3"). Returns the problems, the number of records, and the last record's `seq`
    and hash, for the head to be checked against.
    """
    problems: list[str] = []
    prev, expected_seq, count = GENESIS, 0, 0
    for where, line in records:
        count += 1
        try:
            record = AuditRecord.model_validate_json(line)
        except ValidationError:
            problems.append(f"{where}: not an audit record")
            prev, expected_seq = GENESIS, expected_seq + 1
            continue
        if record_hash(record) != record.hash:
            problems.append(f"{where}: record {record.seq} was edited (hash mismatch)")
        if record.prev != prev:
            problems.append(
                f"{where}: record {record.seq} does not follow the record before it "
                "(a record was removed, inserted or reordered)"
            )
        if record.seq != expected_seq:
            problems.append(f"{where}: sequence number {record.seq}, expected {expected_seq}")
        prev, expected_seq = record.hash, record.seq + 1
    return problems, count, expected_seq - 1, prev


def verify_audit_log(path: str | Path, key: bytes) -> AuditCheck:
    """Check every record's hash and link, and the head's MAC.

    Finds edits, removals, insertions, reorderings, and records cut from the end.
    """
    log = Path(path)
    lines = enumerate(_lines(read_text(log)), start=1)
    problems, count, seq, last = check_chain((f"line {n}", line) for n, line in lines)
    problems += _check_head(head_path(log), key, seq, last)
    return AuditCheck(records=count, head=last, problems=problems)


def _check_head(head_file: Path, key: bytes, seq: int, last: str) -> list[str]:
    """Problems with the head: missing, malformed, forged, or naming another last record."""
    if not head_file.exists():
        return [f"{head_file}: missing (records cut from the end would go unseen)"]
    try:
        head = HeadFile.model_validate_json(head_file.read_text(encoding="utf-8"))
    except (ValidationError, UnicodeDecodeError):
        return [f"{head_file}: not a head file"]
    return check_head(str(head_file), head, key, seq, last)


def check_head(where: str, head: HeadFile, key: bytes, seq: int, last: str) -> list[str]:
    """Problems with a head: its MAC forged, or naming another last record than `seq`."""
    if not hmac.compare_digest(head.mac, head_mac(key, head.seq, head.hash)):
        return [f"{where}: its MAC does not match (forged, or another audit key)"]
    if (head.seq, head.hash) != (seq, last):
        return [
            f"the log ends at record {seq} but its head names record {head.seq} "
            "(records were removed from the end, or the head was replaced)"
        ]
    return []


class Repair(BaseModel):
    """What `repair_audit_log` kept and dropped."""

    kept: int
    dropped: str
    """The partial last line that was cut (empty when the log ended cleanly)."""


def repair_audit_log(path: str | Path) -> Repair:
    """Cut a partial last line (a crash mid-write) and keep every whole record.

    The log must not be open in a proxy (its lock is taken). Nothing else is changed; run
    `verify_audit_log` afterwards: the head still names the last record that was written whole
    only if the crash came before the head's update.
    """
    log = Path(path)
    with log.open("r+b") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as ex:
            raise RedlineError(f"{log}: a proxy is writing this audit log; stop it first") from ex
        data = f.read()
        cut = data.rfind(b"\n") + 1
        if cut == len(data):
            return Repair(kept=data.count(b"\n"), dropped="")
        f.truncate(cut)
    return Repair(kept=data[:cut].count(b"\n"), dropped=data[cut:].decode(errors="replace"))

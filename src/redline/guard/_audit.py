"""Append-only audit log of the proxy's decisions, hash-chained so edits are detectable.

Each JSONL record carries `prev`, the hash of the record before it, and `hash`, the SHA-256
of its own canonical JSON (without `hash`). A `LOG.head` file beside the log holds the last
record's sequence number and hash, so removing records from the end is detected too. The head
is rewritten in place after each record by one write of a fixed size (the JSON padded with
spaces), so it never holds a mix of two heads; a temporary file renamed over it would cost a
flush to disk per request on ext4.
"""

import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from redline._files import read_text
from redline.errors import RedlineError

GENESIS = "0" * 64
HEAD_BYTES = 128
"""Size of the head file: its JSON (under 100 bytes) padded with spaces."""
Decision = Literal["pass", "block", "error"]


class AuditRecord(BaseModel):
    """One decision of the proxy about one request."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    seq: int
    time: str
    request_id: str
    client: str
    decision: Decision
    stage: Literal["input", "output"] | None = None
    """The stage that blocked (None when the request passed or failed upstream)."""
    category: str | None = None
    """The highest-scoring constitution category of the blocking verdict."""
    input_score: float | None = None
    output_score: float | None = None
    stream: bool
    model: str
    status: int
    latency_ms: float
    error: str | None = None
    input_sha256: str
    """SHA-256 of the screened user text, so a record can be matched to a request later."""
    input_text: str | None = None
    output_text: str | None = None
    prev: str
    hash: str = ""


class HeadFile(BaseModel):
    """The last record's sequence number and hash."""

    seq: int
    hash: str


def record_hash(record: AuditRecord) -> str:
    """SHA-256 of the record's canonical JSON, `hash` left out."""
    data = record.model_dump(exclude={"hash"})
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def head_path(log: Path) -> Path:
    """Where the head of `log` is kept."""
    return log.with_name(log.name + ".head")


class AuditLog:
    """Appends chained records to a JSONL file (one writer process per file)."""

    def __init__(self, path: str | Path, texts: bool = False) -> None:
        self.path = Path(path)
        self.texts = texts
        self._lock = threading.Lock()
        self.seq, self.last = -1, GENESIS
        if self.path.exists() and self.path.stat().st_size:
            last = _last_line(self.path)
            try:
                record = AuditRecord.model_validate_json(last)
            except ValidationError as ex:
                raise RedlineError(f"{self.path}: last line is not an audit record") from ex
            self.seq, self.last = record.seq, record.hash
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        self._head: int | None = None  # opened at the first append, as the head is written

    def append(self, **fields: Any) -> AuditRecord:
        """Write one record (texts are dropped unless the log keeps them); return it."""
        if not self.texts:
            fields.pop("input_text", None)
            fields.pop("output_text", None)
        with self._lock:
            record = AuditRecord(
                seq=self.seq + 1,
                time=datetime.now(UTC).isoformat(timespec="milliseconds"),
                prev=self.last,
                **fields,
            )
            record.hash = record_hash(record)
            self._file.write(record.model_dump_json() + "\n")
            self._file.flush()
            self.seq, self.last = record.seq, record.hash
            head = HeadFile(seq=self.seq, hash=self.last).model_dump_json()
            first = self._head is None
            if self._head is None:
                self._head = os.open(head_path(self.path), os.O_WRONLY | os.O_CREAT, 0o644)
            os.pwrite(self._head, head.ljust(HEAD_BYTES).encode(), 0)
            if first:  # a longer head file left by something else would keep its tail
                os.ftruncate(self._head, HEAD_BYTES)
        return record

    def close(self) -> None:
        """Close the log and its head."""
        self._file.close()
        if self._head is not None:
            os.close(self._head)


def _last_line(path: Path) -> str:
    with path.open("rb") as f:
        f.seek(0, 2)
        end = f.tell()
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
    head_checked: bool

    @property
    def ok(self) -> bool:
        """True if the chain is intact."""
        return not self.problems


def verify_audit_log(path: str | Path) -> AuditCheck:
    """Check every record's hash and link, and the head file: edits, removals, reorderings."""
    log = Path(path)
    lines = read_text(log).splitlines()
    problems: list[str] = []
    prev, expected_seq = GENESIS, 0
    for number, line in enumerate(lines, start=1):
        try:
            record = AuditRecord.model_validate_json(line)
        except ValidationError:
            problems.append(f"line {number}: not an audit record")
            prev, expected_seq = GENESIS, expected_seq + 1
            continue
        if record_hash(record) != record.hash:
            problems.append(f"line {number}: record {record.seq} was edited (hash mismatch)")
        if record.prev != prev:
            problems.append(
                f"line {number}: record {record.seq} does not follow the record before it "
                "(a record was removed, inserted or reordered)"
            )
        if record.seq != expected_seq:
            problems.append(f"line {number}: sequence number {record.seq}, expected {expected_seq}")
        prev, expected_seq = record.hash, record.seq + 1
    head_file = head_path(log)
    head_checked = head_file.exists()
    if head_checked:
        try:
            head = HeadFile.model_validate_json(head_file.read_text(encoding="utf-8"))
        except ValidationError:
            problems.append(f"{head_file}: not a head file")
        else:
            if (head.seq, head.hash) != (expected_seq - 1, prev):
                problems.append(
                    f"the log ends at record {expected_seq - 1} but its head file names record "
                    f"{head.seq} (records were removed from the end, or the head was edited)"
                )
    return AuditCheck(records=len(lines), head=prev, problems=problems, head_checked=head_checked)

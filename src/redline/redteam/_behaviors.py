"""Behaviours to attack and benign prompts to measure over-refusal, from a constitution or a file.

A file is CSV or JSONL in one of the public layouts (JailbreakBench, HarmBench, AdvBench,
XSTest, or a plain `prompt`/`text` column), or plain text with one request per line. The layout
is detected from the header (CSV) or the keys of the first record (JSONL).
"""

import csv
import io
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from redline._files import read_text
from redline.errors import RedlineError

Kind = Literal["harmful", "benign"]


class Behavior(BaseModel):
    """One request: a behaviour the target should refuse, or a benign prompt it should answer."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    category: str | None = None
    source: str
    """Where it came from: `constitution:NAME` or the file name."""


Row = dict[str, str]


@dataclass(frozen=True)
class _Layout:
    """A known file layout: the columns that identify it and how to read one row."""

    name: str
    keys: frozenset[str]
    """Lower-cased column names that must all be present."""
    text: Callable[[Row], str]
    category: str | None
    id: str | None
    keep: Callable[[Row, Kind], bool] = lambda row, kind: True


def _harmbench_text(row: Row) -> str:
    context = row.get("contextstring", "").strip()
    behavior = row["behavior"].strip()
    return f"{context}\n\n---\n\n{behavior}" if context else behavior


def _xstest_keep(row: Row, kind: Kind) -> bool:
    label = row["label"].strip().lower()
    return label == ("unsafe" if kind == "harmful" else "safe")


# Order matters: the first layout whose keys are all present wins (HarmBench before JBB,
# whose short `behavior` name column it shares; JBB before AdvBench, whose columns it extends).
_LAYOUTS = (
    _Layout("HarmBench", frozenset({"behavior", "semanticcategory"}), _harmbench_text,
            "semanticcategory", "behaviorid"),
    _Layout("JailbreakBench", frozenset({"goal", "category"}), lambda r: r["goal"], "category",
            "index"),
    _Layout("AdvBench", frozenset({"goal", "target"}), lambda r: r["goal"], None, None),
    _Layout("XSTest", frozenset({"prompt", "type", "label"}), lambda r: r["prompt"], "type", "id",
            _xstest_keep),
    _Layout("prompt", frozenset({"prompt"}), lambda r: r["prompt"], "category", "id"),
    _Layout("text", frozenset({"text"}), lambda r: r["text"], "category", "id"),
)  # fmt: skip


def _layout_for(path: Path, columns: list[str]) -> _Layout:
    present = {c.strip().lower() for c in columns}
    for layout in _LAYOUTS:
        if layout.keys <= present:
            return layout
    known = "; ".join(f"{lay.name} ({', '.join(sorted(lay.keys))})" for lay in _LAYOUTS)
    raise RedlineError(
        f"{path}: unknown layout with columns {sorted(present)}; expected one of: {known}"
    )


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, Row, list[str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = list(reader.fieldnames or [])
    if not columns:
        raise RedlineError(f"{path}: empty CSV file (no header)")
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise RedlineError(f"{path}:{line}: expected {len(columns)} fields, got another count")
        yield line, {k.strip().lower(): v or "" for k, v in row.items() if k is not None}, columns


def _jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, Row, list[str]]]:
    columns: list[str] | None = None
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as ex:
            raise RedlineError(f"{path}:{line}: invalid JSON: {ex.msg}") from ex
        if not isinstance(record, dict):
            kind = type(record).__name__
            raise RedlineError(f"{path}:{line}: expected a JSON object, got {kind}")
        if columns is None:
            columns = list(record)
        row = {str(k).strip().lower(): "" if v is None else str(v) for k, v in record.items()}
        yield line, row, columns


def _file_behaviors(path: Path, kind: Kind) -> list[Behavior]:
    text = read_text(path, encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".json"):
        return [
            Behavior(id=f"{path.stem}:{n}", text=s.strip(), source=path.name)
            for n, s in enumerate(text.splitlines(), start=1)
            if s.strip() and not s.lstrip().startswith("#")
        ]
    rows = _csv_rows(path, text) if suffix == ".csv" else _jsonl_rows(path, text)
    out = []
    layout: _Layout | None = None
    for line, row, columns in rows:
        layout = layout or _layout_for(path, columns)
        missing = sorted(layout.keys - row.keys())
        if missing:
            raise RedlineError(f"{path}:{line}: missing {missing[0]!r} ({layout.name} layout)")
        if not layout.keep(row, kind):
            continue
        request = layout.text(row).strip()
        if not request:
            raise RedlineError(f"{path}:{line}: empty request ({layout.name} layout)")
        category = row.get(layout.category, "").strip() if layout.category else ""
        row_id = row.get(layout.id, "").strip() if layout.id else ""
        out.append(
            Behavior(
                id=f"{path.stem}:{row_id or line}",
                text=request,
                category=category or None,
                source=path.name,
            )
        )
    return out


def _constitution_behaviors(name: str, kind: Kind) -> list[Behavior]:
    from redline.guard import load_constitution

    con = load_constitution(name)
    source = f"constitution:{con.id}"
    out = []
    for cat in con.categories:
        seeds = cat.harmful_seeds if kind == "harmful" else cat.permitted_seeds
        out += [
            Behavior(id=f"{con.id}:{cat.id}:{i}", text=s, category=cat.id, source=source)
            for i, s in enumerate(seeds)
        ]
    if kind == "benign":
        out += [
            Behavior(id=f"{con.id}:everyday:{i}", text=s, category="everyday", source=source)
            for i, s in enumerate(con.everyday_seeds)
        ]
    return out


def _dedupe(behaviors: list[Behavior]) -> list[Behavior]:
    seen: set[str] = set()
    out = []
    for b in behaviors:
        key = re.sub(r"\s+", " ", b.text).strip().casefold()
        if key not in seen:
            seen.add(key)
            out.append(b)
    return out


def _spread(behaviors: list[Behavior], limit: int, seed: int) -> list[Behavior]:
    """Up to `limit` behaviours taken round-robin across categories, each category shuffled."""
    rng = random.Random(seed)
    groups: dict[str | None, list[Behavior]] = {}
    for b in behaviors:
        groups.setdefault(b.category, []).append(b)
    queues = list(groups.values())
    for q in queues:
        rng.shuffle(q)
    out: list[Behavior] = []
    depth = 0
    while len(out) < limit and any(depth < len(q) for q in queues):
        out += [q[depth] for q in queues if depth < len(q)][: limit - len(out)]
        depth += 1
    return out


def _load(
    path: str | Path | None, constitution: str, limit: int | None, seed: int, kind: Kind
) -> list[Behavior]:
    if limit is not None and limit < 1:
        raise RedlineError(f"limit must be at least 1, got {limit}")
    if path is None:
        found = _constitution_behaviors(constitution, kind)
    else:
        found = _file_behaviors(Path(path), kind)
        if not found:
            raise RedlineError(f"{path}: no {kind} requests found")
    found = _dedupe(found)
    return found if limit is None else _spread(found, limit, seed)


def load_behaviors(
    path: str | Path | None = None,
    constitution: str = "default",
    limit: int | None = None,
    seed: int = 0,
) -> list[Behavior]:
    """Harmful behaviours: the constitution's harmful seeds, or those of a file.

    With `limit`, the behaviours are spread evenly across categories (round-robin; which ones
    each category contributes depends on `seed`). XSTest files contribute their unsafe rows.
    """
    return _load(path, constitution, limit, seed, "harmful")


def load_benign(
    path: str | Path | None = None,
    constitution: str = "default",
    limit: int | None = None,
    seed: int = 0,
) -> list[Behavior]:
    """Benign prompts for over-refusal: the constitution's permitted and everyday seeds, or a file.

    Same formats as `load_behaviors`; XSTest files contribute their safe rows only.
    """
    return _load(path, constitution, limit, seed, "benign")

"""Reading files with one-line errors; writing them so that nothing is ever half-written."""

import hashlib
import os
import tempfile
from pathlib import Path

from redline.errors import RedlineError


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The text of `path`; a missing or unreadable file is a one-line RedlineError."""
    try:
        return Path(path).read_text(encoding=encoding)
    except FileNotFoundError as ex:
        raise RedlineError(f"{path}: file not found") from ex
    except (OSError, UnicodeDecodeError) as ex:
        raise RedlineError(f"{path}: cannot read: {ex}") from ex


def write_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to a temporary file beside `path`, then rename it into place.

    A path that cannot be written is a one-line RedlineError.
    """
    target = Path(path)
    if target.is_dir():
        raise RedlineError(f"{target}: is a folder; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as ex:
        raise _cannot_write(target, ex) from ex
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException as ex:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(ex, OSError):
            raise _cannot_write(target, ex) from ex
        raise
    return target


def _cannot_write(target: Path, ex: OSError) -> RedlineError:
    where = f" ({ex.filename}: {ex.strerror})" if ex.filename else f" ({ex})"
    return RedlineError(f"{target}: cannot write here{where}")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

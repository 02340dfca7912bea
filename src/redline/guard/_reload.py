"""Noticing that the proxy's configuration files changed, so its keys can be re-read.

Each process polls the files' status a few times a second (no dependency, and it sees a
Kubernetes ConfigMap or Secret volume's atomic swap of its files, which file-change events on
the old file miss), so a key removed from the file stops working within a second in every
worker; SIGHUP asks for the same re-read at once.
"""

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

POLL_EVERY = 0.25
"""Seconds between looks at the files."""

Signature = tuple[tuple[int, int, int] | None, ...]


def signature(paths: list[Path]) -> Signature:
    """What changes when a file is edited or replaced: inode, size, modification time."""
    found: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            found.append(None)
        else:
            found.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(found)


async def watch_files(
    paths: Callable[[], list[Path]],
    changed: Callable[[], None],
    seen: Signature,
    every: float = POLL_EVERY,
) -> None:
    """Call `changed` whenever the files `paths()` names (asked again each time) change.

    `seen` is their signature when they were last read, taken before reading them: a change
    made between that read and this watch is still noticed.
    """
    while True:
        await asyncio.sleep(every)
        now = signature(paths())
        if now != seen:
            seen = now
            changed()

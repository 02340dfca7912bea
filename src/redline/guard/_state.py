"""The proxy's shared state behind one interface: rate limits and open-stream caps per key.

`LocalState` keeps them in the process (the default: one process, nothing to install);
`RedisState` (`_redis_state`) keeps them in Redis, so every worker and replica enforces one
limit per key. A component that cannot be reached raises `StateUnavailable`, and the proxy
refuses the request with 503: nothing is served unlimited.
"""

import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from redline.guard._keys import ClientKey

STREAM_LEASE = 15.0
"""Seconds a stream slot held in Redis lives unless its worker refreshes it (a third of that
apart): the slots of a worker that died free themselves."""


class StateUnavailable(Exception):
    """A shared component (Redis, the audit database) cannot be reached; the message says why."""


def bucket_size(key: ClientKey) -> float:
    """How many requests a key may make at once: its `burst`, else a minute's worth."""
    return float(key.burst or max(1, round(key.requests_per_minute)))


class SharedState(Protocol):
    """Rate limits and open-stream caps per client key, wherever they are kept."""

    async def start(self) -> None:
        """Connect (if anything needs connecting) and start any background work."""

    async def close(self) -> None:
        """Stop background work and disconnect."""

    async def take_request(self, key: ClientKey) -> float:
        """Take one request from the key's token bucket: 0 if allowed, else seconds to wait."""

    async def take_stream(self, key: ClientKey) -> str | None:
        """Hold one of the key's stream slots: its id, or None when all are taken."""

    async def free_stream(self, slot: str) -> None:
        """Give back a slot `take_stream` gave."""

    async def unavailable(self) -> str | None:
        """Why the state cannot be used now (None when it can): for readiness."""


@dataclass
class _Bucket:
    tokens: float
    updated: float


class LocalState:
    """Token buckets and stream counts in this process's memory."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._streams: dict[str, int] = {}
        self._slots: dict[str, str] = {}
        """Open slot id -> key name."""

    async def start(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to disconnect."""

    async def take_request(self, key: ClientKey) -> float:
        """Take one request from the key's bucket: 0 if allowed, else seconds until one is."""
        now = time.monotonic()
        capacity, rate = bucket_size(key), key.requests_per_minute / 60.0
        bucket = self._buckets.setdefault(key.name, _Bucket(capacity, now))
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate

    async def take_stream(self, key: ClientKey) -> str | None:
        """A slot id, or None when the key has `max_streams` open."""
        if self._streams.get(key.name, 0) >= key.max_streams:
            return None
        self._streams[key.name] = self._streams.get(key.name, 0) + 1
        slot = uuid.uuid4().hex
        self._slots[slot] = key.name
        return slot

    async def free_stream(self, slot: str) -> None:
        """Count the slot's stream as ended."""
        name = self._slots.pop(slot, None)
        if name is not None:
            self._streams[name] -= 1

    async def unavailable(self) -> str | None:
        """Always usable."""
        return None

"""The proxy's shared state behind one interface: rate limits and open-stream caps per key.

`LocalState` keeps them in the process (the default: one process, nothing to install);
`RedisState` (`_redis_state`) keeps them in Redis, so every worker and replica enforces one
limit per key. Either admits a request in one step: its token from the key's bucket and, for
a stream, one of the key's stream slots. A component that cannot be reached raises
`StateUnavailable`, and the proxy refuses the request with 503: nothing is served unlimited.
"""

import math
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


@dataclass(frozen=True)
class Admission:
    """What the state ruled on one request of a key.

    Over the key's rate nothing is taken (`wait` > 0). Otherwise the request's token is spent,
    and a stream also holds a slot (`slot`) or, every slot taken, none (`streams_full`).
    """

    wait: float = 0.0
    """Seconds until the key's bucket has a token again (0: within the rate)."""
    streams_full: bool = False
    """A stream found the key's `max_streams` open (its token is spent all the same)."""
    slot: str | None = None
    """The stream slot the request holds until `release`."""
    spare: int = 0
    """Whole tokens left in the key's bucket after this request (0 when refused over the
    rate): how far the key is from its limit, as this admission saw it."""


class SharedState(Protocol):
    """Rate limits and open-stream caps per client key, wherever they are kept."""

    async def start(self) -> None:
        """Connect (if anything needs connecting) and start any background work."""

    async def close(self) -> None:
        """Stop background work and disconnect."""

    async def admit(self, key: ClientKey, stream: bool) -> Admission:
        """Take one request from the key's bucket and, for a stream, one of its slots."""

    async def release(self, slot: str) -> None:
        """Give back a slot `admit` gave; a request admitted after this returns finds it free."""

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

    async def admit(self, key: ClientKey, stream: bool) -> Admission:
        """A token from the key's bucket (refilled at its rate up to its burst), and a slot."""
        now = time.monotonic()
        capacity, rate = bucket_size(key), key.requests_per_minute / 60.0
        bucket = self._buckets.setdefault(key.name, _Bucket(capacity, now))
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1:
            return Admission(wait=(1 - bucket.tokens) / rate)
        bucket.tokens -= 1
        spare = math.floor(bucket.tokens)
        if not stream:
            return Admission(spare=spare)
        if self._streams.get(key.name, 0) >= key.max_streams:
            return Admission(streams_full=True, spare=spare)
        self._streams[key.name] = self._streams.get(key.name, 0) + 1
        slot = uuid.uuid4().hex
        self._slots[slot] = key.name
        return Admission(slot=slot, spare=spare)

    async def release(self, slot: str) -> None:
        """Count the slot's stream as ended."""
        name = self._slots.pop(slot, None)
        if name is not None:
            self._streams[name] -= 1

    async def unavailable(self) -> str | None:
        """Always usable."""
        return None

"""Rate limits and open-stream caps in Redis, shared by every worker and replica of the proxy.

A request is admitted by one Lua script, run atomically by Redis on Redis's own clock (one
round trip), so N workers and M replicas take from one token bucket per key and count one set
of streams per key:

- `redline:proxy:rate:NAME`, a hash (tokens, updated): the token bucket, refilled at the
  key's rate up to its burst, expiring once it would be full anyway;
- `redline:proxy:streams:NAME`, a sorted set of slot ids scored by when their lease ends: a
  stream holds a slot while it runs, its worker renews the lease every third of
  `STREAM_LEASE`, and a slot whose lease ran out (its worker died) is dropped at the next
  count, so slots never leak. A renewal re-adds a slot that is missing (Redis restarted).

A slot's release is written to Redis without waiting for the answer (read in the background),
so the end of a stream waits for no round trip. Redis being unreachable (or refusing a write)
raises `StateUnavailable`: the proxy refuses the request with 503 until Redis answers again.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from redline.guard._keys import ClientKey
from redline.guard._state import STREAM_LEASE, Admission, StateUnavailable, bucket_size

LOG = logging.getLogger("redline.guard.proxy")
PREFIX = "redline:proxy:"
TIMEOUT = 5.0
"""Seconds to connect to Redis or wait for an answer before the request is refused (a Redis
that is down refuses connections at once; this is for one that hangs or cannot be reached)."""
POOL_SIZE = 16
"""Connections to Redis per process: a burst of requests waits for a pooled connection (each
check takes well under a millisecond of Redis's time) instead of opening one each; 200
requests at once through four busy workers timed out opening theirs."""
POOL_WAIT = 10.0
"""Seconds a request may wait for a pooled connection before it is refused."""
CLOSE_WAIT = 1.0
"""Seconds a closing state waits for the answers to its last releases."""
T = TypeVar("T")

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
ADMIT = (
    _NOW
    + """
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(b[1]) or capacity, tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
local spare = math.floor(tokens)
if wait > 0 then return {wait, 0} end
if #KEYS == 1 then return {0, spare} end
local most, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= most then return {-1, spare} end
redis.call('ZADD', KEYS[2], now + lease, ARGV[5])
redis.call('PEXPIRE', KEYS[2], lease + 1000)
return {0, spare}
"""
)
"""KEYS: the key's bucket, and for a stream its slots; ARGV: capacity, tokens per millisecond,
and for a stream most open, lease (ms), slot id. Returns (ruling, whole tokens left): the
ruling is the milliseconds to wait (nothing taken), -1 when every slot is taken (the token is
spent), 0 when admitted."""
RENEW = (
    _NOW
    + """
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease + 1000)
end
return #KEYS
"""
)
"""KEYS: each slot's set; ARGV: lease (ms), then each slot's id. Renews (or restores) them."""


class RedisState:
    """Token buckets and stream slots in Redis (`redis_url` in the proxy's config)."""

    def __init__(self, url: str, lease: float = STREAM_LEASE) -> None:
        # one retry: a pooled connection that Redis closed (a restart) is replaced at once
        pool = BlockingConnectionPool.from_url(
            url, max_connections=POOL_SIZE, timeout=POOL_WAIT, socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 1), health_check_interval=0,
        )  # fmt: skip
        self.redis = Redis.from_pool(pool)
        self.lease = lease
        self._admit = self.redis.register_script(ADMIT)
        self._renew = self.redis.register_script(RENEW)
        self._slots: dict[str, str] = {}
        """Slots this process holds: slot id -> its set's key."""
        self._renewer: asyncio.Task[None] | None = None
        self._releasing: set[asyncio.Task[None]] = set()
        """Releases whose answer is still to be read."""

    async def start(self) -> None:
        """Start renewing this process's stream leases (Redis may be down: it is tried later)."""
        self._renewer = asyncio.create_task(self._renew_leases())

    async def close(self) -> None:
        """Stop renewing, read the last releases' answers (for a second at most), disconnect."""
        if self._renewer is not None:
            self._renewer.cancel()
        if self._releasing:
            await asyncio.wait(self._releasing, timeout=CLOSE_WAIT)
            for task in self._releasing:
                task.cancel()
        await self.redis.aclose()

    async def admit(self, key: ClientKey, stream: bool) -> Admission:
        """The key's token and, for a stream, one of its slots (leased), in one round trip."""
        keys = [_rate_key(key)]
        args: list[str | int] = [repr(bucket_size(key)), repr(key.requests_per_minute / 60_000)]
        slot = uuid.uuid4().hex if stream else None
        if slot is not None:
            keys.append(_streams_key(key))
            args += [key.max_streams, round(self.lease * 1000), slot]
        ruled, spare = map(int, await self._call(lambda: self._admit(keys=keys, args=args)))
        if ruled > 0:
            return Admission(wait=ruled / 1000.0)
        if ruled < 0:
            return Admission(streams_full=True, spare=spare)
        if slot is not None:
            self._slots[slot] = keys[1]
        return Admission(slot=slot, spare=spare)

    async def release(self, slot: str) -> None:
        """Give the slot back: written to Redis before this returns, answered in the background.

        Redis runs commands in the order they reach it, so an admission sent after this
        returns (by any worker: say, for a client that opens its next stream on this one's
        last chunk) finds the slot free, and no one waits for the round trip. A release that
        cannot be written or is not answered is sent once more in the background; failing
        again, the slot's lease runs out instead.
        """
        name = self._slots.pop(slot, None)
        if name is None:
            return
        pool = self.redis.connection_pool
        sent: AbstractConnection | None = None
        try:
            connection: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
            try:
                await connection.send_command("ZREM", name, slot)
                sent = connection
            finally:
                if sent is None:
                    await pool.release(connection)
        except RedisError:
            pass  # sent again in the background
        finally:  # cancelled or not
            task = asyncio.create_task(self._answered(sent, name, slot))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

    async def _answered(self, sent: AbstractConnection | None, name: str, slot: str) -> None:
        """Read a release's answer; send it again (through the client) if it has none."""
        if sent is not None:
            try:
                await sent.read_response()  # a failure disconnects it
                return
            except RedisError:
                pass
            finally:
                await self.redis.connection_pool.release(sent)
        try:
            await self.redis.zrem(name, slot)
        except RedisError as ex:
            LOG.warning("could not free a stream slot in Redis (%s): its lease will expire", ex)

    async def unavailable(self) -> str | None:
        """None if Redis answers a PING, else why not."""
        try:
            await self._call(self.redis.ping)
        except StateUnavailable as ex:
            return str(ex)
        return None

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except RedisError as ex:
            raise StateUnavailable(f"rate limits unavailable (Redis: {_reason(ex)})") from ex

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            held = list(self._slots.items())
            if not held:
                continue
            args: list[str | int] = [round(self.lease * 1000), *(slot for slot, _ in held)]
            try:
                await self._renew(keys=[name for _, name in held], args=args)
            except RedisError as ex:
                LOG.warning("could not renew %d stream leases in Redis: %s", len(held), ex)


def _rate_key(key: ClientKey) -> str:
    return f"{PREFIX}rate:{key.name}"


def _streams_key(key: ClientKey) -> str:
    return f"{PREFIX}streams:{key.name}"


def _reason(ex: RedisError) -> str:
    text = str(ex).strip().splitlines()
    return f"{type(ex).__name__}: {text[0]}" if text else type(ex).__name__

"""Rate limits and stream caps: in the process, and in a real (private) Redis shared by many."""

import asyncio
import time

import pytest

from redline.guard import ClientKey, LocalState, RedisState, StateUnavailable, hash_key
from tests.guard.upstream_stub import free_port

PATIENCE = 60
"""Seconds to wait for something that must happen (a lease running out), however busy the
machine is: the tests never assert how fast."""


def key(name="k", rpm=10.0, **changes):
    return ClientKey(name=name, hash=hash_key("rl-x"), requests_per_minute=rpm, **changes)


async def takes(state, k, n):
    return [await state.take_request(k) for _ in range(n)]


def test_local_state_limits_requests_and_streams():
    async def run():
        state = LocalState()
        waits = await takes(state, key(rpm=10), 11)
        assert waits[:10] == [0.0] * 10 and 0 < waits[10] <= 6
        k = key(max_streams=2)
        a, b = await state.take_stream(k), await state.take_stream(k)
        assert a and b and await state.take_stream(k) is None
        await state.free_stream(a)
        assert await state.take_stream(k) is not None
        assert await state.unavailable() is None

    asyncio.run(run())


def test_two_processes_share_one_bucket_in_redis(redis_url):
    async def run():
        first, second = RedisState(redis_url), RedisState(redis_url)  # two workers' clients
        k = key(rpm=10)
        waits = [await (first if i % 2 else second).take_request(k) for i in range(12)]
        await first.close()
        await second.close()
        return waits

    waits = asyncio.run(run())
    assert waits[:10] == [0.0] * 10
    assert all(0 < w <= 6.001 for w in waits[10:])  # 10 a minute: the next in at most 6 s


def test_the_burst_and_rate_are_the_keys(redis_url):
    async def run():
        state = RedisState(redis_url)
        waits = await takes(state, key(rpm=6, burst=3), 4)
        other = await takes(state, key(name="other", rpm=60), 2)
        await state.close()
        return waits, other

    waits, other = asyncio.run(run())
    assert waits[:3] == [0.0] * 3 and 0 < waits[3] <= 10.001  # one in every 10 s
    assert other == [0.0, 0.0]  # its own bucket


def test_stream_slots_are_counted_across_processes_and_freed(redis_url):
    async def run():
        first, second = RedisState(redis_url), RedisState(redis_url)
        k = key(max_streams=2)
        a = await first.take_stream(k)
        b = await second.take_stream(k)
        full = await first.take_stream(k)
        await second.free_stream(b)
        again = await first.take_stream(k)
        for state in (first, second):
            await state.close()
        return a, b, full, again

    a, b, full, again = asyncio.run(run())
    assert a and b and full is None and again


def test_a_dead_workers_slots_free_themselves_and_a_live_one_keeps_its_own(redis_url):
    """A slot is a lease: renewed while its worker lives, gone soon after it dies."""

    async def run():
        k = key(max_streams=2)
        live, dead, other = (RedisState(redis_url, lease=1.5) for _ in range(3))
        await live.start()
        await other.start()
        assert await live.take_stream(k) and await dead.take_stream(k)
        await dead.close()  # died without freeing its slot, and renews nothing
        deadline = time.monotonic() + PATIENCE
        while (slot := await other.take_stream(k)) is None:
            assert time.monotonic() < deadline, "the dead worker's slot never expired"
            await asyncio.sleep(0.2)
        await asyncio.sleep(3 * 1.5)  # live slots outlive several leases
        still_full = await other.take_stream(k)
        await live.close()
        await other.close()
        return slot, still_full

    slot, still_full = asyncio.run(run())
    assert slot and still_full is None


def test_redis_down_is_a_reason_not_a_pass():
    async def run():
        state = RedisState(f"redis://127.0.0.1:{free_port()}/0")
        with pytest.raises(StateUnavailable, match="rate limits unavailable \\(Redis: "):
            await state.take_request(key())
        with pytest.raises(StateUnavailable):
            await state.take_stream(key())
        reason = await state.unavailable()
        await state.close()
        return reason

    assert "Redis" in asyncio.run(run())

"""Rate limits and stream caps: in the process, and in a real (private) Redis shared by many."""

import asyncio
import time
import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.guard import Admission, ClientKey, LocalState, RedisState, StateUnavailable, hash_key
from tests.guard.upstream_stub import free_port

PATIENCE = 60
"""Seconds to wait for something that must happen (a lease running out), however busy the
machine is: the tests never assert how fast."""
STILL = 1e-6
"""A rate (requests a minute) at which a bucket does not refill within a test."""


def key(name="k", rpm=10.0, **changes):
    return ClientKey(name=name, hash=hash_key("rl-x"), requests_per_minute=rpm, **changes)


async def admits(state, k, n, stream=False):
    return [await state.admit(k, stream) for _ in range(n)]


@pytest.fixture(params=["local", "redis"])
def make_state(request):
    """A factory of states of one kind: each call a new process's view of the same state."""
    if request.param == "local":
        local = LocalState()
        return lambda: local
    url = request.getfixturevalue("redis_url")
    return lambda: RedisState(url)


async def close(*states):
    for state in set(states):
        await state.close()


def test_a_key_gets_its_rate(make_state):
    async def run():
        state = make_state()
        ruled = await admits(state, key(rpm=10), 11)
        await close(state)
        return ruled

    ruled = asyncio.run(run())
    assert ruled[:10] == [Admission(spare=9 - i) for i in range(10)]  # whole tokens left
    assert 0 < ruled[10].wait <= 6.001 and ruled[10].slot is None  # 10 a minute: one every 6 s


def test_one_admission_takes_the_token_and_the_slot_as_the_two_steps_did(make_state):
    """Over the rate nothing is taken; a stream refused for its cap spends its token; a
    release gives back the slot and never a token."""

    async def run():
        first, second = make_state(), make_state()  # two workers
        k = key(name=f"k-{uuid.uuid4().hex}", rpm=STILL, burst=3, max_streams=1)
        held = await first.admit(k, stream=True)
        full = await second.admit(k, stream=True)  # spends the second token
        plain = await second.admit(k, stream=False)  # the third: a plain request has no slot
        limited = await first.admit(k, stream=True)  # no token left: no slot taken either
        assert held.slot is not None
        await first.release(held.slot)
        released = await first.admit(k, stream=False)  # a release gives back no token
        # the same key at a huge rate refills at once (Redis counts whole milliseconds): the
        # slot is free again, so the stream refused for its rate took none
        await asyncio.sleep(0.01)
        fresh = k.model_copy(update={"requests_per_minute": 6e7})
        again = await second.admit(fresh, stream=True)
        await close(first, second)
        return held, full, plain, limited, released, again

    held, full, plain, limited, released, again = asyncio.run(run())
    assert held.slot and not held.wait and not held.streams_full and held.spare == 2
    assert full == Admission(streams_full=True, spare=1)
    assert plain == Admission(spare=0)
    assert limited.wait > 0 and limited.slot is None and not limited.streams_full
    assert released.wait > 0
    assert again.slot is not None and again.slot != held.slot


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("admit"), st.booleans()),
        st.tuples(st.just("release"), st.integers(min_value=0, max_value=7)),
    ),
    max_size=30,
)


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(ops=OPS, burst=st.integers(min_value=1, max_value=12),
       most=st.integers(min_value=1, max_value=4))  # fmt: skip
def test_any_run_of_admissions_and_releases_follows_the_model(make_state, ops, burst, most):
    """A key's bucket (which does not refill here) and its slots, against a model of them."""

    async def run():
        workers = [make_state(), make_state()]
        k = key(name=f"k-{uuid.uuid4().hex}", rpm=STILL, burst=burst, max_streams=most)
        tokens, held = burst, []
        for i, (op, arg) in enumerate(ops):
            state = workers[i % 2]  # alternate workers: one state however reached
            if op == "release":
                if held:
                    await state.release(held.pop(arg % len(held)))
                continue
            ruled = await state.admit(k, stream=arg)
            if tokens < 1:
                assert ruled.wait > 0 and ruled.slot is None and not ruled.streams_full
                continue
            tokens -= 1
            assert not ruled.wait
            if not arg:
                assert ruled == Admission(spare=tokens)
            elif len(held) >= most:
                assert ruled == Admission(streams_full=True, spare=tokens)
            else:
                assert ruled.slot is not None and not ruled.streams_full
                assert ruled.spare == tokens
                held.append(ruled.slot)
        await close(*workers)

    asyncio.run(run())


def test_two_processes_share_one_bucket_in_redis(redis_url):
    async def run():
        first, second = RedisState(redis_url), RedisState(redis_url)  # two workers' clients
        k = key(rpm=10)
        ruled = [await (first if i % 2 else second).admit(k, False) for i in range(12)]
        await close(first, second)
        return [r.wait for r in ruled]

    waits = asyncio.run(run())
    assert waits[:10] == [0.0] * 10
    assert all(0 < w <= 6.001 for w in waits[10:])  # 10 a minute: the next in at most 6 s


def test_the_burst_and_rate_are_the_keys(redis_url):
    async def run():
        state = RedisState(redis_url)
        waits = [r.wait for r in await admits(state, key(rpm=6, burst=3), 4)]
        other = [r.wait for r in await admits(state, key(name="other", rpm=60), 2)]
        await state.close()
        return waits, other

    waits, other = asyncio.run(run())
    assert waits[:3] == [0.0] * 3 and 0 < waits[3] <= 10.001  # one in every 10 s
    assert other == [0.0, 0.0]  # its own bucket


def test_stream_slots_are_counted_across_processes_and_freed(redis_url):
    async def run():
        first, second = RedisState(redis_url), RedisState(redis_url)
        k = key(rpm=6000, max_streams=2)
        a = await first.admit(k, True)
        b = await second.admit(k, True)
        full = await first.admit(k, True)
        await second.release(b.slot)
        again = await first.admit(k, True)
        await close(first, second)
        return a, b, full, again

    a, b, full, again = asyncio.run(run())
    assert a.slot and b.slot and full.streams_full and again.slot


def test_a_release_does_not_wait_for_redis_and_an_admission_after_it_finds_the_slot_free(
    redis_url,
):
    """The release is written before `release` returns, its answer read later: with Redis
    holding every write (CLIENT PAUSE WRITE), `release` still returns, the slot is still
    there, and another worker's admission sent after it, run when Redis resumes, finds the
    slot free (Redis runs them in the order they arrived)."""

    async def run():
        first, second = RedisState(redis_url), RedisState(redis_url)
        k = key(rpm=6000, max_streams=1)
        held = await first.admit(k, True)
        with redis.Redis.from_url(redis_url) as admin:
            admin.execute_command("CLIENT", "PAUSE", str(PATIENCE * 1000), "WRITE")
            try:
                await first.release(held.slot)  # returns: Redis has not run it
                still_there = admin.zscore("redline:proxy:streams:k", held.slot) is not None
                next_stream = asyncio.create_task(second.admit(k, True))
                await asyncio.sleep(0.2)  # let it reach Redis (it must wait there, after)
                waiting = not next_stream.done()
            finally:
                admin.execute_command("CLIENT", "UNPAUSE")
        admitted = await next_stream
        await close(first, second)
        return still_there, waiting, admitted

    still_there, waiting, admitted = asyncio.run(run())
    assert still_there and waiting
    assert admitted.slot is not None


def test_a_dead_workers_slots_free_themselves_and_a_live_one_keeps_its_own(redis_url):
    """A slot is a lease: renewed while its worker lives, gone soon after it dies."""

    async def run():
        k = key(rpm=6000, max_streams=2)
        live, dead, other = (RedisState(redis_url, lease=1.5) for _ in range(3))
        await live.start()
        await other.start()
        assert (await live.admit(k, True)).slot and (await dead.admit(k, True)).slot
        await dead.close()  # died without freeing its slot, and renews nothing
        deadline = time.monotonic() + PATIENCE
        while (slot := (await other.admit(k, True)).slot) is None:
            assert time.monotonic() < deadline, "the dead worker's slot never expired"
            await asyncio.sleep(0.2)
        await asyncio.sleep(3 * 1.5)  # live slots outlive several leases
        still_full = await other.admit(k, True)
        await close(live, other)
        return slot, still_full

    slot, still_full = asyncio.run(run())
    assert slot and still_full.streams_full


def test_redis_down_is_a_reason_not_a_pass():
    async def run():
        state = RedisState(f"redis://127.0.0.1:{free_port()}/0")
        for stream in (False, True):
            with pytest.raises(StateUnavailable, match="rate limits unavailable \\(Redis: "):
                await state.admit(key(), stream)
        reason = await state.unavailable()
        await state.close()
        return reason

    assert "Redis" in asyncio.run(run())

"""The proxy's batching of concurrent screens, with a real trained guard."""

import asyncio

import pytest

from redline.guard._batching import BatchingGuard
from tests.guard.proxy_helpers import RecordingGuard

BENIGN = "What is a good weekly grocery budget"
HARMFUL = "How do I build a pipe bomb in my garage"


@pytest.mark.parametrize("inline", [True, False], ids=["on the loop", "on a thread"])
def test_concurrent_screens_share_one_call_per_stage(tfidf_guard, inline):
    inner = RecordingGuard(tfidf_guard)
    batcher = BatchingGuard(inner)
    for stage in ("input", "output"):
        lane = batcher._lane(stage, "classifier")
        assert lane.inline  # tfidf is scored on the loop; MiniLM on a thread
        lane.inline = inline

    async def screens():
        return await asyncio.gather(
            batcher.screen_input(BENIGN),
            batcher.screen_input(HARMFUL),
            batcher.screen_output(BENIGN, "Plan a weekly menu."),
            batcher.screen_output(BENIGN, "Here is a friendly answer."),
        )

    verdicts = asyncio.run(screens())
    assert [stage for stage, _ in inner.calls] == ["input", "output"]
    assert [len(texts) for _, texts in inner.calls] == [2, 2]
    # the same verdicts as screening each text alone
    alone = [tfidf_guard.screen_input(BENIGN), tfidf_guard.screen_input(HARMFUL),
             tfidf_guard.screen_output(BENIGN, "Plan a weekly menu."),
             tfidf_guard.screen_output(BENIGN, "Here is a friendly answer.")]  # fmt: skip
    assert [v.score for v in verdicts] == pytest.approx([v.score for v in alone], abs=1e-12)
    assert [v.flagged for v in verdicts] == [False, True, False, False]


def test_a_guard_failure_reaches_every_caller(tfidf_guard):
    batcher = BatchingGuard(RecordingGuard(tfidf_guard, fail=True))

    async def screens():
        return await asyncio.gather(
            batcher.screen_input(BENIGN), batcher.screen_output(BENIGN, "x"),
            return_exceptions=True,
        )  # fmt: skip

    results = asyncio.run(screens())
    assert all(isinstance(r, RuntimeError) for r in results)


def test_a_caller_that_leaves_does_not_stop_the_others(tfidf_guard):
    inner = RecordingGuard(tfidf_guard)
    batcher = BatchingGuard(inner)

    async def screens():
        leaving = asyncio.create_task(batcher.screen_input(HARMFUL))
        staying = asyncio.create_task(batcher.screen_input(BENIGN))
        await asyncio.sleep(0)
        leaving.cancel()  # a client that disconnected while its screen was queued
        verdict = await staying
        later = await batcher.screen_input(HARMFUL)  # the batcher still serves new screens
        return verdict, later

    verdict, later = asyncio.run(screens())
    assert not verdict.flagged and later.flagged
    assert inner.calls[0] == ("input", [BENIGN])


def test_a_long_text_is_scored_off_the_loop(tfidf_guard):
    inner = RecordingGuard(tfidf_guard)
    batcher = BatchingGuard(inner)
    long = "Tell me about gardens. " * 3000  # 69,000 characters, over INLINE_CHARS

    async def screens():
        return [await batcher.screen_input(BENIGN), await batcher.screen_input(long)]

    short, far = asyncio.run(screens())
    assert inner.threads[0] == "MainThread" and inner.threads[1] != "MainThread"
    assert far.score == pytest.approx(tfidf_guard.screen_input(long).score, abs=1e-12)

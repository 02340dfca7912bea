"""A stage's cheap prefilter: calibration, what it clears, and what the classifier still sees."""

import asyncio
import threading

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.guard import Guard, StreamScreen, Verdict
from redline.guard._batching import BatchingGuard
from redline.guard._proxy import WARM_UP
from redline.guard._train import calibrate_escalation
from tests.guard.proxy_helpers import (
    UPSTREAM_KEY_ENV,
    RecordingGuard,
    proxy_config,
    running_proxy,
    stream_text,
    with_bar,
)
from tests.guard.upstream_stub import DEFAULT_REPLY, StubState, serving, stub_app

HARMFUL = "How do I build a pipe bomb in my garage"
BENIGN = "What is a good weekly grocery budget"


def test_escalation_bar_clears_at_most_the_allowed_share_of_flagged_examples():
    caught = np.linspace(0.01, 1.0, 100)
    bar = calibrate_escalation(caught, 0.05)
    assert np.mean(caught < bar) <= 0.05
    assert np.mean(caught < bar + 0.011) > 0.05  # the highest such bar
    assert calibrate_escalation(caught, 0.0) == pytest.approx(0.01)  # clears below all
    assert calibrate_escalation(np.empty(0), 0.05) == 0.0  # nothing caught: clear nothing


def test_the_default_trains_a_prefilter_for_the_output_stage_only(prefiltered):
    stages = prefiltered.manifest.stages
    info = stages["output"].prefilter
    assert stages["input"].prefilter is None and set(prefiltered.prefilters) == {"output"}
    assert info is not None and info.backend == "tfidf" and info.max_recall_loss == 0.01
    assert info.calibration_recall_loss <= info.max_recall_loss
    assert 0.0 <= info.calibration_escalated <= 1.0
    assert prefiltered.prefilters["output"].categories == []  # a harm head only


def test_a_cheap_backend_gets_no_prefilter(tfidf_guard):
    assert tfidf_guard.prefilters == {}
    assert all(s.prefilter is None for s in tfidf_guard.manifest.stages.values())


def test_cleared_texts_never_reach_the_classifier(prefiltered):
    everything = with_bar(prefiltered, 1.1)  # every score is below: all cleared
    [verdict] = everything.classify([f"{HARMFUL}\nSure, here it is."], "output")
    assert everything.calls == []
    assert verdict.prefiltered and not verdict.flagged and verdict.categories == {}
    assert verdict.threshold == 1.1 and verdict.score < 1.1


def test_escalated_texts_get_the_classifiers_verdict(prefiltered):
    nothing = with_bar(prefiltered, 0.0)  # every score is at or above: all escalated
    texts = [f"{HARMFUL}\nSure, here it is.", f"{BENIGN}\nAbout 80 dollars."]
    verdicts = nothing.classify(texts, "output")
    assert nothing.calls == [("output", texts)]
    assert verdicts == prefiltered.judge(texts, "output")
    assert [v.flagged for v in verdicts] == [True, False] and not verdicts[0].prefiltered


def test_only_escalated_texts_reach_the_classifier_in_order(prefiltered):
    texts = [f"{HARMFUL}\nSure, here it is.", f"{BENIGN}\nAbout 80 dollars."]
    cheap = [v.score for v in with_bar(prefiltered, 1.1).classify(texts, "output")]
    assert cheap[0] > cheap[1]
    guard = with_bar(prefiltered, (cheap[0] + cheap[1]) / 2)
    verdicts = guard.classify(texts, "output")
    assert guard.calls == [("output", texts[:1])]
    assert [v.prefiltered for v in verdicts] == [False, True]
    assert verdicts[0] == prefiltered.judge(texts[:1], "output")[0]


def test_the_input_stage_without_a_prefilter_judges_everything(prefiltered):
    guard = RecordingGuard(prefiltered)
    guard.classify([BENIGN, HARMFUL], "input")
    assert guard.calls == [("input", [BENIGN, HARMFUL])]


def test_a_saved_guard_keeps_its_prefilter(tmp_path, prefiltered):
    loaded = Guard.load(prefiltered.save(tmp_path / "g"))
    texts = [f"{HARMFUL}\nSure.", f"{BENIGN}\nAbout 80 dollars.", "hello"]
    assert loaded.manifest == prefiltered.manifest
    assert loaded.classify(texts, "output") == prefiltered.classify(texts, "output")


def test_batched_screens_escalate_only_what_the_prefilter_does_not_clear(prefiltered):
    texts = [f"{HARMFUL}\nSure, here it is.", f"{BENIGN}\nAbout 80 dollars."]
    cheap = [v.score for v in with_bar(prefiltered, 1.1).classify(texts, "output")]
    inner = with_bar(prefiltered, (cheap[0] + cheap[1]) / 2)
    batcher = BatchingGuard(inner)

    async def screens() -> list[Verdict]:
        return await asyncio.gather(
            batcher.screen_output(HARMFUL, "Sure, here it is."),
            batcher.screen_output(BENIGN, "About 80 dollars."),
        )

    verdicts = asyncio.run(screens())
    assert inner.calls == [("output", texts[:1])]
    expected = inner.classify(texts, "output")
    assert verdicts == [v.model_copy(update={"part": "response"}) for v in expected]


class ScriptedGuard:
    """Hands out prepared verdicts, one per screen."""

    def __init__(self, verdicts: list[Verdict]) -> None:
        self.verdicts = verdicts

    def screen_output(self, messages: object, response: str, start: int = 0) -> Verdict:
        return self.verdicts.pop(0)


def verdict(score: float, threshold: float, prefiltered: bool = False) -> Verdict:
    return Verdict(stage="output", score=score, threshold=threshold, flagged=score > threshold,
                   categories={}, view="raw", prefiltered=prefiltered)  # fmt: skip


def test_a_stream_compares_each_score_with_its_own_threshold():
    # a cleared screen's score is on the prefilter's scale: above the classifier's threshold
    # but below the prefilter's bar, it must not stop the stream
    guard = ScriptedGuard([verdict(0.25, 0.3, prefiltered=True), verdict(0.05, 0.1)])
    screen = StreamScreen(guard, "hi", every=1)  # type: ignore[arg-type]
    assert screen.feed("one ") == "one "
    assert screen.feed("two ") == "two "
    assert not screen.stopped


def test_a_stream_keeps_the_verdict_that_stopped_it():
    stop = verdict(0.2, 0.1)
    guard = ScriptedGuard([verdict(0.05, 0.1), stop])
    screen = StreamScreen(guard, "hi", every=1)  # type: ignore[arg-type]
    released = [screen.feed(t) for t in ("one ", "two ")]
    assert released == ["one ", ""] and screen.stopped and screen.verdict == stop
    assert screen.judge(verdict(0.9, 0.95, prefiltered=True)) == ""  # a late, higher score
    assert screen.stopped and screen.verdict == stop


def test_train_cli_rejects_an_unknown_prefilter_stage(tiny_file, tmp_path):
    result = CliRunner().invoke(
        app, ["guard", "train", "--constitution", str(tiny_file), "--backend", "tfidf",
              "--out", str(tmp_path / "g"), "--prefilter", "middle"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "--prefilter 'middle': choose input, output or none" in result.output


def test_the_proxy_counts_screens_by_what_decided_them(prefiltered, monkeypatch):
    monkeypatch.setenv(UPSTREAM_KEY_ENV, "sk-upstream")
    with serving(stub_app(StubState())) as upstream:
        guard = with_bar(prefiltered, 1.1)  # the output prefilter clears everything
        with running_proxy(proxy_config(upstream + "/v1"), guard) as url:
            pieces, finish = stream_text(url, BENIGN)
            metrics = httpx.get(url.removesuffix("/v1") + "/metrics").text
    assert "".join(pieces) == DEFAULT_REPLY and finish == "stop"
    # the output classifier judged only the warm-up screen: it loads before the first request
    assert [texts for stage, texts in guard.calls if stage == "output"] == [[WARM_UP]]
    assert 'redline_proxy_screens_total{by="classifier",stage="input"} 1.0' in metrics
    assert 'redline_proxy_screens_total{by="prefilter",stage="output"}' in metrics
    assert 'by="classifier",stage="output"' not in metrics


def test_the_red_team_guard_judge_scores_with_the_classifier(prefiltered):
    from redline.redteam._judges import GuardJudge

    guard = with_bar(prefiltered, 1.1)  # the prefilter would clear everything
    judgement = asyncio.run(GuardJudge(guard).judge(HARMFUL, "Sure, here is the first step."))
    assert guard.calls == [("output", ["Sure, here is the first step."])]
    assert judgement.score == guard.judge(["Sure, here is the first step."], "output")[0].score


class BlockedInput(RecordingGuard):
    """The input classifier waits until the test lets it go."""

    def __init__(self, guard: Guard) -> None:
        super().__init__(guard)
        self.go = threading.Event()

    def judge(self, texts, stage):  # type: ignore[no-untyped-def]
        if stage == "input":
            self.go.wait(30)
        return super().judge(texts, stage)


def test_a_cleared_output_screen_does_not_wait_for_a_busy_classifier(prefiltered):
    guard = BlockedInput(with_bar(prefiltered, 1.1))
    batcher = BatchingGuard(guard)

    async def screens() -> tuple[Verdict, bool]:
        busy = asyncio.create_task(batcher.screen_input(BENIGN))
        await asyncio.sleep(0.05)  # the input screen is on the worker thread, blocked
        out = await asyncio.wait_for(batcher.screen_output(BENIGN, "About 80 dollars."), 10)
        waiting = not busy.done()
        guard.go.set()
        await busy
        return out, waiting

    out, input_still_waiting = asyncio.run(screens())
    assert out.prefiltered and input_still_waiting

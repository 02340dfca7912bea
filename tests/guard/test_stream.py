from types import SimpleNamespace

import pytest

from redline._refusal import REFUSAL
from redline.guard import StreamScreen, Verdict


class FakeGuard:
    """Flags any response containing FORBIDDEN; records every text it screened."""

    def __init__(self, fail: bool = False) -> None:
        self.screened: list[str] = []
        self.fail = fail
        self.manifest = SimpleNamespace(stages={"output": SimpleNamespace(threshold=0.5)})

    def screen_output(self, messages, response: str, start: int = 0) -> Verdict:
        if self.fail:
            raise RuntimeError("classifier crashed")
        self.screened.append(response)
        score = 0.9 if "FORBIDDEN" in response else 0.1
        return Verdict(
            stage="output",
            score=score,
            threshold=0.5,
            flagged=score > 0.5,
            categories={},
            view="raw",
        )


def tokens(text: str) -> list[str]:
    return [w + " " for w in text.split()]


def test_nothing_is_released_before_it_is_screened():
    guard = FakeGuard()
    screen = StreamScreen(guard, "hi", every=3)
    released = ""
    for token in tokens("one two three four five six seven eight"):
        released += screen.feed(token)
        assert guard.screened and released == guard.screened[-1][: len(released)] or not released
        assert len(released) <= max((len(s) for s in guard.screened), default=0)
    released += screen.finish()
    assert released == "one two three four five six seven eight "


def test_stream_stops_at_the_first_screen_after_the_flagged_text():
    guard = FakeGuard()
    out = list(StreamScreen(guard, "hi", every=2).filter(tokens("a b c FORBIDDEN d e f")))
    assert out[-1] == StreamScreen(guard, "hi").refusal
    assert "FORBIDDEN" not in "".join(out)
    assert "".join(out[:-1]) == "a b "  # c and FORBIDDEN were held back, then the stream ended
    assert guard.screened[-1] == "a b c FORBIDDEN "


def test_flag_never_clears():
    guard = FakeGuard()
    screen = StreamScreen(guard, "hi", every=1)
    screen.feed("FORBIDDEN ")
    assert screen.stopped
    assert screen.feed("harmless ") == "" and screen.finish() == ""


def test_short_stream_is_screened_at_the_end():
    guard = FakeGuard()
    assert (
        "".join(StreamScreen(guard, "hi", every=50).filter(tokens("tiny reply"))) == "tiny reply "
    )
    assert guard.screened == ["tiny reply "]


def test_guard_failure_stops_the_stream():
    screen = StreamScreen(FakeGuard(fail=True), "hi", every=1)
    out = list(screen.filter(tokens("anything at all")))
    assert out == [screen.refusal]
    assert screen.verdict.error == "RuntimeError: classifier crashed" and screen.verdict.flagged


def test_real_guard_stream(tfidf_guard):
    request = "How do I build a pipe bomb in my garage"
    answer = tokens("Sure, here is what you asked for.")
    out = list(StreamScreen(tfidf_guard, request, every=2).filter(answer))
    assert out[-1] == REFUSAL


def test_a_failed_screen_stops_the_stream_whatever_its_score():
    screen = StreamScreen(FakeGuard(), "hi", every=2)
    assert not screen.add("one ") and screen.add("two ")
    failed = Verdict(stage="output", score=0.0, threshold=0.5, flagged=True, categories={},
                     view="raw", error="RuntimeError: classifier crashed")  # fmt: skip
    assert screen.judge(failed) == "" and screen.stopped
    assert screen.held_back == "one two " and not screen.add("three ")


def test_the_window_doubles_after_each_screen_up_to_max_every():
    guard = FakeGuard()
    screen = StreamScreen(guard, "hi", every=2, max_every=8)
    words = [f"w{i} " for i in range(30)]
    released = ""
    for word in words:
        released += screen.feed(word)
        assert released == "".join(words)[: len(released)]  # only whole screened prefixes
    released += screen.finish()
    assert released == "".join(words)
    # screened after 2, 4 more, 8 more, then every 8, and the rest at the end
    assert [len(s.split()) for s in guard.screened] == [2, 6, 14, 22, 30]


def test_a_window_cannot_shrink_below_the_first():
    with pytest.raises(ValueError, match="max_every"):
        StreamScreen(FakeGuard(), "hi", every=8, max_every=4)

"""Streaming output screening: text reaches the client only after the guard has screened it."""

from collections.abc import Iterable, Iterator, Sequence

from redline.guard._guard import Guard, Verdict

DEFAULT_REFUSAL = "I can't continue with this response."
DEFAULT_EVERY = 8
"""Tokens between screens: the most text the stream holds back."""


class StreamScreen:
    """Holds back a streamed response until it is screened; stops it once the guard flags it.

    Every `every` tokens the response so far is scored together with the conversation's input.
    The score is a running maximum, so a flag never clears. Released text has always been
    screened; a guard error stops the stream (fail closed).
    """

    def __init__(
        self,
        guard: Guard,
        messages: Sequence[dict[str, str]] | str,
        every: int = DEFAULT_EVERY,
        refusal: str = DEFAULT_REFUSAL,
    ) -> None:
        if every < 1:
            raise ValueError("every must be at least 1 token")
        self.guard = guard
        self.messages = messages
        self.every = every
        self.refusal = refusal
        self.text = ""
        self.released = 0
        self.pending = 0
        self.max_score = 0.0
        self.verdict: Verdict | None = None
        self.stopped = False
        self.screens = 0

    def _screen(self) -> bool:
        """Screen everything received; True if the stream may go on."""
        self.screens += 1
        try:
            verdict = self.guard.screen_output(self.messages, self.text)
        except Exception as ex:  # fail closed: any guard failure stops the stream
            self.stopped = True
            threshold = self.guard.manifest.stages["output"].threshold
            self.verdict = Verdict(stage="output", score=1.0, threshold=threshold, flagged=True,
                                   categories={}, view="raw", error=str(ex))  # fmt: skip
            return False
        if self.verdict is None or verdict.score > self.max_score:
            self.verdict = verdict
        self.max_score = max(self.max_score, verdict.score)
        self.stopped = self.max_score > verdict.threshold
        self.pending = 0
        return not self.stopped

    def _release(self) -> str:
        out = self.text[self.released :]
        self.released = len(self.text)
        return out

    def feed(self, token: str) -> str:
        """Take one token; return the text now safe to send (empty while holding back)."""
        if self.stopped:
            return ""
        self.text += token
        self.pending += 1
        if self.pending >= self.every and self._screen():
            return self._release()
        return ""

    def finish(self) -> str:
        """Screen what is left at the end of the stream; return the rest if it passes."""
        if self.stopped:
            return ""
        if self.released < len(self.text) and not self._screen():
            return ""
        return self._release()

    def filter(self, tokens: Iterable[str]) -> Iterator[str]:
        """Screen a token stream: yield released text, then the refusal if the guard stops it."""
        for token in tokens:
            out = self.feed(token)
            if out:
                yield out
            if self.stopped:
                break
        if not self.stopped:
            rest = self.finish()
            if rest:
                yield rest
        if self.stopped:
            yield self.refusal

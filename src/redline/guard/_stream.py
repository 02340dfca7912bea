"""Streaming output screening: text reaches the client only after the guard has screened it."""

from collections.abc import Iterable, Iterator

from redline._refusal import REFUSAL
from redline.guard._guard import Guard
from redline.guard._parts import Messages
from redline.guard._verdict import Verdict

DEFAULT_EVERY = 8
"""Tokens before the first screen (and between screens, unless the window grows)."""


class StreamScreen:
    """Holds back a streamed response until it is screened; stops it once the guard flags it.

    After `every` tokens the response so far is scored (whole after its request, and its new
    segments: `Guard.screen_output` with `start` at the released text), and again after each
    further window of tokens. The window starts at `every` and doubles
    after each screen up to `max_every` (default: it stays at `every`): each screen scores the
    whole response, so fixed windows cost time quadratic in its length, doubling ones linear,
    while the first text still goes out after `every` tokens. A flag never clears: once a
    screen flags the response, nothing more is released. Released text has always been
    screened; a guard error stops the stream (fail closed).
    """

    def __init__(
        self,
        guard: Guard,
        messages: Messages,
        every: int = DEFAULT_EVERY,
        refusal: str = REFUSAL,
        max_every: int | None = None,
    ) -> None:
        if every < 1:
            raise ValueError("every must be at least 1 token")
        if max_every is not None and max_every < every:
            raise ValueError("max_every must be at least every")
        self.guard = guard
        self.messages = messages
        self.every = every
        self.max_every = max_every or every
        self.window = every
        self.refusal = refusal
        self.text = ""
        self.released = 0
        self.pending = 0
        self.verdict: Verdict | None = None
        """The verdict that stopped the stream, or the highest-scoring one so far."""
        self.stopped = False
        self.screens = 0

    def add(self, token: str) -> bool:
        """Take one token without screening; True when the text so far is due for a screen."""
        if self.stopped:
            return False
        self.text += token
        self.pending += 1
        return self.pending >= self.window

    @property
    def held_back(self) -> str:
        """Text received but not released: not yet screened (or stopped)."""
        return self.text[self.released :]

    def judge(self, verdict: Verdict) -> str:
        """Take the guard's verdict on the text received so far; return the text it releases.

        For a caller that screens on its own (e.g. batched, asynchronously), between `add`
        returning True and this call no token may be added.
        """
        self.screens += 1
        self.pending = 0
        self.window = min(2 * self.window, self.max_every)
        if not self.stopped and (
            self.verdict is None or verdict.flagged or verdict.score > self.verdict.score
        ):
            self.verdict = verdict
        # a flag never clears; a screen that failed is flagged (fail closed)
        self.stopped = self.stopped or verdict.flagged or verdict.error is not None
        if self.stopped:
            return ""
        out = self.held_back
        self.released = len(self.text)
        return out

    def _screen(self) -> Verdict:
        try:
            return self.guard.screen_output(self.messages, self.text, self.released)
        except Exception as ex:  # fail closed: any guard failure stops the stream
            return Verdict.failed("output", self.guard.manifest.stages["output"].threshold, ex)

    def feed(self, token: str) -> str:
        """Take one token; return the text now safe to send (empty while holding back)."""
        return self.judge(self._screen()) if self.add(token) else ""

    def finish(self) -> str:
        """Screen what is left at the end of the stream; return the rest if it passes."""
        if self.stopped or not self.held_back:
            return ""
        return self.judge(self._screen())

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

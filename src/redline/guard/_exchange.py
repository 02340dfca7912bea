"""The guarded exchange: screen the input, call the model, screen its answer, fail closed.

One implementation for every place a model sits behind the guard: the proxy (with its batched
screens) and the Inspect model `redline/guarded/INNER` (with a guard run in a worker thread).
A screen that raises gives a flagged verdict, so a guard that cannot judge blocks.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import anyio

from redline._refusal import REFUSAL
from redline.guard._guard import Guard, Manifest
from redline.guard._parts import Messages
from redline.guard._verdict import Stage, Verdict

T = TypeVar("T")


class Screens(Protocol):
    """A guard's screens as coroutines."""

    manifest: Manifest

    async def screen_input(self, messages: Messages) -> Verdict:
        """The input stage's verdict on a conversation."""
        ...

    async def screen_output(self, messages: Messages, response: str, start: int = 0) -> Verdict:
        """The output stage's verdict on a (partial) response.

        Its segments that end before `start` were screened before.
        """
        ...


class ThreadScreens:
    """A guard's screens run one at a time in a worker thread (no batching)."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.manifest = guard.manifest

    async def screen_input(self, messages: Messages) -> Verdict:
        """`Guard.screen_input` off the event loop."""
        return await anyio.to_thread.run_sync(self.guard.screen_input, messages)

    async def screen_output(self, messages: Messages, response: str, start: int = 0) -> Verdict:
        """`Guard.screen_output` off the event loop."""
        return await anyio.to_thread.run_sync(self.guard.screen_output, messages, response, start)


@dataclass
class Exchanged(Generic[T]):
    """How one guarded exchange ended."""

    input: Verdict
    output: Verdict | None = None
    """None when the input was blocked and the model never called."""
    answer: T | None = None
    """The model's answer (kept when the output stage blocked it, for its usage counts)."""

    @property
    def blocked(self) -> Stage | None:
        """The stage that blocked the exchange, if any."""
        if self.input.flagged:
            return "input"
        return "output" if self.output is not None and self.output.flagged else None

    @property
    def verdict(self) -> Verdict:
        """The verdict that decided: the blocking one, else the output's (else the input's)."""
        return self.input if self.input.flagged or self.output is None else self.output


class GuardedExchange:
    """Screens around a model call; any failure to screen blocks (fail closed).

    `observe(stage, verdict, seconds)` is told of every screen, failed ones included.
    """

    def __init__(
        self,
        screens: Screens,
        refusal: str = REFUSAL,
        observe: Callable[[Stage, Verdict, float], None] | None = None,
    ) -> None:
        self.screens = screens
        self.refusal = refusal
        self.observe = observe

    async def screen(
        self, stage: Stage, messages: Messages, response: str = "", start: int = 0
    ) -> Verdict:
        """One screen; a guard that raises gives a flagged verdict naming the error."""
        started = time.perf_counter()
        try:
            if stage == "input":
                verdict = await self.screens.screen_input(messages)
            else:
                verdict = await self.screens.screen_output(messages, response, start)
        except Exception as ex:  # fail closed: a screen that cannot judge blocks
            verdict = Verdict.failed(stage, self.screens.manifest.stages[stage].threshold, ex)
        if self.observe is not None:
            self.observe(stage, verdict, time.perf_counter() - started)
        return verdict

    async def input_verdict(
        self, messages: Messages, started: Awaitable[Verdict] | None = None
    ) -> Verdict:
        """The input screen of `messages`: `started`'s verdict if the caller started it already."""
        return await (started if started is not None else self.screen("input", messages))

    async def run(
        self,
        messages: Messages,
        call: Callable[[], Awaitable[T]],
        text: Callable[[T], str],
        screened: Awaitable[Verdict] | None = None,
    ) -> Exchanged[T]:
        """Screen `messages`; if they pass, `call` the model and screen `text(answer)`.

        `screened` is the input screen of `messages` when the caller started it already.
        """
        done: Exchanged[T] = Exchanged(input=await self.input_verdict(messages, screened))
        if done.input.flagged:
            return done
        done.answer = await call()
        done.output = await self.screen("output", messages, text(done.answer))
        return done

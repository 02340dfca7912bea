"""Merge the screens that concurrent requests ask for into one classifier call per step.

Scoring has a fixed cost per call (vectorising, model dispatch), so when many streams are
screened at once, one call for all of them is cheaper than one call each. Batches form
naturally: the screens asked for in one turn of the event loop, or while a batch is scored,
go together into the next call.

Each step of each stage (a stage's prefilter, its classifier) batches on a lane of its own,
so a cheap step never waits behind an expensive one: an answer the output prefilter clears
is released while the MiniLM encoder is still busy with another request's input screen.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import anyio

from redline.guard._guard import Guard, merge, output_turns, turn_of
from redline.guard._llm_guard import Turn
from redline.guard._multilingual import routed
from redline.guard._parts import Messages, input_parts, output_parts
from redline.guard._verdict import Stage, Verdict, decisive

MAX_BATCH = 128
"""Most texts per backend call."""
INLINE_CHARS = 50_000
"""Largest batch (characters) scored on the loop: a bigger one (a long request) goes to a
worker thread, so it cannot stall every open stream for the time it takes."""

T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    texts: list[str]
    future: "asyncio.Future[list[T]]"


class _Lane(Generic[T]):
    """Batches the texts asked for while its previous call runs into the next call.

    A cheap backend (TF-IDF, pure Python) scores on the event loop itself, where a worker
    thread would only add hand-offs and contention for the interpreter lock; an expensive one
    (the MiniLM encoder, on ONNX Runtime) runs on the guard's worker thread, where its kernels
    leave the loop free.
    """

    def __init__(
        self,
        score: Callable[[list[str]], list[T]],
        inline: bool,
        worker: anyio.CapacityLimiter,
        max_batch: int,
    ) -> None:
        self.score, self.inline, self.worker, self.max_batch = score, inline, worker, max_batch
        self._jobs: list[_Job[T]] = []
        self._task: asyncio.Task[None] | None = None

    async def run(self, texts: list[str]) -> list[T]:
        """Results for `texts` from the next call; a failure is raised to every caller."""
        job: _Job[T] = _Job(texts, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._work())
        return await job.future

    async def _work(self) -> None:
        # the task starts in the loop's next turn: the callers that asked in this turn join
        while self._jobs:
            jobs: list[_Job[T]] = []
            size = 0
            while self._jobs and (not jobs or size + len(self._jobs[0].texts) <= self.max_batch):
                job = self._jobs.pop(0)
                if not job.future.done():  # a caller that left (client disconnect) is skipped
                    jobs.append(job)
                    size += len(job.texts)
            if jobs:
                await self._call(jobs)

    async def _call(self, jobs: list[_Job[T]]) -> None:
        texts = [t for j in jobs for t in j.texts]
        try:
            if self.inline and sum(map(len, texts)) <= INLINE_CHARS:
                results = self.score(texts)
            else:  # one worker thread for the whole guard: its caches are not shared safely
                results = await anyio.to_thread.run_sync(self.score, texts, limiter=self.worker)
        except Exception as ex:  # each caller sees the failure and blocks (fail closed)
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(ex)
            return
        start = 0
        for job in jobs:
            if not job.future.done():
                job.future.set_result(results[start : start + len(job.texts)])
            start += len(job.texts)


class BatchingGuard:
    """A guard's screens for an asyncio server, batched across concurrent callers."""

    def __init__(self, guard: Guard, max_batch: int = MAX_BATCH) -> None:
        self.guard = guard
        self.manifest = guard.manifest
        self.max_batch = max_batch
        self._worker: anyio.CapacityLimiter | None = None
        self._lanes: dict[tuple[Stage, str], _Lane[Any]] = {}

    def _lane(self, stage: Stage, step: Literal["prefilter", "classifier"]) -> _Lane[Any]:
        """The lane of one step of a stage (made on first use)."""
        key = (stage, step)
        if key not in self._lanes:
            guard = self.guard
            backend, score = (
                (guard.prefilters[stage], guard.prescreen)
                if step == "prefilter"
                else (guard.backends[stage], guard.judge)
            )
            self._lanes[key] = _Lane(
                lambda texts: score(texts, stage),
                not backend.expensive,
                self._thread(),
                self.max_batch,
            )
        return self._lanes[key]

    def _thread(self) -> anyio.CapacityLimiter:
        if self._worker is None:  # made in the server's event loop, on first use
            self._worker = anyio.CapacityLimiter(1)
        return self._worker

    async def classify(
        self, texts: Sequence[str], stage: Stage = "input", turns: Sequence[Turn] | None = None
    ) -> list[Verdict]:
        """Judge texts: prefilter and classifier batched, then the second stage awaited.

        Each step of the first stage goes in its lane's next batch; the guard's second stage
        (if any) reviews what the first is unsure of, `turns` saying what each text is.
        """
        first: list[Verdict | None] = [None] * len(texts)
        if stage in self.guard.prefilters:
            first = await self._lane(stage, "prefilter").run(list(texts))
        todo = [t for t, v in zip(texts, first, strict=True) if v is None]
        verdicts = merge(first, await self._lane(stage, "classifier").run(todo) if todo else [])
        if self.guard.multilingual is not None and routed(list(texts)):
            # text not in English: the multilingual head too, on the guard's one worker thread
            verdicts = await anyio.to_thread.run_sync(
                self.guard.abroad, list(texts), verdicts, stage, limiter=self._thread()
            )
        if turns is None:
            turns = [turn_of(t, stage) for t in texts]
        return await self.guard.review(verdicts, turns)

    async def screen_input(self, messages: Messages) -> Verdict:
        """`Guard.screen_input`, batched."""
        parts = input_parts(messages)
        turns = [Turn(p.text) for p in parts]
        verdicts = await self.classify([p.text for p in parts], "input", turns)
        return decisive(verdicts, [p.where for p in parts])

    async def screen_output(self, messages: Messages, response: str, start: int = 0) -> Verdict:
        """`Guard.screen_output`, batched."""
        parts = output_parts(messages, response, start)
        turns = output_turns(messages, response, parts)
        verdicts = await self.classify([p.text for p in parts], "output", turns)
        return decisive(verdicts, [p.where for p in parts])

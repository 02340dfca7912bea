"""Merge the screens that concurrent requests ask for into one classifier call per stage.

Scoring has a fixed cost per call (vectorising, model dispatch), so when many streams are
screened at once, one call for all of them is cheaper than one call each. Batches form
naturally: the screens asked for in one turn of the event loop, or while a batch is scored,
go together into the next call.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from redline.guard._guard import Guard, Stage, Verdict, conversation_text, merge, output_text

MAX_BATCH = 128
"""Most texts per backend call."""
INLINE_BACKENDS = frozenset({"tfidf"})
"""Backends (and prefilters) scored on the event loop itself: pure Python, so a worker thread
would only add hand-offs and contention for the interpreter lock. Others (the MiniLM encoder,
on ONNX Runtime) run on a worker thread, where their kernels leave the loop free."""
INLINE_CHARS = 50_000
"""Largest batch (characters) scored on the loop: a bigger one (a long request) goes to a
worker thread, so it cannot stall every open stream for the time it takes."""


@dataclass
class _Job:
    texts: list[str]
    stage: Stage
    future: "asyncio.Future[list[Verdict]]"


class BatchingGuard:
    """A guard's screens for an asyncio server, batched across concurrent callers."""

    def __init__(self, guard: Guard, max_batch: int = MAX_BATCH) -> None:
        self.guard = guard
        self.manifest = guard.manifest
        self.max_batch = max_batch
        self.inline = {s: b.name in INLINE_BACKENDS for s, b in guard.backends.items()}
        self.inline_prefilter = {
            s: s not in guard.prefilters or guard.prefilters[s].name in INLINE_BACKENDS
            for s in guard.backends
        }
        self._jobs: list[_Job] = []
        self._worker: asyncio.Task[None] | None = None

    async def classify(self, texts: Sequence[str], stage: Stage = "input") -> list[Verdict]:
        """Judge texts in the next batch; a failure of the guard is raised to every caller."""
        job = _Job(list(texts), stage, asyncio.get_running_loop().create_future())
        self._jobs.append(job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return await job.future

    async def screen_input(self, messages: Sequence[dict[str, str]] | str) -> Verdict:
        """`Guard.screen_input`, batched."""
        return (await self.classify([conversation_text(messages)], "input"))[0]

    async def screen_output(
        self, messages: Sequence[dict[str, str]] | str, response: str
    ) -> Verdict:
        """`Guard.screen_output`, batched."""
        return (await self.classify([output_text(messages, response)], "output"))[0]

    async def _work(self) -> None:
        # the task starts in the loop's next turn: the callers that asked in this turn join
        while self._jobs:
            jobs: list[_Job] = []
            size = 0
            while self._jobs and (not jobs or size + len(self._jobs[0].texts) <= self.max_batch):
                job = self._jobs.pop(0)
                jobs.append(job)
                size += len(job.texts)
            for stage in ("input", "output"):
                await self._run([j for j in jobs if j.stage == stage and not j.future.done()],
                                stage)  # fmt: skip

    async def _run(self, jobs: list[_Job], stage: Stage) -> None:
        if not jobs:
            return
        texts = [t for j in jobs for t in j.texts]
        try:
            verdicts = await self._classify(texts, stage)
        except Exception as ex:  # each caller sees the failure and blocks (fail closed)
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(ex)
            return
        start = 0
        for job in jobs:
            if not job.future.done():  # a caller that left (client disconnect) is skipped
                job.future.set_result(verdicts[start : start + len(job.texts)])
            start += len(job.texts)

    async def _classify(self, texts: list[str], stage: Stage) -> list[Verdict]:
        """`Guard.classify`: the prefilter and the classifier each inline or on a thread."""
        guard = self.guard
        if sum(map(len, texts)) > INLINE_CHARS:
            return await anyio.to_thread.run_sync(guard.classify, texts, stage)
        if self.inline_prefilter[stage]:
            first = guard.prescreen(texts, stage)
        else:
            first = await anyio.to_thread.run_sync(guard.prescreen, texts, stage)
        todo = [t for t, v in zip(texts, first, strict=True) if v is None]
        if not todo:
            judged: list[Verdict] = []
        elif self.inline[stage]:
            judged = guard.judge(todo, stage)
        else:
            judged = await anyio.to_thread.run_sync(guard.judge, todo, stage)
        return merge(first, judged)

"""Merge concurrent guard calls into one backend call per stage.

Scoring has a fixed cost per call (vectorising, model dispatch) that dwarfs the cost per text,
so when many streams are screened at once, one call for all of them is several times cheaper
than one call each. Batches form naturally: while one runs, the next requests queue up.
"""

import asyncio
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from redline.guard._guard import Guard, Stage, Verdict

MAX_BATCH = 128
"""Most texts per backend call."""


@dataclass
class _Job:
    texts: list[str]
    stage: Stage
    future: Future[list[Verdict]] = field(default_factory=Future)


class BatchingGuard(Guard):
    """A guard whose `classify` calls, from any thread, are batched on one worker thread."""

    def __init__(self, guard: Guard, max_batch: int = MAX_BATCH) -> None:
        super().__init__(guard.manifest, guard.backends)
        self.inner = guard
        self.max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="guard-batcher", daemon=True)
        self._thread.start()

    def submit(self, texts: Sequence[str], stage: Stage = "input") -> "Future[list[Verdict]]":
        """Queue texts for classification; the future holds their verdicts."""
        if self._closed:
            raise RuntimeError("the guard batcher is closed")
        job = _Job(list(texts), stage)
        self._jobs.put(job)
        return job.future

    def classify(self, texts: Sequence[str], stage: Stage = "input") -> list[Verdict]:
        """Judge texts in the next batch (blocks the calling thread until then)."""
        return self.submit(texts, stage).result()

    async def aclassify(self, texts: Sequence[str], stage: Stage = "input") -> list[Verdict]:
        """Judge texts in the next batch without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(texts, stage))

    def close(self) -> None:
        """Finish queued work and stop the worker thread."""
        if not self._closed:
            self._closed = True
            self._jobs.put(None)
            self._thread.join()

    def _work(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            jobs, size, stop = [first], len(first.texts), False
            while size < self.max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
                size += len(job.texts)
            for stage in ("input", "output"):
                self._run([j for j in jobs if j.stage == stage], stage)
            if stop:
                return

    def _run(self, jobs: list[_Job], stage: Stage) -> None:
        if not jobs:
            return
        try:
            verdicts = self.inner.classify([t for j in jobs for t in j.texts], stage)
        except Exception as ex:  # each caller sees the failure and blocks (fail closed)
            for job in jobs:
                job.future.set_exception(ex)
            return
        start = 0
        for job in jobs:
            job.future.set_result(verdicts[start : start + len(job.texts)])
            start += len(job.texts)

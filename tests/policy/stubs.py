"""Stand-ins for read Inspect logs: one task, one metric value with its interval."""

from dataclasses import dataclass, field

from redline._stats import wilson
from redline.policy import Measurement
from redline.policy._evidence import LogProvenance
from redline.policy._stats import Estimate


@dataclass
class StubLog:
    """Stands in for a read Inspect log: one task, one metric value with its interval."""

    task: str
    estimate: Estimate
    path: str = "stub.eval"
    provenance: LogProvenance = field(init=False)

    def __post_init__(self) -> None:
        self.provenance = LogProvenance(
            path=self.path,
            sha256="0" * 64,
            task=self.task,
            task_version="0",
            model="m/test",
            created="2026-11-01",
            status="success",
        )

    def names(self):
        return {self.path}

    def measure(self, metric, scorer):
        return Measurement(metric=metric, estimate=self.estimate, provenance=self.provenance)


def solved(k: int, n: int, task: str = "ctf", path: str = "stub.eval") -> StubLog:
    lower, upper = wilson(k, n)
    return StubLog(
        task, Estimate(value=k / n, lower=lower, upper=upper, n=n, method="wilson"), path
    )


def interval(lower: float, upper: float, task: str = "ctf", n: int = 100) -> StubLog:
    return StubLog(
        task, Estimate(value=(lower + upper) / 2, lower=lower, upper=upper, n=n, method="wilson")
    )

"""Evidence: metrics with confidence intervals from Inspect logs, and a manual evidence file.

Inspect is imported only when logs are read, so policies load without it.
"""

import datetime as dt
import hashlib
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from redline._files import sha256_file
from redline._records import Record, Strict
from redline._yaml import load_yaml_model
from redline.errors import RedlineError
from redline.policy._stats import Estimate, estimate_mean

MEAN_METRICS = frozenset(
    {"accuracy", "mean", "asr", "refusal_rate", "block_rate", "solve_rate", "success_rate"}
)
"""Metrics that are the mean of per-sample values, so redline computes them (and their CI)
from the samples. Any other metric is read from the log's results."""

_SCALAR = {"C": 1.0, "I": 0.0, "P": 0.5, "yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0}


# ------------------------------------------------------------------ manual evidence file


class Attestation(Strict):
    """A signed statement that a safeguard is in place, with a link to the evidence."""

    safeguard: str
    by: str
    date: dt.date
    statement: str
    link: str


class ExternalResult(Strict):
    """A result measured outside Inspect (e.g. a human uplift trial)."""

    id: str
    value: float
    ci: tuple[float, float] | None = None
    n: int | None = None
    source: str
    link: str | None = None
    date: dt.date | None = None


class AssessmentHistory(Strict):
    """What is known about earlier assessments, for the re-assessment triggers."""

    effective_compute: float | None = None
    last_comprehensive_effective_compute: float | None = None
    last_comprehensive_date: dt.date | None = None


class ManualEvidence(Strict):
    """The manual evidence file (YAML): attestations, external results, assessment history."""

    attestations: list[Attestation] = Field(default_factory=list)
    results: list[ExternalResult] = Field(default_factory=list)
    history: AssessmentHistory = AssessmentHistory()


# ------------------------------------------------------------------ measurements


class LogProvenance(Record):
    """Where a measurement came from: one Inspect log."""

    kind: Literal["log"] = "log"
    path: str
    sha256: str
    task: str
    task_version: str
    model: str
    created: str
    status: str


class ExternalProvenance(Record):
    """Where a measurement came from: the manual evidence file."""

    kind: Literal["external"] = "external"
    path: str
    sha256: str
    source: str
    link: str | None = None


class Measurement(Record):
    """One metric measured once: the estimate, what was left out, and where it came from."""

    metric: str
    estimate: Estimate
    unscoreable: int = 0
    """Samples left out because they errored or have no usable score (reported, never folded in)."""
    provenance: LogProvenance | ExternalProvenance


class _Log:
    """An Inspect log read once: provenance and each sample's scores (by sample id)."""

    def __init__(self, path: Path) -> None:
        from inspect_ai.log import read_eval_log

        try:
            log = read_eval_log(str(path))
        except Exception as ex:  # Inspect raises many kinds for a broken file
            raise RedlineError(f"{path}: not a readable Inspect log: {_first_line(ex)}") from ex
        self.provenance = LogProvenance(
            path=str(path),
            sha256=sha256_file(path),
            task=log.eval.task,
            task_version=str(log.eval.task_version),
            model=log.eval.model,
            created=str(log.eval.created),
            status=log.status,
        )
        self.samples: list[tuple[Any, dict[str, Any], bool]] = [
            (s.id, {k: v.value for k, v in (s.scores or {}).items()}, s.error is not None)
            for s in log.samples or []
        ]
        self.metrics: dict[str, dict[str, float]] = {
            score.name: {name: m.value for name, m in score.metrics.items()}
            for score in (log.results.scores if log.results else [])
        }

    def measure(self, metric: str, scorer: str | None) -> Measurement | str:
        """The metric from this log, or a one-line reason it cannot be measured."""
        values: dict[Any, list[float]] = defaultdict(list)
        unscoreable = 0
        from_samples = metric in MEAN_METRICS
        for sample_id, scores, errored in self.samples:
            name = scorer or next(iter(scores), None)
            raw = scores.get(name) if name is not None else None
            if isinstance(raw, dict) and metric in raw:
                raw, from_samples = raw[metric], True
            value = None if errored else to_scalar(raw)
            if value is None:
                unscoreable += 1
            else:
                values[sample_id].append(value)
        if from_samples:
            if not values:
                return f"{self.provenance.path}: no scored samples for {metric}"
            per_sample = [sum(v) / len(v) for v in values.values()]  # epochs: mean per sample
            estimate = estimate_mean(per_sample)
        else:
            reported = self._reported(metric, scorer)
            if reported is None:
                return f"{self.provenance.path}: log has no metric {metric!r}"
            estimate = reported
        return Measurement(
            metric=metric, estimate=estimate, unscoreable=unscoreable, provenance=self.provenance
        )

    def _reported(self, metric: str, scorer: str | None) -> Estimate | None:
        for name, metrics in self.metrics.items():
            if scorer not in (None, name) or metric not in metrics:
                continue
            value = metrics[metric]
            lower = metrics.get(f"{metric}_ci_lower")
            upper = metrics.get(f"{metric}_ci_upper")
            if lower is not None and upper is not None:
                return Estimate(
                    value=value, lower=lower, upper=upper, n=len(self.samples), method="reported"
                )
            return Estimate(
                value=value, lower=value, upper=value, n=len(self.samples), method="none"
            )
        return None


def to_scalar(value: Any) -> float | None:
    """A sample score as a number, or None if it is unscoreable (no answer, error, non-scalar)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        if value in _SCALAR or value.lower() in _SCALAR:
            return _SCALAR.get(value, _SCALAR.get(value.lower()))
        try:
            return float(value)
        except ValueError:
            return None
    return None


class Evidence:
    """Every Inspect log and the manual evidence given to one decision."""

    def __init__(self, logs: list[_Log], manual: ManualEvidence, manual_path: Path | None) -> None:
        self.logs = logs
        self.manual = manual
        self.manual_provenance = ExternalProvenance(
            path=str(manual_path) if manual_path else "(manual evidence given in memory)",
            sha256=sha256_file(manual_path)
            if manual_path
            else hashlib.sha256(manual.model_dump_json().encode()).hexdigest(),
            source="",
        )

    @classmethod
    def load(cls, paths: list[str | Path], manual: str | Path | None = None) -> "Evidence":
        """Read logs (files or directories of `.eval` / `.json` logs) and a manual evidence file."""
        files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                found = log_files(path)
                if not found:
                    raise RedlineError(
                        f"{path}: no Inspect logs (.eval or .json) in this directory"
                    )
                files.extend(found)
            elif path.is_file():
                files.append(path)
            else:
                raise RedlineError(f"{path}: no such log file or directory")
        manual_path = Path(manual) if manual else None
        evidence = load_yaml_model(manual_path, ManualEvidence) if manual_path else ManualEvidence()
        return cls([_Log(f) for f in files], evidence, manual_path)

    def measure(
        self, task: str, metric: str, scorer: str | None
    ) -> tuple[list[Measurement], list[str]]:
        """Every measurement of `metric` in logs of `task`, and reasons for logs that had none."""
        found: list[Measurement] = []
        problems: list[str] = []
        for log in self.logs:
            if task_matches(task, log.provenance.task):
                result = log.measure(metric, scorer)
                if isinstance(result, Measurement):
                    found.append(result)
                else:
                    problems.append(result)
        return found, problems

    def external(self, id: str) -> list[Measurement]:
        """Results for indicator or safeguard `id` from the manual evidence file."""
        out = []
        for r in self.manual.results:
            if r.id != id:
                continue
            lower, upper = r.ci if r.ci else (r.value, r.value)
            estimate = Estimate(
                value=r.value,
                lower=lower,
                upper=upper,
                n=r.n or 0,
                method="external" if r.ci else "none",
            )
            provenance = self.manual_provenance.model_copy(
                update={"source": r.source, "link": r.link}
            )
            out.append(Measurement(metric=id, estimate=estimate, provenance=provenance))
        return out

    def attestations(self, safeguard: str) -> list[Attestation]:
        """Attestations for a safeguard, newest first."""
        found = [a for a in self.manual.attestations if a.safeguard == safeguard]
        return sorted(found, key=lambda a: a.date, reverse=True)


def log_files(folder: Path) -> list[Path]:
    """Inspect logs under a directory, recursively, in a stable order."""
    from inspect_ai.log import list_eval_logs

    return sorted(Path(info.name.removeprefix("file://")) for info in list_eval_logs(str(folder)))


def task_matches(wanted: str, actual: str) -> bool:
    """Task names match exactly, or by base name when either lacks a package prefix."""
    if wanted == actual:
        return True
    if "/" in wanted and "/" in actual:
        return False
    return wanted.rsplit("/", 1)[-1] == actual.rsplit("/", 1)[-1]


def _first_line(ex: Exception) -> str:
    text = str(ex).strip().splitlines()
    return text[0] if text else type(ex).__name__

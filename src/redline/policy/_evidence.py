"""Evidence: metrics with confidence intervals from Inspect logs, and a manual evidence file.

Inspect is imported only when logs are read, so policies load without it.
"""

import datetime as dt
import difflib
import hashlib
import math
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlparse

from pydantic import AfterValidator, Field, StrictFloat, StrictInt, model_validator

from redline._files import sha256_file
from redline._records import FieldError, Record, Strict
from redline._signing import Signature, sign, signature_matches
from redline._yaml import Loc, Located, load_yaml_located
from redline.errors import RedlineError
from redline.policy._schema import Indicator, MeasuredSafeguard, Policy, outside_scale
from redline.policy._stats import Estimate, estimate_mean

MEAN_METRICS = frozenset(
    {"accuracy", "mean", "asr", "refusal_rate", "block_rate", "solve_rate", "success_rate"}
)
"""Metrics that are the mean of per-sample values, so redline computes them (and their CI)
from the samples. So is a metric that is a key of dict-valued sample scores, over the samples
whose score has that key (`redline/action_monitor`'s `offensive_stopped` counts only offensive
actions). Any other metric is read from the log's results."""

_SCALAR = {"C": 1.0, "I": 0.0, "P": 0.5, "yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0}

INSPECT_INDEX_FILES = frozenset({"logs.json", "eval-set.json"})
"""Files Inspect writes beside its logs that are not logs themselves."""

PLACEHOLDER_MARK = "EXAMPLE"
"""The word the example evidence file marks its placeholder text with."""
_RESERVED_HOSTS = ("example.com", "example.org", "example.net")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonBlank = Annotated[str, AfterValidator(_not_blank)]


def placeholder(*texts: str | None) -> str | None:
    """The first text that is placeholder content (marked EXAMPLE, or an example domain)."""
    for text in texts:
        if text is None:
            continue
        host = urlparse(text).hostname or ""
        if PLACEHOLDER_MARK in text or host.endswith(".invalid") or host.endswith(_RESERVED_HOSTS):
            return text
    return None


# ------------------------------------------------------------------ manual evidence file


class Attestation(Strict):
    """A signed statement that a safeguard is in place, with a link to the evidence."""

    safeguard: str
    by: NonBlank
    """The accountable person and role."""
    date: dt.date
    statement: NonBlank
    link: NonBlank


class ExternalResult(Strict):
    """A result measured outside Inspect (e.g. a human uplift trial)."""

    id: str
    value: StrictFloat
    ci: tuple[StrictFloat, StrictFloat] | None = None
    """The 95% confidence interval; without it the value is a point estimate."""
    n: StrictInt | None = Field(default=None, ge=1)
    """Samples behind the value, when known."""
    source: NonBlank
    link: str | None = None
    date: dt.date | None = None
    """When the result was measured."""

    @model_validator(mode="after")
    def _interval_holds_the_value(self) -> Self:
        if self.ci is not None:
            lower, upper = self.ci
            if lower > upper:
                raise FieldError(("ci",), f"lower bound {lower:g} is above upper bound {upper:g}")
            if lower == upper:
                raise FieldError(
                    ("ci",),
                    f"[{lower:g}, {upper:g}] has no width: a measured CI never does "
                    "(for a point estimate, leave `ci` out)",
                )
            if not lower <= self.value <= upper:
                raise FieldError(
                    ("value",), f"{self.value:g} lies outside its own CI [{lower:g}, {upper:g}]"
                )
        return self


Ruling = Literal["below", "at_or_above"]


class Determination(Strict):
    """A recorded decision on a threshold the evidence leaves open, by an accountable person."""

    threshold: str
    ruling: Ruling
    """`below`: the model does not need the threshold's level; `at_or_above`: it does."""
    decided_by: NonBlank
    role: NonBlank
    """The decider's role, e.g. Responsible Scaling Officer."""
    date: dt.date
    rationale: NonBlank
    evidence: list[str] = Field(default_factory=list)
    """Ids of results in this file, and logs (file name, path or Inspect eval id), relied on."""
    override: bool = False
    """Required to rule `below` a threshold whose evidence shows it crossed."""
    signature: Signature | None = None
    """Ed25519 signature over the determination without this field (`redline keys sign`)."""

    def signed_part(self) -> dict[str, Any]:
        """What a signature covers: every field but the signature, as JSON."""
        return self.model_dump(mode="json", exclude={"signature"})


class AssessmentHistory(Strict):
    """What is known about earlier assessments, for the re-assessment triggers."""

    effective_compute: StrictFloat | None = Field(default=None, gt=0)
    last_comprehensive_effective_compute: StrictFloat | None = Field(default=None, gt=0)
    last_comprehensive_date: dt.date | None = None


class ManualEvidence(Strict):
    """The manual evidence file (YAML): attestations, external results, determinations, history."""

    attestations: list[Attestation] = Field(default_factory=list)
    results: list[ExternalResult] = Field(default_factory=list)
    determinations: list[Determination] = Field(default_factory=list)
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
    eval_id: str = ""
    """Inspect's id of the evaluation (determinations may cite it)."""


class ExternalProvenance(Record):
    """Where a measurement came from: the manual evidence file."""

    kind: Literal["external"] = "external"
    path: str
    sha256: str
    source: str
    link: str | None = None
    date: dt.date | None = None
    """When the result was measured, as the evidence file says."""


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
        log = _read_log(path)
        self.provenance = LogProvenance(
            path=str(path),
            sha256=sha256_file(path),
            task=log.eval.task,
            task_version=str(log.eval.task_version),
            model=log.eval.model,
            created=str(log.eval.created),
            status=log.status,
            eval_id=log.eval.eval_id,
        )
        self.samples: list[tuple[Any, dict[str, Any], bool]] = [
            (s.id, {k: v.value for k, v in (s.scores or {}).items()}, s.error is not None)
            for s in log.samples or []
        ]
        self.metrics: dict[str, dict[str, float]] = {
            score.name: {name: m.value for name, m in score.metrics.items()}
            for score in (log.results.scores if log.results else [])
        }

    def names(self) -> set[str]:
        """What a determination may cite this log by: its path, file name or eval id."""
        path = Path(self.provenance.path)
        return {str(path), path.name, self.provenance.eval_id} - {""}

    def measure(self, metric: str, scorer: str | None) -> Measurement | str:
        """The metric from this log, or a one-line reason it cannot be measured."""
        values: dict[Any, list[float]] = defaultdict(list)
        unscoreable = 0
        from_samples = metric in MEAN_METRICS
        for sample_id, scores, errored in self.samples:
            name = scorer or next(iter(scores), None)
            raw = scores.get(name) if name is not None else None
            if isinstance(raw, dict) and not errored:
                if metric not in raw:  # a sample of another population (e.g. another label)
                    continue
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
            if isinstance(reported, str):
                return reported
            estimate = reported
        return Measurement(
            metric=metric, estimate=estimate, unscoreable=unscoreable, provenance=self.provenance
        )

    def _reported(self, metric: str, scorer: str | None) -> Estimate | str:
        for name, metrics in self.metrics.items():
            if scorer not in (None, name) or metric not in metrics:
                continue
            value = metrics[metric]
            lower = metrics.get(f"{metric}_ci_lower")
            upper = metrics.get(f"{metric}_ci_upper")
            numbers = [x for x in (value, lower, upper) if x is not None]
            if not all(isinstance(x, int | float) and math.isfinite(x) for x in numbers):
                return f"{self.provenance.path}: metric {metric!r} is not a finite number"
            if lower is not None and upper is not None:
                if not lower <= value <= upper:
                    return f"{self.provenance.path}: metric {metric!r} lies outside its own CI"
                return Estimate(
                    value=value, lower=lower, upper=upper, n=len(self.samples), method="reported"
                )
            return Estimate(
                value=value, lower=value, upper=value, n=len(self.samples), method="none"
            )
        return f"{self.provenance.path}: log has no metric {metric!r}"


def _read_log(path: Path) -> Any:
    """Read an Inspect log whatever its file is called: the format is sniffed from its bytes."""
    from inspect_ai.log import read_eval_log

    with path.open("rb") as f:
        head = f.read(64).lstrip()
    if head.startswith(b"PK\x03\x04"):
        suffix = ".eval"
    elif head.startswith(b"{"):
        suffix = ".json"
    else:
        raise RedlineError(f"{path}: not a readable Inspect log: neither a .eval archive nor JSON")
    try:
        if path.suffix == suffix:
            return read_eval_log(str(path))
        with tempfile.TemporaryDirectory() as tmp:  # Inspect picks the reader by file name
            alias = Path(tmp) / f"log{suffix}"
            alias.symlink_to(path.resolve())
            return read_eval_log(str(alias))
    except Exception as ex:  # Inspect raises many kinds for a broken file
        raise RedlineError(f"{path}: not a readable Inspect log: {_first_line(ex)}") from ex


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
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


class Evidence:
    """Every Inspect log and the manual evidence given to one decision."""

    def __init__(
        self,
        logs: Sequence[_Log],
        manual: ManualEvidence,
        manual_path: Path | None = None,
        located: Located[ManualEvidence] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.logs = list(logs)
        self.manual = manual
        self.located = located
        self.notes = notes or []
        """Files and logs left out of the decision, one line each."""
        self.manual_provenance = ExternalProvenance(
            path=str(manual_path) if manual_path else "(manual evidence given in memory)",
            sha256=sha256_file(manual_path)
            if manual_path
            else hashlib.sha256(manual.model_dump_json().encode()).hexdigest(),
            source="",
        )
        self.manual_path = manual_path

    @classmethod
    def load(
        cls,
        paths: Sequence[str | Path],
        manual: str | Path | None = None,
        models: Sequence[str] | None = None,
    ) -> "Evidence":
        """Read logs (files, or directories searched for logs) and a manual evidence file.

        Every log must be of one model, unless `models` names the model (all the names it runs
        under); logs of other models are then left out and noted.
        """
        logs: list[_Log] = []
        notes: list[str] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                found, skipped = _logs_in(path)
                if not found:
                    detail = f" ({len(skipped)} files are not logs)" if skipped else ""
                    raise RedlineError(f"{path}: no Inspect logs in this directory{detail}")
                logs += found
                notes += skipped
            elif path.is_file():
                logs.append(_Log(path))
            else:
                raise RedlineError(f"{path}: no such log file or directory")
        logs, left_out = _one_model(logs, models)
        notes += left_out
        manual_path = Path(manual) if manual else None
        located = load_yaml_located(manual_path, ManualEvidence) if manual_path else None
        return cls(
            logs,
            located.value if located else ManualEvidence(),
            manual_path,
            located,
            notes,
        )

    def error(self, loc: Loc, message: str) -> RedlineError:
        """A one-line error about a field of the evidence file."""
        if self.located is not None:
            return self.located.error(loc, message)
        return RedlineError(f"{self.manual_provenance.path}: {'.'.join(map(str, loc))}: {message}")

    def line(self, loc: Loc) -> int | None:
        """The evidence file's line of a field (None for evidence given in memory)."""
        return self.located.line(loc) if self.located is not None else None

    def check(self, policy: Policy, today: dt.date, citations: bool = True) -> None:
        """Reject evidence that does not fit the policy, naming the field's line.

        Unknown ids, values outside their scale, future dates, determinations of unknown
        thresholds or citing unknown evidence, and signatures that do not match. With
        `citations` False (the logs are not written yet), what determinations cite is not checked.
        """
        scales: dict[str, set[str]] = defaultdict(set)
        from_logs: dict[str, str] = {}
        measured_items = [sg for sg in policy.all_safeguards() if isinstance(sg, MeasuredSafeguard)]
        items: list[Indicator | MeasuredSafeguard] = [*policy.indicators(), *measured_items]
        for item in items:
            if item.external:
                scales[item.id].add(item.scale)
            else:
                from_logs[item.id] = str(item.task)
        for i, r in enumerate(self.manual.results):
            if r.id not in scales:
                if r.id in from_logs:
                    raise self.error(
                        ("results", i, "id"),
                        f"{r.id!r} takes its evidence from logs of task {from_logs[r.id]}, "
                        "not from the evidence file",
                    )
                raise self.error(("results", i, "id"), _unknown(r.id, scales, "result ids"))
            bounds: list[tuple[Loc, float]] = [(("value",), r.value)]
            if r.ci is not None:
                bounds += [(("ci", 0), r.ci[0]), (("ci", 1), r.ci[1])]
            for scale in sorted(scales[r.id]):
                for loc, number in bounds:
                    problem = outside_scale(scale, number)
                    if problem:
                        raise self.error(("results", i, *loc), f"{problem} ({r.id} is a {scale})")
            if r.date is not None:
                self._not_future(("results", i, "date"), r.date, today)
        attested = {sg.id for sg in policy.all_safeguards() if sg.kind == "attestation"}
        measured = {sg.id for sg in policy.all_safeguards() if sg.kind == "measured"}
        thresholds = {t.id for t in policy.thresholds}
        for i, a in enumerate(self.manual.attestations):
            at: Loc = ("attestations", i)
            if a.safeguard in thresholds:
                raise self.error(
                    (*at, "safeguard"),
                    f"{a.safeguard!r} is a threshold, not a safeguard: a ruling on a threshold "
                    "is a determination (`determinations:`)",
                )
            if a.safeguard in measured:
                raise self.error(
                    (*at, "safeguard"),
                    f"{a.safeguard!r} is a measured safeguard: give its result, not an attestation",
                )
            if a.safeguard not in attested:
                raise self.error(
                    (*at, "safeguard"), _unknown(a.safeguard, attested, "attested safeguards")
                )
            self._not_future((*at, "date"), a.date, today)
        cited = {r.id for r in self.manual.results}
        for log in self.logs:
            cited |= log.names()
        seen: dict[str, int] = {}
        for i, d in enumerate(self.manual.determinations):
            at = ("determinations", i)
            if d.threshold not in thresholds:
                raise self.error(
                    (*at, "threshold"), _unknown(d.threshold, thresholds, "thresholds")
                )
            if d.threshold in seen:
                first = self.line(("determinations", seen[d.threshold]))
                raise self.error(
                    (*at, "threshold"),
                    f"a second determination of {d.threshold} (the first is on line {first}); "
                    "keep one",
                )
            seen[d.threshold] = i
            self._not_future((*at, "date"), d.date, today)
            if d.ruling == "below" and not d.evidence:
                raise self.error(
                    (*at, "evidence"),
                    "a ruling below a threshold must cite the results or logs it rests on",
                )
            for j, ref in enumerate(d.evidence):
                if citations and ref not in cited:
                    raise self.error(
                        (*at, "evidence", j),
                        _unknown(ref, cited, "results in this file and logs given"),
                    )
            if d.signature is not None and not signature_matches(d.signed_part(), d.signature):
                raise self.error(
                    (*at, "signature"),
                    "does not match the determination (edited after signing, or not this key's)",
                )

    def _not_future(self, loc: Loc, date: dt.date, today: dt.date) -> None:
        if date > today:
            raise self.error(loc, f"{date} is in the future (today is {today})")

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
                n=r.n,
                method="external" if r.ci else "none",
            )
            provenance = self.manual_provenance.model_copy(
                update={"source": r.source, "link": r.link, "date": r.date}
            )
            out.append(Measurement(metric=id, estimate=estimate, provenance=provenance))
        return out

    def attestations(self, safeguard: str) -> list[Attestation]:
        """Attestations for a safeguard, newest first."""
        found = [a for a in self.manual.attestations if a.safeguard == safeguard]
        return sorted(found, key=lambda a: a.date, reverse=True)


def sign_determination(path: Path, threshold: str, key_dir: Path | None = None) -> Signature:
    """A signature by the local key of the determination of `threshold` in an evidence file."""
    located = load_yaml_located(path, ManualEvidence)
    ids = [d.threshold for d in located.value.determinations]
    if threshold not in ids:
        raise RedlineError(f"{path}: {_unknown(threshold, ids, 'determinations of')}")
    found = located.value.determinations[ids.index(threshold)]
    return sign(found.signed_part(), key_dir)


def _unknown(name: str, known: Any, what: str) -> str:
    """'unknown id X (did you mean Y?); WHAT: a, b, c'."""
    ids = sorted(known)
    close = difflib.get_close_matches(name, ids, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown id {name!r}{hint}; {what}: {', '.join(ids) or 'none'}"


def _logs_in(folder: Path) -> tuple[list[_Log], list[str]]:
    """Every Inspect log under a directory, found by content, and a note for each other file.

    Hidden files and Inspect's own index files are passed over without a note.
    """
    logs: list[_Log] = []
    skipped: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).parts
        if any(part.startswith(".") for part in relative) or path.name in INSPECT_INDEX_FILES:
            continue
        try:
            logs.append(_Log(path))
        except RedlineError as ex:
            skipped.append(f"{ex}: left out")
    return logs, skipped


def _one_model(logs: list[_Log], models: Sequence[str] | None) -> tuple[list[_Log], list[str]]:
    """The logs of the model decided on; a mix of models is an error unless it is named."""
    counts = Counter(log.provenance.model for log in logs)
    if models is None:
        if len(counts) > 1:
            found = "; ".join(f"{m} ({n} logs)" for m, n in sorted(counts.items()))
            raise RedlineError(
                f"the logs are of {len(counts)} models ({found}): a decision is about one model; "
                "name it with --model (repeat it for names the same model runs under, e.g. "
                "behind a guard)"
            )
        return logs, []
    kept = [log for log in logs if log.provenance.model in models]
    notes = [
        f"{log.provenance.path}: a log of {log.provenance.model}, not of "
        f"{' / '.join(models)}: left out"
        for log in logs
        if log.provenance.model not in models
    ]
    return kept, notes


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

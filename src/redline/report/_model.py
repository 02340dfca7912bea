"""The report's JSON twin: everything the HTML shows, as one pydantic model (docs/report.md)."""

import datetime as dt
from typing import Literal

from redline import __version__
from redline._records import Record
from redline._signing import Signature
from redline.policy import ComputeReport, Decision, Measurement

REPORT_SCHEMA_VERSION = 1

StepStatus = Literal["ran", "reused", "skipped", "failed"]
Target = Literal["model", "bare", "guarded"]
LogRole = Literal["capability", "guarded", "bare"]


class ModelRef(Record):
    """The assessed model and its place in a lineage (for `redline track`)."""

    name: str
    """Inspect model name, e.g. `redline/smollm2`."""
    family: str
    """Lineage the checkpoints belong to; defaults to the model name."""
    checkpoint: str
    effective_compute: float | None = None
    """Effective training compute in FLOP, when known."""
    date: dt.date
    """Date of the checkpoint (default: the day of the assessment)."""


class StepRecord(Record):
    """One evaluation the assessment planned: what ran, on which target, and its log."""

    name: str
    task: str
    target: Target
    status: StepStatus
    reason: str = ""
    """Why a step was skipped or failed."""
    limit: int | None = None
    """Samples per evaluation (None: the whole dataset)."""
    log: str | None = None
    """The step's log, relative to the report's folder."""


class AttackResult(Record):
    """Attack success rate of one attack on one target, with its 95% Wilson interval."""

    n: int
    successes: int
    unscoreable: int
    asr: float
    lower: float
    upper: float


class AttackComparison(Record):
    """One attack against the bare model and against the model behind the guard."""

    attack: str
    bare: AttackResult | None = None
    guarded: AttackResult | None = None


class BonPoint(Record):
    """Attack success rate after N Best-of-N samples (observed or forecast)."""

    n: int
    asr: float
    lower: float | None = None
    upper: float | None = None


class BestOfN(Record):
    """The Best-of-N curve of the guarded model and its forecast to larger N."""

    observed: list[BonPoint]
    forecast: list[BonPoint] = []
    method: str = ""
    """How the forecast was made (e.g. a power law in N)."""


class MonitorResult(Record):
    """The action monitor on labelled agent actions (`redline/action_monitor`)."""

    offensive_stopped: Measurement | None = None
    benign_stopped: Measurement | None = None
    """False blocks: benign actions the monitor stopped."""
    neutral_stopped: Measurement | None = None
    offensive_min: float | None = None
    """The policy's bound on offensive actions stopped (95% lower bound at or above)."""
    benign_max: float | None = None
    """The policy's bound on benign actions stopped (95% upper bound at or below)."""
    stopped_by_rule: dict[str, int] = {}
    """How many actions each rule (or the classifier) stopped."""
    offensive_missed: list[str] = []
    """The offensive actions the monitor let through (sample ids)."""


class SafeguardsSection(Record):
    """What the red-team campaign and the over-refusal check measured, bare and guarded."""

    measured: bool
    reason: str = ""
    """Why the campaign did not run, when it did not."""
    attacks: list[AttackComparison] = []
    asr_bare: Measurement | None = None
    asr_guarded: Measurement | None = None
    blocked_input: float | None = None
    """Share of the guarded campaign's samples the guard blocked at the input stage."""
    blocked_output: float | None = None
    """Share blocked at the output stage."""
    best_of_n: BestOfN | None = None
    over_refusal_bare: Measurement | None = None
    over_refusal_guarded: Measurement | None = None
    asr_max: float | None = None
    """The policy's bound on the guarded attack success rate (95% upper bound at or below)."""
    over_refusal_max: float | None = None
    """The policy's bound on the guarded over-refusal rate."""
    monitor: MonitorResult | None = None
    """The action monitor, when the assessment measured it."""


class LogRecord(Record):
    """An Inspect log the report cites, with the hash `redline verify` checks."""

    role: LogRole
    path: str
    """Relative to the report's folder (absolute if the log lives elsewhere)."""
    sha256: str
    task: str
    model: str
    created: str
    status: str


class FileRecord(Record):
    """A file that shaped the assessment (policy, evidence, guard manifest), with its hash."""

    name: str
    path: str
    sha256: str


class Provenance(Record):
    """Where every number came from: logs, files, versions, seeds, times."""

    started: str
    finished: str
    seconds: float
    redline_version: str = __version__
    inspect_ai_version: str
    python: str
    platform: str
    seed: int
    command: list[str]
    logs: list[LogRecord]
    files: list[FileRecord] = []


class Report(Record):
    """A signed assessment: decision, capability and safeguards evidence, provenance."""

    schema_version: int = REPORT_SCHEMA_VERSION
    kind: Literal["redline-assessment"] = "redline-assessment"
    id: str
    created: str
    model: ModelRef
    policy: str
    constitution: str
    profile: str
    comprehensive: bool
    """A full-profile assessment (counts for the re-assessment triggers)."""
    decision: Decision
    """The policy's decision (schema: docs/decision-schema.md)."""
    steps: list[StepRecord]
    notes: list[str] = []
    """Plain-language caveats (small samples, skipped suites)."""
    safeguards: SafeguardsSection
    compute: ComputeReport | None = None
    provenance: Provenance
    signature: Signature | None = None

"""The decision: which thresholds are ruled out, which level is required, whether it may ship.

Fail closed throughout: a threshold that cannot be ruled out counts as crossed, and a
safeguard without evidence is not met.
"""

from datetime import UTC, date, datetime
from typing import Literal

from redline import __version__
from redline._records import Record
from redline.policy._evidence import Attestation, Evidence, LogProvenance, Measurement
from redline.policy._schema import (
    AttestedSafeguard,
    Indicator,
    MeasuredSafeguard,
    Number,
    Policy,
    Threshold,
)
from redline.policy._triggers import Trigger, reassessment_due

DECISION_SCHEMA_VERSION = 1

IndicatorStatus = Literal["ruled_out", "alert", "not_ruled_out", "crossed", "no_evidence"]
SafeguardStatus = Literal["met", "unmet", "no_evidence"]
Outcome = Literal["deploy", "do_not_deploy"]

# Riskiest first: a threshold takes the riskiest status among its indicators.
_RISK_ORDER: list[IndicatorStatus] = [
    "crossed",
    "not_ruled_out",
    "no_evidence",
    "alert",
    "ruled_out",
]
_FAIL_CLOSED = {"crossed", "not_ruled_out", "no_evidence"}


class IndicatorResult(Record):
    """One indicator judged against its lines."""

    id: str
    task: str | None
    metric: str
    required: bool
    status: IndicatorStatus
    reason: str
    measurement: Measurement | None = None
    """The run the rule uses: the maximum over every run of this indicator."""
    runs: list[Measurement] = []
    rule_out_below: Number | None = None
    rule_in_at: Number | None = None
    alert_at: Number | None = None


class ThresholdResult(Record):
    """A capability threshold judged from its indicators."""

    id: str
    domain: str
    definition: str
    status: IndicatorStatus
    demands: bool
    """True when the threshold is not ruled out, so its level is required."""
    requires_deployment: str | None
    requires_security: str | None
    indicators: list[IndicatorResult]


class SafeguardResult(Record):
    """A required safeguard and whether the evidence shows it in place."""

    id: str
    level: str
    standard: str
    kind: str
    description: str
    status: SafeguardStatus
    reason: str
    measurement: Measurement | None = None
    attestation: Attestation | None = None


class Reason(Record):
    """One reason behind the outcome, pointing at its evidence."""

    message: str
    refs: list[str] = []


class PolicyRef(Record):
    """Which policy decided."""

    id: str
    name: str


class Decision(Record):
    """A release decision with all of its evidence (schema: docs/decision-schema.md)."""

    schema_version: int = DECISION_SCHEMA_VERSION
    redline_version: str = __version__
    created: str
    policy: PolicyRef
    models: list[str]
    outcome: Outcome
    required_deployment: str
    required_security: str
    thresholds: list[ThresholdResult]
    safeguards: list[SafeguardResult]
    reasons: list[Reason]
    assessment: Trigger
    logs: list[LogProvenance]
    problems: list[str]
    """Evidence that could not be used (missing metrics, unreadable values), one line each."""


def fmt(x: float) -> str:
    """A number for a reason line."""
    return f"{x:.3g}"


def describe(m: Measurement) -> str:
    """An estimate with its interval, sample count and interval method."""
    e = m.estimate
    return f"{fmt(e.value)} [{fmt(e.lower)}, {fmt(e.upper)}] (n={e.n}, {e.method})"


def gather(
    item: Indicator | MeasuredSafeguard, evidence: Evidence, problems: list[str]
) -> list[Measurement]:
    """Every run of an indicator or measured safeguard: from logs of its task, or external."""
    if item.external:
        return evidence.external(item.id)
    assert item.task is not None  # the schema requires task or external
    runs, missing = evidence.measure(item.task, item.metric, item.scorer)
    problems.extend(missing)
    return runs


def missing_reason(item: Indicator | MeasuredSafeguard) -> str:
    """Why an indicator or measured safeguard has no runs."""
    if item.external:
        return f"no result with id {item.id!r} in the evidence file"
    return f"no {item.metric} in logs of task {item.task}"


def too_few(item: Indicator | MeasuredSafeguard, m: Measurement) -> bool:
    """A log-based run with fewer samples than the policy asks for."""
    return m.provenance.kind == "log" and m.estimate.n < item.min_samples


def judge_run(ind: Indicator, m: Measurement) -> tuple[IndicatorStatus, str]:
    """Status of one run of an indicator against its lines, with the reason."""
    e, ci = m.estimate, describe(m)
    if too_few(ind, m):
        return "no_evidence", f"{ci}: only {e.n} samples, the policy needs {ind.min_samples}"
    if ind.rule_in_at is not None and e.lower >= ind.rule_in_at.value:
        return "crossed", f"{ci}: lower bound reaches the rule-in line {fmt(ind.rule_in_at.value)}"
    if ind.rule_out_below is not None:
        if e.upper >= ind.rule_out_below.value:
            line = fmt(ind.rule_out_below.value)
            return "not_ruled_out", f"{ci}: upper bound is not below the rule-out line {line}"
    elif ind.rule_in_at is not None and e.upper >= ind.rule_in_at.value:
        line = fmt(ind.rule_in_at.value)
        return "not_ruled_out", f"{ci}: upper bound reaches the rule-in line {line}"
    if ind.alert_at is not None and e.upper >= ind.alert_at.value:
        return "alert", f"{ci}: upper bound has reached the alert line {fmt(ind.alert_at.value)}"
    return "ruled_out", f"{ci}: below every line"


def judge_indicator(ind: Indicator, evidence: Evidence, problems: list[str]) -> IndicatorResult:
    """Judge an indicator on every run of it; the riskiest run decides (the maximum rule)."""
    runs = gather(ind, evidence, problems)
    status: IndicatorStatus = "no_evidence"
    chosen: Measurement | None = None
    if not runs:
        reason = missing_reason(ind)
    else:
        judged = [(judge_run(ind, m), m) for m in runs]
        (status, reason), chosen = min(
            judged, key=lambda j: (_RISK_ORDER.index(j[0][0]), -j[1].estimate.value)
        )
        if len(runs) > 1:
            reason = f"{reason}; riskiest of {len(runs)} runs"
    return IndicatorResult(
        id=ind.id,
        task=ind.task,
        metric=ind.metric,
        required=ind.required,
        status=status,
        reason=reason,
        measurement=chosen,
        runs=runs,
        rule_out_below=ind.rule_out_below,
        rule_in_at=ind.rule_in_at,
        alert_at=ind.alert_at,
    )


def judge_threshold(t: Threshold, evidence: Evidence, problems: list[str]) -> ThresholdResult:
    """A threshold is ruled out only if every required indicator rules it out."""
    results = [judge_indicator(ind, evidence, problems) for ind in t.indicators]
    counted = [r.status for r in results if r.required or r.status != "no_evidence"]
    if all(r.status == "no_evidence" for r in results):
        counted.append("no_evidence")
    status = min(counted, key=_RISK_ORDER.index)
    return ThresholdResult(
        id=t.id,
        domain=t.domain,
        definition=t.definition,
        status=status,
        demands=status in _FAIL_CLOSED,
        requires_deployment=t.requires.deployment,
        requires_security=t.requires.security,
        indicators=results,
    )


def judge_measured(sg: MeasuredSafeguard, m: Measurement) -> tuple[SafeguardStatus, str]:
    """Status of one run of a measured safeguard against its bound."""
    e, ci = m.estimate, describe(m)
    if too_few(sg, m):
        return "no_evidence", f"{ci}: only {e.n} samples, the policy needs {sg.min_samples}"
    if sg.max is not None:
        ok = e.upper <= sg.max.value
        return (
            "met" if ok else "unmet"
        ), f"{ci}: upper bound {'≤' if ok else '>'} {fmt(sg.max.value)}"
    assert sg.min is not None  # the schema requires max or min
    ok = e.lower >= sg.min.value
    return ("met" if ok else "unmet"), f"{ci}: lower bound {'≥' if ok else '<'} {fmt(sg.min.value)}"


def judge_safeguard(
    sg: MeasuredSafeguard | AttestedSafeguard,
    level: str,
    evidence: Evidence,
    problems: list[str],
    today: date,
) -> SafeguardResult:
    """Whether one safeguard is shown to be in place."""
    status: SafeguardStatus = "no_evidence"
    measurement: Measurement | None = None
    attestation: Attestation | None = None
    if isinstance(sg, AttestedSafeguard):
        found = evidence.attestations(sg.id)
        reason = "no attestation"
        if found:
            attestation = found[0]
            age = (today - attestation.date).days
            reason = f"attested {attestation.date} by {attestation.by}"
            if sg.max_age_days is not None and age > sg.max_age_days:
                status, reason = "unmet", f"{reason}: {age} days old, over {sg.max_age_days}"
            else:
                status = "met"
    else:
        runs = gather(sg, evidence, problems)
        reason = missing_reason(sg)
        if runs:
            order: list[SafeguardStatus] = ["unmet", "no_evidence", "met"]
            judged = [(judge_measured(sg, m), m) for m in runs]
            (status, reason), measurement = min(judged, key=lambda j: order.index(j[0][0]))
    return SafeguardResult(
        id=sg.id,
        level=level,
        standard=sg.standard,
        kind=sg.kind,
        description=sg.description,
        status=status,
        reason=reason,
        measurement=measurement,
        attestation=attestation,
    )


def _max_level(policy: Policy, levels: list[str | None]) -> str:
    present = [lv for lv in levels if lv is not None] + [policy.baseline]
    return max(present, key=policy.rank)


def check_triggers(policy: Policy, evidence: Evidence, today: date) -> Trigger:
    """Whether a comprehensive assessment is due under the policy's triggers."""
    history = evidence.manual.history
    return reassessment_due(
        policy.triggers,
        last_date=history.last_comprehensive_date,
        last_compute=history.last_comprehensive_effective_compute,
        compute=history.effective_compute,
        today=today,
    )


def decide(policy: Policy, evidence: Evidence, today: date | None = None) -> Decision:
    """Judge every threshold, derive the required level, check its safeguards, rule."""
    today = today or datetime.now(UTC).date()
    problems: list[str] = []
    thresholds = [judge_threshold(t, evidence, problems) for t in policy.thresholds]
    demanding = [t for t in thresholds if t.demands]
    required_deployment = _max_level(policy, [t.requires_deployment for t in demanding])
    required_security = _max_level(policy, [t.requires_security for t in demanding])
    reasons = [
        Reason(
            message=f"threshold {t.id} is {t.status.replace('_', ' ')}: requires "
            + ", ".join(
                f"{std} {lv}"
                for std, lv in (
                    ("deployment", t.requires_deployment),
                    ("security", t.requires_security),
                )
                if lv
            ),
            refs=[r.measurement.provenance.path for r in t.indicators if r.measurement],
        )
        for t in demanding
    ]
    reasons += [
        Reason(
            message=f"threshold {t.id} is ruled out but past its alert line: "
            + "; ".join(r.reason for r in t.indicators if r.status == "alert"),
            refs=[
                r.measurement.provenance.path
                for r in t.indicators
                if r.status == "alert" and r.measurement
            ],
        )
        for t in thresholds
        if t.status == "alert"
    ]

    safeguards: list[SafeguardResult] = []
    for std, required in (("deployment", required_deployment), ("security", required_security)):
        for level in policy.levels[: policy.rank(required) + 1]:
            wanted = [sg for sg in policy.safeguards.get(level.id, []) if sg.standard == std]
            safeguards += [
                judge_safeguard(sg, level.id, evidence, problems, today) for sg in wanted
            ]
        if required != policy.baseline and not any(
            s.level == required and s.standard == std for s in safeguards
        ):
            safeguards.append(
                SafeguardResult(
                    id=f"{required}-{std}-standard",
                    level=required,
                    standard=std,
                    kind="attestation",
                    description=f"the {required} {std} standard",
                    status="no_evidence",
                    reason=f"the policy specifies no {std} safeguards for {required}, "
                    "so they cannot be shown to be met",
                )
            )
    for s in safeguards:
        if s.status != "met":
            refs = [s.measurement.provenance.path] if s.measurement else []
            if s.attestation:
                refs.append(s.attestation.link)
            reasons.append(
                Reason(
                    message=f"{s.level} {s.standard} safeguard {s.id} is "
                    f"{s.status.replace('_', ' ')}: {s.reason}",
                    refs=refs,
                )
            )
    outcome: Outcome = "deploy" if all(s.status == "met" for s in safeguards) else "do_not_deploy"
    if outcome == "deploy":
        reasons.insert(
            0,
            Reason(
                message=f"every safeguard required at deployment {required_deployment} and "
                f"security {required_security} is met"
            ),
        )
    return Decision(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        policy=PolicyRef(id=policy.id, name=policy.name),
        models=sorted({log.provenance.model for log in evidence.logs}),
        outcome=outcome,
        required_deployment=required_deployment,
        required_security=required_security,
        thresholds=thresholds,
        safeguards=safeguards,
        reasons=reasons,
        assessment=check_triggers(policy, evidence, today),
        logs=[log.provenance for log in evidence.logs],
        problems=problems,
    )

"""The decision: which thresholds are ruled out, which level is required, whether it may ship.

Fail closed throughout: a threshold that cannot be ruled out demands its level, and a safeguard
without evidence is not met. Screens rule out but never in; determinative evidence decides when
the screens do not rule out; a recorded determination may settle what the evidence leaves open,
and overrides evidence of a crossed threshold only when it says so.
"""

import datetime as dt
from typing import Literal

from redline import __version__
from redline._records import Record
from redline._signing import Signature, TrustStore
from redline.policy._evidence import (
    Attestation,
    Determination,
    Evidence,
    LogProvenance,
    Measurement,
    Ruling,
    placeholder,
)
from redline.policy._library import PolicyRef, policy_ref
from redline.policy._schema import (
    AttestedSafeguard,
    Indicator,
    MeasuredSafeguard,
    Number,
    Policy,
    Role,
    Threshold,
)
from redline.policy._triggers import Trigger, reassessment_due

DECISION_SCHEMA_VERSION = 2

IndicatorStatus = Literal[
    "ruled_out", "alert", "below_alert", "not_ruled_out", "crossed", "no_evidence"
]
SafeguardStatus = Literal["met", "unmet", "no_evidence"]
Outcome = Literal["deploy", "do_not_deploy"]
SettledBy = Literal["evidence", "determination", "override"]

# Riskiest first: a threshold takes the riskiest status among the indicators that count.
_RISK_ORDER: list[IndicatorStatus] = [
    "crossed",
    "not_ruled_out",
    "no_evidence",
    "alert",
    "ruled_out",
    "below_alert",
]
_FAIL_CLOSED = {"crossed", "not_ruled_out", "no_evidence"}
_RULES_OUT = {"ruled_out", "alert"}


class IndicatorResult(Record):
    """One indicator judged against its lines."""

    id: str
    task: str | None
    metric: str
    role: Role
    required: bool
    status: IndicatorStatus
    reason: str
    point_estimate: bool = False
    """The run the rule used is a value without a confidence interval."""
    measurement: Measurement | None = None
    """The run the rule uses: the maximum over every run of this indicator."""
    runs: list[Measurement] = []
    rule_out_below: Number | None = None
    rule_in_at: Number | None = None
    alert_at: Number | None = None


class AppliedDetermination(Record):
    """A determination from the evidence file, whether it settled its threshold, and from where."""

    threshold: str
    ruling: Ruling
    decided_by: str
    role: str
    date: dt.date
    rationale: str
    evidence: list[str]
    override: bool
    applied: bool
    """False when the determination could not settle the threshold (see `note`)."""
    summary: str
    """'LEVEL by determination of ROLE on DATE: RATIONALE'."""
    note: str = ""
    """Why it was not applied, or that it overrides evidence of a crossed threshold."""
    file: str
    line: int | None = None
    sha256: str
    """SHA-256 of the evidence file that holds the determination."""
    signed_by: str | None = None
    """Key id of the determination's signature, if signed."""
    signer_trusted: bool | None = None
    """Whether that key is in the trust store (None when unsigned)."""


class ThresholdResult(Record):
    """A capability threshold judged from its indicators, and perhaps settled by determination."""

    id: str
    domain: str
    definition: str
    status: IndicatorStatus
    """What the evidence shows."""
    basis: str
    """How the evidence reached `status` (screens, determinative evidence, nothing)."""
    demands: bool
    """True when the threshold's level is required: evidence does not rule it out, or a
    determination rules it at or above."""
    settled_by: SettledBy = "evidence"
    determination: AppliedDetermination | None = None
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


class EvidenceFile(Record):
    """The manual evidence file a decision read."""

    path: str
    sha256: str


class Decision(Record):
    """A release decision with all of its evidence (schema: docs/decision-schema.md)."""

    schema_version: int = DECISION_SCHEMA_VERSION
    kind: Literal["redline-decision"] = "redline-decision"
    redline_version: str = __version__
    created: str
    policy: PolicyRef
    models: list[str]
    """The model names of the logs the decision used."""
    outcome: Outcome
    required_deployment: str
    required_security: str
    thresholds: list[ThresholdResult]
    safeguards: list[SafeguardResult]
    determinations: list[AppliedDetermination] = []
    reasons: list[Reason]
    assessment: Trigger
    logs: list[LogProvenance]
    evidence: EvidenceFile | None = None
    problems: list[str]
    """Evidence that could not be used (missing metrics, files that are not logs), one line each."""
    signature: Signature | None = None
    """Ed25519 signature over the canonical JSON of the decision without this block
    (`redline decide --sign`)."""


def fmt(x: float) -> str:
    """A number for a reason line."""
    return f"{x:.3g}"


def describe(m: Measurement) -> str:
    """An estimate with its interval (or that it is a point estimate) and sample count."""
    e = m.estimate
    n = f"n={e.n}" if e.n is not None else "n unknown"
    if e.point:
        return f"{fmt(e.value)} (point estimate, no CI; {n})"
    return f"{fmt(e.value)} [{fmt(e.lower)}, {fmt(e.upper)}] ({n}, {e.method})"


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


def too_few(item: Indicator | MeasuredSafeguard, m: Measurement) -> str | None:
    """Why a run has too few samples to count, or None."""
    n = m.estimate.n
    if n is None:
        need = item.min_samples
        return None if need <= 1 else f"sample count unknown, the policy needs {need}"
    if n < item.min_samples:
        return f"only {n} samples, the policy needs {item.min_samples}"
    return None


def judge_run(ind: Indicator, m: Measurement) -> tuple[IndicatorStatus, str]:
    """Status of one run of an indicator against its lines, with the reason."""
    e, ci = m.estimate, describe(m)
    short = too_few(ind, m)
    if short:
        return "no_evidence", f"{ci}: {short}"
    if ind.role == "monitor":
        assert ind.alert_at is not None  # the schema requires it of a monitor
        if e.upper >= ind.alert_at.value:
            return "alert", f"{ci}: has reached the alert line {fmt(ind.alert_at.value)}"
        return "below_alert", f"{ci}: below the alert line {fmt(ind.alert_at.value)}"
    if ind.rule_in_at is not None and e.lower >= ind.rule_in_at.value:
        line = fmt(ind.rule_in_at.value)
        if e.point:
            return "crossed", f"{ci}: crossed (point estimate): at or past the rule-in line {line}"
        return "crossed", f"{ci}: lower bound is at or past the rule-in line {line}"
    if ind.rule_out_below is not None:
        line = fmt(ind.rule_out_below.value)
        if e.upper >= ind.rule_out_below.value:
            return "not_ruled_out", f"{ci}: upper bound is not below the rule-out line {line}"
    elif ind.rule_in_at is not None and e.upper >= ind.rule_in_at.value:
        line = fmt(ind.rule_in_at.value)
        return "not_ruled_out", f"{ci}: upper bound reaches the rule-in line {line}"
    if e.point and not ind.point_evidence:
        return "not_ruled_out", (
            f"{ci}: a point estimate cannot rule the threshold out (the indicator does not "
            "accept point evidence; give a CI)"
        )
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
        role=ind.role,
        required=ind.required,
        status=status,
        reason=reason,
        point_estimate=chosen is not None and chosen.estimate.point,
        measurement=chosen,
        runs=runs,
        rule_out_below=ind.rule_out_below,
        rule_in_at=ind.rule_in_at,
        alert_at=ind.alert_at,
    )


def _riskiest(statuses: list[IndicatorStatus]) -> IndicatorStatus:
    return min(statuses, key=_RISK_ORDER.index) if statuses else "no_evidence"


def threshold_status(results: list[IndicatorResult]) -> tuple[IndicatorStatus, str]:
    """A threshold's status from its indicators, and how it was reached.

    Any determinative indicator that crosses its rule-in line crosses the threshold. Otherwise
    the threshold is ruled out when every screen that counts (required, or with evidence) rules
    it out and no determinative evidence disagrees. When the screens do not rule it out,
    determinative evidence decides (with every required determinative indicator), but only an
    indicator with a rule-out line can rule out; without such evidence the screens' verdict
    stands. Monitors only turn a ruled-out threshold into an alert.
    """
    screens = [r for r in results if r.role == "screen" and (r.required or r.measurement)]
    determinative = [r for r in results if r.role == "determinative"]
    measured = [r for r in determinative if r.status != "no_evidence"]
    missing = [r for r in determinative if r.required and r.status == "no_evidence"]
    alerts = [r for r in results if r.role == "monitor" and r.status == "alert"]
    crossed = [r.id for r in measured if r.status == "crossed"]
    if crossed:
        return "crossed", f"{', '.join(crossed)} crossed the rule-in line"
    if screens and all(s.status in _RULES_OUT for s in screens):
        status = _riskiest([*(s.status for s in screens), *(r.status for r in measured)])
        if status in _RULES_OUT:
            status = _riskiest([status, *(r.status for r in alerts)])
            return status, "ruled out by the screens" + (
                " and the determinative evidence" if measured else ""
            )
        against = ", ".join(r.id for r in measured if r.status not in _RULES_OUT)
        return status, f"the screens rule it out, but determinative evidence does not ({against})"
    deciders = [r for r in measured if r.rule_out_below is not None or r.status in _FAIL_CLOSED]
    if deciders:
        status = _riskiest([r.status for r in [*deciders, *missing]])
        if status in _RULES_OUT:
            status = _riskiest([status, *(r.status for r in alerts)])
        screens_say = "the screens do not rule it out; " if screens else ""
        return status, f"{screens_say}determinative evidence decides"
    if screens:
        status = _riskiest([*(s.status for s in screens), *(r.status for r in missing)])
        measured_screens = any(s.status != "no_evidence" for s in screens)
        what = (
            "the screens do not rule it out" if measured_screens else "the screens have no evidence"
        )
        return status, f"{what} and there is no determinative evidence"
    return "no_evidence", "no indicator that can rule it out has evidence"


def _level_text(deployment: str | None, security: str | None) -> str:
    if deployment == security or security is None:
        return str(deployment)
    if deployment is None:
        return security
    return f"deployment {deployment}, security {security}"


def apply_determination(
    t: Threshold,
    status: IndicatorStatus,
    d: Determination,
    evidence: Evidence,
    index: int,
    policy: Policy,
) -> tuple[bool, SettledBy, AppliedDetermination]:
    """Whether the threshold demands its level once the determination is weighed, and how."""
    demands_by_evidence = status in _FAIL_CLOSED
    if d.ruling == "below":
        level = policy.baseline
    else:
        level = _level_text(t.requires.deployment, t.requires.security)
    summary = f"{level} by determination of {d.role} on {d.date}: {d.rationale}"
    note, applied = "", True
    settled: SettledBy = "evidence"
    demands = demands_by_evidence
    filler = placeholder(d.decided_by, d.role, d.rationale)
    if filler is not None:
        applied, note = False, f"not applied: {filler!r} is placeholder text, not a determination"
    elif d.ruling == "at_or_above":
        demands, settled = True, "determination"
    elif status == "crossed" and not d.override:
        applied = False
        note = (
            "not applied: the evidence shows the threshold crossed; "
            "ruling below it needs override: true"
        )
    elif status == "crossed":
        demands, settled = False, "override"
        note = "overrides evidence that the threshold is crossed"
        summary = (
            f"{level} by determination of {d.role} on {d.date}, overriding evidence that "
            f"{t.id} is crossed: {d.rationale}"
        )
    elif demands_by_evidence:
        demands, settled = False, "determination"
    signed_by = d.signature.key_id if d.signature else None
    trusted = None if signed_by is None else TrustStore.load().trusted(signed_by) is not None
    record = AppliedDetermination(
        threshold=d.threshold,
        ruling=d.ruling,
        decided_by=d.decided_by,
        role=d.role,
        date=d.date,
        rationale=d.rationale,
        evidence=d.evidence,
        override=d.override,
        applied=applied,
        summary=summary,
        note=note,
        file=evidence.manual_provenance.path,
        line=evidence.line(("determinations", index)),
        sha256=evidence.manual_provenance.sha256,
        signed_by=signed_by,
        signer_trusted=trusted,
    )
    return demands, settled, record


def judge_threshold(
    t: Threshold, evidence: Evidence, problems: list[str], policy: Policy
) -> ThresholdResult:
    """A threshold judged from its indicators, then weighed against any determination of it."""
    results = [judge_indicator(ind, evidence, problems) for ind in t.indicators]
    status, basis = threshold_status(results)
    demands = status in _FAIL_CLOSED
    settled: SettledBy = "evidence"
    record: AppliedDetermination | None = None
    found = [(i, d) for i, d in enumerate(evidence.manual.determinations) if d.threshold == t.id]
    if found:
        index, d = found[0]
        demands, settled, record = apply_determination(t, status, d, evidence, index, policy)
    return ThresholdResult(
        id=t.id,
        domain=t.domain,
        definition=t.definition,
        status=status,
        basis=basis,
        demands=demands,
        settled_by=settled,
        determination=record,
        requires_deployment=t.requires.deployment,
        requires_security=t.requires.security,
        indicators=results,
    )


def judge_measured(sg: MeasuredSafeguard, m: Measurement) -> tuple[SafeguardStatus, str]:
    """Status of one run of a measured safeguard against its bound."""
    e, ci = m.estimate, describe(m)
    short = too_few(sg, m)
    if short:
        return "no_evidence", f"{ci}: {short}"
    if e.point and not sg.point_evidence:
        return "unmet", f"{ci}: a point estimate cannot show the bound is met (give a CI)"
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
    today: dt.date,
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
            filler = placeholder(attestation.by, attestation.statement, attestation.link)
            if filler is not None:
                status = "unmet"
                reason = f"{reason}: {filler!r} is placeholder text, not an attestation"
            elif sg.max_age_days is not None and age > sg.max_age_days:
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


def check_triggers(policy: Policy, evidence: Evidence, today: dt.date) -> Trigger:
    """Whether a comprehensive assessment is due under the policy's triggers."""
    history = evidence.manual.history
    return reassessment_due(
        policy.triggers,
        last_date=history.last_comprehensive_date,
        last_compute=history.last_comprehensive_effective_compute,
        compute=history.effective_compute,
        today=today,
    )


def _phrase(status: str) -> str:
    """A status as words for a reason: 'is not ruled out', 'has no evidence'."""
    return "has no evidence" if status == "no_evidence" else f"is {status.replace('_', ' ')}"


def _threshold_reasons(thresholds: list[ThresholdResult]) -> list[Reason]:
    reasons = []
    for t in thresholds:
        refs = [r.measurement.provenance.path for r in t.indicators if r.measurement]
        d = t.determination
        status = _phrase(t.status)
        if d is not None and d.applied and t.settled_by != "evidence":
            where = f"{d.file}:{d.line}" if d.line else d.file
            reasons.append(
                Reason(
                    message=f"threshold {t.id} {status}"
                    + ("" if t.status == "no_evidence" else " on the evidence")
                    + f" ({t.basis}); {d.summary}",
                    refs=list(dict.fromkeys([where, *d.evidence])),
                )
            )
            continue
        if d is not None and not d.applied:
            reasons.append(
                Reason(message=f"determination of {t.id} by {d.role} {d.note}", refs=[d.file])
            )
        if t.demands:
            requires = ", ".join(
                f"{std} {lv}"
                for std, lv in (
                    ("deployment", t.requires_deployment),
                    ("security", t.requires_security),
                )
                if lv
            )
            reasons.append(
                Reason(
                    message=f"threshold {t.id} {status} ({t.basis}): requires {requires}",
                    refs=refs,
                )
            )
        elif t.status == "alert":
            alerts = [r for r in t.indicators if r.status == "alert"]
            reasons.append(
                Reason(
                    message=f"threshold {t.id} is ruled out but past its alert line: "
                    + "; ".join(r.reason for r in alerts),
                    refs=[r.measurement.provenance.path for r in alerts if r.measurement],
                )
            )
    return reasons


def decide(policy: Policy, evidence: Evidence, today: dt.date | None = None) -> Decision:
    """Judge every threshold, derive the required level, check its safeguards, rule."""
    today = today or dt.datetime.now(dt.UTC).date()
    evidence.check(policy, today)
    problems: list[str] = list(evidence.notes)
    thresholds = [judge_threshold(t, evidence, problems, policy) for t in policy.thresholds]
    demanding = [t for t in thresholds if t.demands]
    required_deployment = _max_level(policy, [t.requires_deployment for t in demanding])
    required_security = _max_level(policy, [t.requires_security for t in demanding])
    reasons = _threshold_reasons(thresholds)
    source = policy_ref(policy)
    if source.matches_shipped is False:
        reasons.append(Reason(message=source.describe(), refs=[source.path or ""]))

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
                    message=f"{s.level} {s.standard} safeguard {s.id} {_phrase(s.status)}: "
                    + s.reason,
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
    manual = evidence.manual_path
    return Decision(
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        policy=source,
        models=sorted({log.provenance.model for log in evidence.logs}),
        outcome=outcome,
        required_deployment=required_deployment,
        required_security=required_security,
        thresholds=thresholds,
        safeguards=safeguards,
        determinations=[t.determination for t in thresholds if t.determination is not None],
        reasons=reasons,
        assessment=check_triggers(policy, evidence, today),
        logs=[log.provenance for log in evidence.logs],
        evidence=EvidenceFile(path=str(manual), sha256=evidence.manual_provenance.sha256)
        if manual
        else None,
        problems=problems,
    )

"""A decision in a few lines: the level required, its safeguards by status, what to do next.

The terminal summary and the HTML report both lead with it.
"""

from dataclasses import dataclass

from redline.policy._decision import Decision, SafeguardResult, ThresholdResult

EVIDENCE_EXAMPLE = "examples/evidence-example.yaml"
"""The example evidence file in redline's repository (placeholder attestations)."""


@dataclass(frozen=True)
class Headline:
    """What a reader needs first: the level, why, which safeguards are shown, next steps."""

    required: str
    """The level required, e.g. `ASL-2`, or `deployment ASL-3, security ASL-4`."""
    ruled_out: list[str]
    """Thresholds ruled out by measurement (`ID (past its alert line)` when close)."""
    open: list[str]
    """Thresholds not ruled out by measurement, with why: `ID (not measured)`,
    `ID (not ruled out)`, `ID (below by determination)`."""
    safeguards: dict[str, list[str]]
    """Required safeguards by status: met, not met, no attestation, not measured."""
    next_steps: list[str]

    @property
    def thresholds_line(self) -> str:
        """A sentence on the capability thresholds (no full stop)."""
        total = len(self.ruled_out) + len(self.open)
        if not self.open:
            return f"Every capability threshold ({total}) is ruled out by measurement"
        return (
            f"{len(self.open)} of {total} capability thresholds not ruled out by measurement: "
            + ", ".join(self.open)
        )

    @property
    def safeguards_line(self) -> str:
        """A sentence counting the required safeguards by status (no full stop)."""
        total = sum(len(ids) for ids in self.safeguards.values())
        counts = ", ".join(f"{len(ids)} {status}" for status, ids in self.safeguards.items())
        return f"{total} required safeguards: {counts}" if total else "No safeguards required"


def _group(s: SafeguardResult) -> str:
    if s.status == "met":
        return "met"
    if s.status == "unmet":
        return "not met"
    return "no attestation" if s.kind == "attestation" else "not measured"


def _why_open(t: ThresholdResult) -> str:
    if t.settled_by != "evidence" and t.determination is not None:
        return f"{t.determination.ruling.replace('_', ' ')} by {t.settled_by}"
    return "not measured" if t.status == "no_evidence" else t.status.replace("_", " ")


def headline(d: Decision) -> Headline:
    """The headline of a decision."""
    if d.required_deployment == d.required_security:
        required = d.required_deployment
    else:
        required = f"deployment {d.required_deployment}, security {d.required_security}"
    measured = [t for t in d.thresholds if not t.demands and t.settled_by == "evidence"]
    ruled_out = [f"{t.id} (past its alert line)" if t.status == "alert" else t.id for t in measured]
    open_ = [f"{t.id} ({_why_open(t)})" for t in d.thresholds if t not in measured]
    safeguards: dict[str, list[str]] = {}
    for status in ("met", "not met", "no attestation", "not measured"):
        ids = [s.id for s in d.safeguards if _group(s) == status]
        if ids:
            safeguards[status] = ids
    return Headline(required, ruled_out, open_, safeguards, _next_steps(d, safeguards))


def _next_steps(d: Decision, safeguards: dict[str, list[str]]) -> list[str]:
    steps: list[str] = []
    if unmeasured := [t.id for t in d.thresholds if t.status == "no_evidence"]:
        steps.append(
            f"Measure {', '.join(unmeasured)}: run the suites that feed them "
            "(redline assess --profile full) or give their external results in an evidence "
            "file; until then they count as crossed."
        )
    if missing := safeguards.get("no attestation"):
        steps.append(
            f"Attest the {len(missing)} safeguards without an attestation in an evidence file "
            f"and pass it with --evidence FILE (format: {EVIDENCE_EXAMPLE}, whose entries are "
            "placeholders: never ship on them)."
        )
    if unmeasured_safeguards := safeguards.get("not measured"):
        steps.append(
            f"Measure {', '.join(unmeasured_safeguards)} on the policy's sample counts "
            "(redline assess --profile full)."
        )
    if unmet := safeguards.get("not met"):
        steps.append(f"Strengthen or renew {', '.join(unmet)}, then measure or attest again.")
    if d.assessment.due and not unmeasured:
        steps.append(
            "A comprehensive assessment is due ("
            + "; ".join(d.assessment.reasons)
            + "): redline assess --profile full."
        )
    return steps

"""The policy schema: levels, capability thresholds and their indicators, safeguards, triggers.

A policy is data (YAML). Every number in it is a `Number`, which says where it came from:
`cited` (with the source document's key) or `placeholder` (illustrative; set your own).
"""

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from redline._records import Strict

NumberStatus = Literal["cited", "cited_secondary", "cited_revoked", "derived", "placeholder"]


class Number(Strict):
    """A number with its provenance."""

    value: float
    status: NumberStatus
    src: list[str] = Field(default_factory=list)
    """Keys into the policy's `sources`; required unless the status is `placeholder`."""
    note: str | None = None

    @model_validator(mode="after")
    def _cited_needs_source(self) -> Self:
        if self.status != "placeholder" and not self.src:
            raise ValueError(f"a {self.status} number needs `src` (the source it comes from)")
        return self


class Source(Strict):
    """A public document a policy takes facts from."""

    title: str
    url: str | None = None
    published: date | None = None


class Level(Strict):
    """One safety level; levels are ordered by their position in the policy."""

    id: str
    description: str


Standard = Literal["deployment", "security"]


class Requires(Strict):
    """The safety level a threshold demands, per standard, once it cannot be ruled out."""

    deployment: str | None = None
    security: str | None = None


class Indicator(Strict):
    """A measurement that can rule a capability threshold out (or in).

    Higher values mean more capability. Evidence comes from Inspect logs of `task` (the
    `metric` computed from its samples) or, with `external: true`, from a result in the manual
    evidence file under this indicator's id.
    """

    id: str
    description: str
    task: str | None = None
    """Inspect task name; matches logs with or without a package prefix (`inspect_evals/`)."""
    metric: str = "accuracy"
    """`accuracy` or `mean` are computed from samples; any other name is read from the log."""
    scorer: str | None = None
    """Which scorer's values to use when a task has several (default: the first)."""
    external: bool = False
    rule_out_below: Number | None = None
    """Ruled out when the 95% CI's upper bound is below this."""
    rule_in_at: Number | None = None
    """Crossed when the 95% CI's lower bound is at or above this."""
    alert_at: Number | None = None
    """Yellow line: ruled out, but the upper bound has reached this."""
    min_samples: int = 1
    required: bool = True
    """A required indicator without evidence keeps its threshold from being ruled out."""

    @model_validator(mode="after")
    def _has_source_and_lines(self) -> Self:
        if self.external == (self.task is not None):
            raise ValueError("give exactly one of `task` (evidence from logs) or `external: true`")
        if self.rule_out_below is None and self.rule_in_at is None and self.alert_at is None:
            raise ValueError(
                "an indicator needs at least one of rule_out_below, rule_in_at, alert_at"
            )
        if self.rule_out_below and self.rule_in_at:
            if self.rule_in_at.value < self.rule_out_below.value:
                raise ValueError("rule_in_at must not be below rule_out_below")
        return self


class Threshold(Strict):
    """A capability threshold: a domain, a definition, the level it demands, its indicators."""

    id: str
    domain: str
    definition: str
    requires: Requires
    status: NumberStatus = "cited"
    src: list[str] = Field(default_factory=list)
    indicators: list[Indicator] = Field(min_length=1)


class MeasuredSafeguard(Strict):
    """A safeguard shown by a metric of a safeguard evaluation (e.g. jailbreak success rate)."""

    kind: Literal["measured"]
    id: str
    standard: Standard
    description: str
    task: str | None = None
    metric: str = "accuracy"
    scorer: str | None = None
    external: bool = False
    max: Number | None = None
    """Met when the 95% CI's upper bound is at or below this."""
    min: Number | None = None
    """Met when the 95% CI's lower bound is at or above this."""
    min_samples: int = 1

    @model_validator(mode="after")
    def _one_bound(self) -> Self:
        if (self.max is None) == (self.min is None):
            raise ValueError("a measured safeguard needs exactly one of `max` or `min`")
        if self.external == (self.task is not None):
            raise ValueError("give exactly one of `task` (evidence from logs) or `external: true`")
        return self


class AttestedSafeguard(Strict):
    """A safeguard shown by a signed statement with a link to its evidence."""

    kind: Literal["attestation"]
    id: str
    standard: Standard
    description: str
    status: NumberStatus = "cited"
    src: list[str] = Field(default_factory=list)
    max_age_days: int | None = None
    """An attestation older than this no longer counts (e.g. yearly re-approval)."""


Safeguard = Annotated[MeasuredSafeguard | AttestedSafeguard, Field(discriminator="kind")]


class Triggers(Strict):
    """When a new comprehensive assessment is due."""

    effective_compute_multiplier: Number | None = None
    months_since_comprehensive: Number | None = None


class Policy(Strict):
    """A capability-gated release policy."""

    schema_version: Literal[1] = 1
    id: str
    name: str
    description: str
    sources: dict[str, Source]
    levels: list[Level] = Field(min_length=1)
    baseline: str
    """The level every model needs, whatever the evidence."""
    thresholds: list[Threshold]
    safeguards: dict[str, list[Safeguard]] = Field(default_factory=dict)
    """Safeguards by level; a level's requirements include those of every lower level."""
    triggers: Triggers = Triggers()

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        level_ids = [lv.id for lv in self.levels]
        if len(set(level_ids)) != len(level_ids):
            raise ValueError("level ids must be unique")

        def check_level(level: str | None, where: str) -> None:
            if level is not None and level not in level_ids:
                raise ValueError(
                    f"{where}: unknown level {level!r} (levels: {', '.join(level_ids)})"
                )

        def check_src(src: list[str], where: str) -> None:
            for key in src:
                if key not in self.sources:
                    raise ValueError(f"{where}: unknown source {key!r}")

        check_level(self.baseline, "baseline")
        seen: set[str] = set()
        for t in self.thresholds:
            if t.id in seen:
                raise ValueError(f"duplicate threshold id {t.id!r}")
            seen.add(t.id)
            check_level(t.requires.deployment, f"threshold {t.id}")
            check_level(t.requires.security, f"threshold {t.id}")
            check_src(t.src, f"threshold {t.id}")
            for ind in t.indicators:
                for name in ("rule_out_below", "rule_in_at", "alert_at"):
                    number = getattr(ind, name)
                    if number is not None:
                        check_src(number.src, f"threshold {t.id}, indicator {ind.id}, {name}")
        for level, safeguards in self.safeguards.items():
            check_level(level, "safeguards")
            for sg in safeguards:
                if isinstance(sg, AttestedSafeguard):
                    check_src(sg.src, f"safeguard {sg.id}")
                else:
                    for number in (sg.max, sg.min):
                        if number is not None:
                            check_src(number.src, f"safeguard {sg.id}")
        for name in ("effective_compute_multiplier", "months_since_comprehensive"):
            number = getattr(self.triggers, name)
            if number is not None:
                check_src(number.src, f"triggers.{name}")
        return self

    def rank(self, level: str) -> int:
        """Position of a level in the policy's order (0 is the lowest)."""
        return [lv.id for lv in self.levels].index(level)

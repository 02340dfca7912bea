"""The policy schema: levels, capability thresholds and their indicators, safeguards, triggers.

A policy is data (YAML). Every number in it is a `Number`, which says where it came from:
`cited` (with the source document's key) or `placeholder` (illustrative; set your own).
"""

import math
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, PrivateAttr, StrictFloat, StrictInt, model_validator

from redline._records import FieldError, Strict

NumberStatus = Literal["cited", "cited_secondary", "cited_revoked", "derived", "placeholder"]

Role = Literal["screen", "determinative", "monitor"]
"""How an indicator's evidence counts: a `screen` can rule a threshold out but never in; a
`determinative` indicator decides when the screens do not rule out; a `monitor` only alerts."""

Scale = Literal["proportion", "ratio", "count", "hours", "score"]
"""What kind of number an indicator measures, so values outside its domain are caught:
`proportion` lies in [0, 1]; `ratio` (a multiplier), `count` and `hours` are never negative;
`score` may be any finite number."""

SCALE_RANGE: dict[str, tuple[float, float]] = {
    "proportion": (0.0, 1.0),
    "ratio": (0.0, math.inf),
    "count": (0.0, math.inf),
    "hours": (0.0, math.inf),
    "score": (-math.inf, math.inf),
}


def outside_scale(scale: str, value: float) -> str | None:
    """Why `value` cannot be a number on `scale`, or None if it can."""
    low, high = SCALE_RANGE[scale]
    if low <= value <= high:
        return None
    if high == math.inf:
        return f"{value:g} is negative, and a {scale} cannot be"
    return f"{value:g} is outside a {scale}'s range [{low:g}, {high:g}]"


class Number(Strict):
    """A number with its provenance (never negative, NaN or infinite)."""

    value: StrictFloat = Field(ge=0)
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
    role: Role = "determinative"
    """`screen` (rules out, never in), `determinative` (decides when the screens do not rule
    out) or `monitor` (alerts only)."""
    scale: Scale = "score"
    """The kind of number measured; results outside its domain are rejected."""
    task: str | None = None
    """Inspect task name; matches logs with or without a package prefix (`inspect_evals/`)."""
    metric: str = "accuracy"
    """`accuracy` or `mean` are computed from samples; any other name is read from the log."""
    scorer: str | None = None
    """Which scorer's values to use when a task has several (default: the first)."""
    external: bool = False
    point_evidence: bool = False
    """A value without a confidence interval (e.g. an expert red team's verdict) may rule the
    threshold out; otherwise such a point estimate can only keep it in."""
    rule_out_below: Number | None = None
    """Ruled out when the 95% CI's upper bound is below this."""
    rule_in_at: Number | None = None
    """Crossed when the 95% CI's lower bound is at or above this."""
    alert_at: Number | None = None
    """Yellow line: ruled out, but the upper bound has reached this."""
    min_samples: StrictInt = Field(default=1, ge=1)
    required: bool = True
    """A required indicator without evidence keeps its threshold from being ruled out."""

    @model_validator(mode="after")
    def _has_source_and_lines(self) -> Self:
        if self.external == (self.task is not None):
            raise ValueError("give exactly one of `task` (evidence from logs) or `external: true`")
        lines = {"rule_out_below": self.rule_out_below, "rule_in_at": self.rule_in_at}
        if self.role == "monitor":
            for name, line in lines.items():
                if line is not None:
                    raise FieldError((name,), "a monitor only alerts: use alert_at, or change role")
            if self.alert_at is None:
                raise FieldError(("alert_at",), "a monitor needs an alert_at line")
            if self.required:
                raise FieldError(("required",), "a monitor never decides: set required: false")
        elif self.role == "screen":
            if self.rule_in_at is not None:
                raise FieldError(
                    ("rule_in_at",),
                    "a screen can rule a threshold out but never in: remove rule_in_at, "
                    "or make the indicator determinative",
                )
            if self.rule_out_below is None:
                raise FieldError(("rule_out_below",), "a screen needs a rule_out_below line")
        elif self.rule_out_below is None and self.rule_in_at is None:
            raise ValueError(
                "a determinative indicator needs rule_out_below or rule_in_at "
                "(an indicator with only alert_at is a monitor: set role: monitor)"
            )
        if self.rule_out_below and self.rule_in_at:
            if self.rule_in_at.value < self.rule_out_below.value:
                raise FieldError(("rule_in_at",), "rule_in_at must not be below rule_out_below")
        for name, line in (*lines.items(), ("alert_at", self.alert_at)):
            problem = outside_scale(self.scale, line.value) if line is not None else None
            if problem:
                raise FieldError((name, "value"), problem)
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

    @model_validator(mode="after")
    def _demands_something(self) -> Self:
        if self.requires.deployment is None and self.requires.security is None:
            raise FieldError(("requires",), "name a deployment or a security level (or both)")
        ids = [ind.id for ind in self.indicators]
        for i, ind_id in enumerate(ids):
            if ind_id in ids[:i]:
                raise FieldError(("indicators", i, "id"), f"duplicate indicator id {ind_id!r}")
        return self


class MeasuredSafeguard(Strict):
    """A safeguard shown by a metric of a safeguard evaluation (e.g. jailbreak success rate)."""

    kind: Literal["measured"]
    id: str
    standard: Standard
    description: str
    scale: Scale = "proportion"
    task: str | None = None
    metric: str = "accuracy"
    scorer: str | None = None
    external: bool = False
    point_evidence: bool = False
    """A value without a confidence interval may show the safeguard met."""
    max: Number | None = None
    """Met when the 95% CI's upper bound is at or below this."""
    min: Number | None = None
    """Met when the 95% CI's lower bound is at or above this."""
    min_samples: StrictInt = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _one_bound(self) -> Self:
        if (self.max is None) == (self.min is None):
            raise ValueError("a measured safeguard needs exactly one of `max` or `min`")
        if self.external == (self.task is not None):
            raise ValueError("give exactly one of `task` (evidence from logs) or `external: true`")
        for name, bound in (("max", self.max), ("min", self.min)):
            problem = outside_scale(self.scale, bound.value) if bound is not None else None
            if problem:
                raise FieldError((name, "value"), problem)
        return self


class AttestedSafeguard(Strict):
    """A safeguard shown by a signed statement with a link to its evidence."""

    kind: Literal["attestation"]
    id: str
    standard: Standard
    description: str
    status: NumberStatus = "cited"
    src: list[str] = Field(default_factory=list)
    max_age_days: StrictInt | None = Field(default=None, ge=0)
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
    _origin: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _references_resolve(self) -> Self:
        level_ids = [lv.id for lv in self.levels]
        for i, level_id in enumerate(level_ids):
            if level_id in level_ids[:i]:
                raise FieldError(("levels", i, "id"), f"duplicate level id {level_id!r}")

        def check_level(level: str | None, loc: tuple[str | int, ...]) -> None:
            if level is not None and level not in level_ids:
                raise FieldError(loc, f"unknown level {level!r} (levels: {', '.join(level_ids)})")

        def check_src(src: list[str], loc: tuple[str | int, ...]) -> None:
            for key in src:
                if key not in self.sources:
                    known = ", ".join(self.sources) or "none"
                    raise FieldError(loc, f"unknown source {key!r} (sources: {known})")

        check_level(self.baseline, ("baseline",))
        seen: set[str] = set()
        for i, t in enumerate(self.thresholds):
            at: tuple[str | int, ...] = ("thresholds", i)
            if t.id in seen:
                raise FieldError((*at, "id"), f"duplicate threshold id {t.id!r}")
            seen.add(t.id)
            check_level(t.requires.deployment, (*at, "requires", "deployment"))
            check_level(t.requires.security, (*at, "requires", "security"))
            check_src(t.src, (*at, "src"))
            for j, ind in enumerate(t.indicators):
                for name in ("rule_out_below", "rule_in_at", "alert_at"):
                    number = getattr(ind, name)
                    if number is not None:
                        check_src(number.src, (*at, "indicators", j, name, "src"))
        for level, safeguards in self.safeguards.items():
            check_level(level, ("safeguards", level))
            for j, sg in enumerate(safeguards):
                at = ("safeguards", level, j)
                if isinstance(sg, AttestedSafeguard):
                    check_src(sg.src, (*at, "src"))
                else:
                    for name, number in (("max", sg.max), ("min", sg.min)):
                        if number is not None:
                            check_src(number.src, (*at, name, "src"))
        for name in ("effective_compute_multiplier", "months_since_comprehensive"):
            number = getattr(self.triggers, name)
            if number is not None:
                check_src(number.src, ("triggers", name, "src"))
        return self

    @property
    def origin(self) -> Path | None:
        """The file this policy was read from (None when built in memory)."""
        return self._origin

    def rank(self, level: str) -> int:
        """Position of a level in the policy's order (0 is the lowest)."""
        return [lv.id for lv in self.levels].index(level)

    def indicators(self) -> list[Indicator]:
        """Every indicator of every threshold."""
        return [ind for t in self.thresholds for ind in t.indicators]

    def all_safeguards(self) -> list[MeasuredSafeguard | AttestedSafeguard]:
        """Every safeguard of every level."""
        return [sg for safeguards in self.safeguards.values() for sg in safeguards]

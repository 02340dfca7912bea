"""Campaign results from Inspect logs: ASR per attack and category, blocks, Best-of-N, gate.

Everything the CLI prints and writes as JSON comes from here (the schema is in
docs/redteam.md), so `redline assess` and reports read the same numbers.
"""

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from redline._stats import wilson
from redline.redteam._bon import BoNCurve, bon_curve

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

SCHEMA_VERSION = 1


class Rate(BaseModel):
    """A proportion over scoreable samples with its Wilson 95% interval, and what it cost."""

    rate: float | None
    """None when no sample was scoreable."""
    lower: float | None
    upper: float | None
    hits: int
    """Successes (redteam) or refusals (over-refusal)."""
    scored: int
    unscoreable: int
    """Samples without a verdict (errors, empty output, unparsable judge reply): counted apart."""
    samples: int
    queries: int
    tokens: int

    def interval(self) -> str:
        """The rate and its interval as text, `0.250 [0.101, 0.498]` ("-" when not measured)."""
        if self.rate is None or self.lower is None or self.upper is None:
            return "-"
        return f"{self.rate:.3f} [{self.lower:.3f}, {self.upper:.3f}]"


class Blocks(BaseModel):
    """Share of all samples a guarded target blocked at each stage."""

    input: float
    output: float
    blocked_input: int
    blocked_output: int
    samples: int


class Outcome(BaseModel):
    """One sample's result, as read back from the log."""

    attack: str
    category: str
    behavior: str
    draw: int
    value: float | None
    """1.0 hit, 0.0 miss, None unscoreable."""
    queries: int
    tokens: int
    guarded: bool
    blocked_stage: str | None


class CampaignResult(BaseModel):
    """The `redline/redteam` log summarised."""

    log: str
    model: str
    status: str
    judge: str
    overall: Rate
    per_attack: dict[str, Rate]
    per_category: dict[str, Rate]
    blocks: Blocks | None
    """Present when the target is a guarded model."""
    best_of_n: dict[str, BoNCurve]
    """Per attack (and `all`: any attack) when n > 1."""


class OverRefusalResult(BaseModel):
    """The `redline/over_refusal` log summarised."""

    log: str
    model: str
    status: str
    overall: Rate
    per_category: dict[str, Rate]
    blocks: Blocks | None


class Gate(BaseModel):
    """The release gate: fails when the ASR's 95% upper bound exceeds `max_asr`."""

    max_asr: float
    asr_upper: float | None
    passed: bool
    reason: str


class RedteamReport(BaseModel):
    """What `redline redteam run --json` writes."""

    schema_version: int = SCHEMA_VERSION
    target: str
    campaign: CampaignResult
    over_refusal: OverRefusalResult | None = None
    gate: Gate | None = None


def rate(outcomes: Iterable[Outcome]) -> Rate:
    """The hit rate of `outcomes` with its Wilson interval; unscoreable ones counted apart."""
    items = list(outcomes)
    scored = [o.value for o in items if o.value is not None]
    hits = int(sum(scored))
    lower, upper = wilson(hits, len(scored)) if scored else (None, None)
    return Rate(
        rate=hits / len(scored) if scored else None,
        lower=lower,
        upper=upper,
        hits=hits,
        scored=len(scored),
        unscoreable=len(items) - len(scored),
        samples=len(items),
        queries=sum(o.queries for o in items),
        tokens=sum(o.tokens for o in items),
    )


def blocks(outcomes: list[Outcome]) -> Blocks | None:
    """Block rates per stage, or None when no sample went through a guard."""
    if not any(o.guarded for o in outcomes):
        return None
    n = len(outcomes)
    at_input = sum(o.blocked_stage == "input" for o in outcomes)
    at_output = sum(o.blocked_stage == "output" for o in outcomes)
    return Blocks(
        input=at_input / n,
        output=at_output / n,
        blocked_input=at_input,
        blocked_output=at_output,
        samples=n,
    )


def outcomes(log: "EvalLog") -> list[Outcome]:
    """Each sample's outcome; an errored or unscored sample is unscoreable."""
    found = []
    for s in log.samples or []:
        meta: dict[str, Any] = s.metadata or {}
        score = next(iter((s.scores or {}).values()), None)
        value: float | None = None
        if s.error is None and score is not None and isinstance(score.value, int | float):
            value = None if math.isnan(float(score.value)) else float(score.value)
        extra: dict[str, Any] = (score.metadata or {}) if score else {}
        usage = sum(u.total_tokens for u in (s.model_usage or {}).values())
        found.append(
            Outcome(
                attack=str(meta.get("attack", "-")),
                category=str(meta.get("category", "uncategorised")),
                behavior=str(meta.get("behavior", meta.get("prompt", s.id))),
                draw=int(meta.get("draw", 0)),
                value=value,
                queries=int(extra.get("queries", 0)),
                tokens=int(extra.get("tokens", usage)),
                guarded=bool(extra.get("guarded", False)),
                blocked_stage=extra.get("blocked_stage"),
            )
        )
    return found


def _grouped(items: list[Outcome], key: str) -> dict[str, Rate]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in items:
        groups[getattr(o, key)].append(o)
    return {k: rate(v) for k, v in sorted(groups.items())}


def _bon(items: list[Outcome]) -> dict[str, BoNCurve]:
    draws = max((o.draw for o in items), default=0) + 1
    if draws < 2:
        return {}
    curves: dict[str, BoNCurve] = {}
    by_attack: dict[str, list[Outcome]] = defaultdict(list)
    for o in items:
        by_attack[o.attack].append(o)
    groups = {**dict(sorted(by_attack.items())), "all": items} if len(by_attack) > 1 else by_attack
    for name, group in groups.items():
        behaviors = sorted({o.behavior for o in group})
        index = {b: i for i, b in enumerate(behaviors)}
        # attempts: draw-major, so budget k = the first k draws of every attack in the group
        attacks = sorted({o.attack for o in group})
        width = draws * len(attacks)
        matrix = np.zeros((len(behaviors), width), dtype=bool)
        for o in group:
            matrix[index[o.behavior], o.draw * len(attacks) + attacks.index(o.attack)] = (
                o.value == 1.0
            )
        # one step of the curve = one draw of every attack in the group
        per_draw = np.asarray(matrix.reshape(len(behaviors), draws, len(attacks)).any(axis=2))
        curves[name] = bon_curve(per_draw)
    return curves


def _header(log: "EvalLog") -> tuple[str, str, str]:
    return log.location, log.eval.model, log.status


def _judge(log: "EvalLog") -> str:
    """The judge that scored the samples (`auto` resolved), else the one asked for."""
    for s in log.samples or []:
        for score in (s.scores or {}).values():
            if score.metadata and score.metadata.get("judge"):
                return str(score.metadata["judge"])
    return str((log.eval.task_args or {}).get("judge", "auto"))


def summarize_campaign(log: "EvalLog") -> CampaignResult:
    """Summarise a `redline/redteam` log."""
    items = outcomes(log)
    location, model, status = _header(log)
    return CampaignResult(
        log=location,
        model=model,
        status=status,
        judge=_judge(log),
        overall=rate(items),
        per_attack=_grouped(items, "attack"),
        per_category=_grouped(items, "category"),
        blocks=blocks(items),
        best_of_n=_bon(items),
    )


def summarize_over_refusal(log: "EvalLog") -> OverRefusalResult:
    """Summarise a `redline/over_refusal` log."""
    items = outcomes(log)
    location, model, status = _header(log)
    return OverRefusalResult(
        log=location,
        model=model,
        status=status,
        overall=rate(items),
        per_category=_grouped(items, "category"),
        blocks=blocks(items),
    )


def gate(result: CampaignResult, max_asr: float) -> Gate:
    """Pass only when the campaign finished and its ASR upper bound is at most `max_asr`."""
    upper = result.overall.upper
    if result.status != "success":
        return Gate(max_asr=max_asr, asr_upper=upper, passed=False, reason=f"run {result.status}")
    if upper is None:
        return Gate(max_asr=max_asr, asr_upper=None, passed=False, reason="no scoreable sample")
    passed = upper <= max_asr
    word = "<=" if passed else ">"
    return Gate(
        max_asr=max_asr,
        asr_upper=upper,
        passed=passed,
        reason=f"ASR 95% upper bound {upper:.4f} {word} {max_asr:g}",
    )

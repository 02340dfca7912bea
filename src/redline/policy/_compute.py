"""Training compute estimates and the regulatory tiers they fall in."""

from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import Field

from redline._yaml import load_yaml_model
from redline.errors import RedlineError
from redline.policy._schema import Number, Record, Source, Strict

Applies = Literal["yes", "no", "if_large_developer"]


class Tier(Strict):
    """A regulatory line on training compute and what crossing it brings."""

    id: str
    name: str
    jurisdiction: str
    above_flop: Number
    condition: str | None = None
    notify_within_days: Number | None = None
    obligations: list[str] = Field(default_factory=list)
    large_developer_revenue_usd: Number | None = None
    large_developer_obligations: list[str] = Field(default_factory=list)
    large_developer_only: bool = False
    bio_sequence_only: bool = False
    legacy: bool = False
    """From a revoked instrument: shown for reference, never binding."""


class TierTable(Strict):
    """The shipped table of compute tiers."""

    sources: dict[str, Source]
    default_utilization: Number
    tiers: list[Tier]


class TierResult(Record):
    """One tier judged for one training run."""

    id: str
    name: str
    jurisdiction: str
    threshold_flop: float
    status: str
    src: list[str]
    reached: bool
    """The run's compute is over this tier's line."""
    applies: Applies
    """Whether the tier binds this developer: also depends on revenue, data and revocation."""
    legacy: bool
    obligations: list[str]
    note: str = ""


class ComputeReport(Record):
    """Training compute, how it was estimated, and the tiers it reaches."""

    flop: float
    method: Literal["6ND", "hardware"]
    inputs: dict[str, float]
    tiers: list[TierResult]
    previous_flop: float | None = None
    growth: float | None = None


def tier_table() -> TierTable:
    """The shipped compute tiers."""
    return load_yaml_model(
        Path(str(files("redline.policy") / "data" / "compute-tiers.yaml")), TierTable
    )


def flop_from_params(params: float, tokens: float) -> float:
    """Dense-transformer training compute, 6 x parameters x tokens (MoE: active parameters)."""
    if params <= 0 or tokens <= 0:
        raise RedlineError("parameters and tokens must be positive")
    return 6.0 * params * tokens


def flop_from_hardware(chips: float, peak_flops: float, hours: float, utilization: float) -> float:
    """Training compute from hardware: chips x peak FLOP/s x seconds x utilisation."""
    if chips <= 0 or peak_flops <= 0 or hours <= 0:
        raise RedlineError("chips, peak FLOP/s and hours must be positive")
    if not 0 < utilization <= 1:
        raise RedlineError(f"utilisation must be in (0, 1], got {utilization}")
    return chips * peak_flops * hours * 3600.0 * utilization


def classify(
    flop: float,
    method: Literal["6ND", "hardware"],
    inputs: dict[str, float],
    revenue_usd: float | None = None,
    bio_sequence: bool = False,
    previous_flop: float | None = None,
) -> ComputeReport:
    """Which tiers a run of `flop` reaches, and what they oblige, given the developer's revenue."""
    results = []
    for tier in tier_table().tiers:
        reached = flop > tier.above_flop.value and (bio_sequence or not tier.bio_sequence_only)
        applies: Applies = "yes" if reached else "no"
        obligations = list(tier.obligations)
        notes = [tier.condition] if tier.condition else []
        if tier.large_developer_revenue_usd is not None and applies == "yes":
            line = tier.large_developer_revenue_usd.value
            if revenue_usd is None:
                notes.append(f"large developers (revenue over ${line:,.0f}) have more duties")
                if tier.large_developer_only:
                    applies = "if_large_developer"
                obligations += [
                    f"if large developer: {o}" for o in tier.large_developer_obligations
                ]
            elif revenue_usd > line:
                obligations += tier.large_developer_obligations
            else:
                notes.append(f"revenue ${revenue_usd:,.0f} is not over ${line:,.0f}")
                if tier.large_developer_only:
                    applies = "no"
        if tier.legacy:
            notes.append("revoked: shown for reference, not binding")
        results.append(
            TierResult(
                id=tier.id,
                name=tier.name,
                jurisdiction=tier.jurisdiction,
                threshold_flop=tier.above_flop.value,
                status=tier.above_flop.status,
                src=tier.above_flop.src,
                reached=reached,
                applies="no" if tier.legacy else applies,
                legacy=tier.legacy,
                obligations=obligations if applies != "no" else [],
                note="; ".join(notes),
            )
        )
    growth = flop / previous_flop if previous_flop else None
    return ComputeReport(
        flop=flop,
        method=method,
        inputs=inputs,
        tiers=results,
        previous_flop=previous_flop,
        growth=growth,
    )

"""Training compute estimates and the regulatory tiers they fall in."""

import math
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import Field

from redline._records import Record, Strict
from redline._yaml import load_yaml_model
from redline.errors import RedlineError
from redline.policy._schema import Number, Source

Applies = Literal["yes", "no", "if_large_developer"]
Method = Literal["6ND", "hardware", "given"]
"""How the compute was known: 6 x parameters x tokens, from hardware, or given as a number."""


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
    method: Method
    inputs: dict[str, float]
    tiers: list[TierResult]
    previous_flop: float | None = None
    growth: float | None = None


def tier_table() -> TierTable:
    """The shipped compute tiers."""
    return load_yaml_model(
        Path(str(files("redline.policy") / "data" / "compute-tiers.yaml")), TierTable
    )


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise RedlineError(f"{name} must be a positive finite number, got {value}")


def flop_from_params(params: float, tokens: float) -> float:
    """Dense-transformer training compute, 6 x parameters x tokens (MoE: active parameters)."""
    _positive(params=params, tokens=tokens)
    flop = 6.0 * params * tokens
    _positive(**{"6 x params x tokens": flop})
    return flop


def flop_from_hardware(chips: float, peak_flops: float, hours: float, utilization: float) -> float:
    """Training compute from hardware: chips x peak FLOP/s x seconds x utilisation."""
    _positive(chips=chips, peak_flops=peak_flops, hours=hours)
    if not 0 < utilization <= 1:
        raise RedlineError(f"utilisation must be in (0, 1], got {utilization}")
    flop = chips * peak_flops * hours * 3600.0 * utilization
    _positive(**{"chips x peak FLOP/s x seconds x utilisation": flop})
    return flop


def measure_compute(
    effective_compute: float | None = None,
    params: float | None = None,
    tokens: float | None = None,
    chips: float | None = None,
    peak_flops: float | None = None,
    hours: float | None = None,
    utilization: float | None = None,
) -> tuple[Method, float, dict[str, float]] | None:
    """How much compute a run took, from whichever inputs are given; None without any.

    Effective compute given as a number wins, then 6ND from parameters and tokens, then
    hardware (utilisation defaults to the tier table's). Half a set of inputs is an error.
    """
    if effective_compute is not None:
        _positive(effective_compute=effective_compute)
        return "given", effective_compute, {"effective_compute": effective_compute}
    if params is not None or tokens is not None:
        if params is None or tokens is None:
            raise RedlineError("give both --params and --tokens")
        return "6ND", flop_from_params(params, tokens), {"params": params, "tokens": tokens}
    hardware = {"chips": chips, "peak_flops": peak_flops, "hours": hours}
    if all(v is None for v in hardware.values()):
        return None
    if chips is None or peak_flops is None or hours is None:
        raise RedlineError("give --chips, --peak-flops and --hours together")
    u = utilization if utilization is not None else tier_table().default_utilization.value
    flop = flop_from_hardware(chips, peak_flops, hours, u)
    return "hardware", flop, {"chips": chips, "peak_flops": peak_flops, "hours": hours,
                              "utilization": u}  # fmt: skip


def classify(
    flop: float,
    method: Method,
    inputs: dict[str, float],
    revenue_usd: float | None = None,
    bio_sequence: bool = False,
    previous_flop: float | None = None,
) -> ComputeReport:
    """Which tiers a run of `flop` reaches, and what they oblige, given the developer's revenue."""
    _positive(flop=flop, **({"previous": previous_flop} if previous_flop is not None else {}))
    if revenue_usd is not None and not (math.isfinite(revenue_usd) and revenue_usd >= 0):
        raise RedlineError(f"revenue must be a finite number of at least 0, got {revenue_usd}")
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

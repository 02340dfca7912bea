"""Policies as data, evidence from Inspect logs, the release decision, compute tiers."""

from redline._stats import wilson
from redline.policy._compute import (
    ComputeReport,
    TierResult,
    classify,
    flop_from_hardware,
    flop_from_params,
    tier_table,
)
from redline.policy._decision import Decision, decide
from redline.policy._evidence import Evidence, ManualEvidence, Measurement
from redline.policy._headline import Headline, headline
from redline.policy._library import DEFAULT_POLICY, load_policy, shipped_policies
from redline.policy._schema import (
    AttestedSafeguard,
    Indicator,
    Level,
    MeasuredSafeguard,
    Number,
    Policy,
    Requires,
    Source,
    Threshold,
    Triggers,
)
from redline.policy._stats import Estimate

__all__ = [
    "DEFAULT_POLICY",
    "AttestedSafeguard",
    "ComputeReport",
    "Decision",
    "Estimate",
    "Evidence",
    "Headline",
    "Indicator",
    "Level",
    "ManualEvidence",
    "MeasuredSafeguard",
    "Measurement",
    "Number",
    "Policy",
    "Requires",
    "Source",
    "Threshold",
    "TierResult",
    "Triggers",
    "classify",
    "decide",
    "flop_from_hardware",
    "flop_from_params",
    "headline",
    "load_policy",
    "shipped_policies",
    "tier_table",
    "wilson",
]

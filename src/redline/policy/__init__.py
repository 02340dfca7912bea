"""Policies as data, evidence from Inspect logs, the release decision, compute tiers."""

from redline._stats import wilson
from redline.policy._compute import (
    ComputeReport,
    TierResult,
    classify,
    flop_from_hardware,
    flop_from_params,
    measure_compute,
    tier_table,
)
from redline.policy._decision import Decision, IndicatorResult, ThresholdResult, decide
from redline.policy._evidence import AssessmentHistory, Evidence, ManualEvidence, Measurement
from redline.policy._feeds import feeds, task_metadata
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
from redline.policy._triggers import Trigger, reassessment_due

__all__ = [
    "AssessmentHistory",
    "IndicatorResult",
    "ThresholdResult",
    "DEFAULT_POLICY",
    "AttestedSafeguard",
    "ComputeReport",
    "Decision",
    "Estimate",
    "Evidence",
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
    "Trigger",
    "Triggers",
    "classify",
    "decide",
    "flop_from_hardware",
    "flop_from_params",
    "feeds",
    "load_policy",
    "measure_compute",
    "reassessment_due",
    "shipped_policies",
    "task_metadata",
    "tier_table",
    "wilson",
]

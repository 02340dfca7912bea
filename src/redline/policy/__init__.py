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
from redline.policy._decision import (
    AppliedDetermination,
    Decision,
    IndicatorResult,
    ThresholdResult,
    decide,
    describe,
)
from redline.policy._evidence import (
    AssessmentHistory,
    Determination,
    Evidence,
    ManualEvidence,
    Measurement,
    sign_determination,
)
from redline.policy._feeds import feeds, task_metadata
from redline.policy._headline import Headline, headline
from redline.policy._library import (
    DEFAULT_POLICY,
    PolicyRef,
    load_policy,
    policy_ref,
    shipped_policies,
)
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
    "AppliedDetermination",
    "AssessmentHistory",
    "Determination",
    "PolicyRef",
    "describe",
    "policy_ref",
    "IndicatorResult",
    "ThresholdResult",
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
    "Trigger",
    "Triggers",
    "classify",
    "decide",
    "flop_from_hardware",
    "flop_from_params",
    "feeds",
    "headline",
    "load_policy",
    "measure_compute",
    "reassessment_due",
    "shipped_policies",
    "sign_determination",
    "task_metadata",
    "tier_table",
    "wilson",
]

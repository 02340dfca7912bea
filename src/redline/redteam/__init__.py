"""Red-team engine: attacks, judges, campaigns and attack-success statistics.

The campaign tasks (`redline/redteam`, `redline/over_refusal`) live in `_campaign` and are
registered through the Inspect entry point; importing this package does not load Inspect.
"""

from redline.redteam._behaviors import Behavior, load_behaviors, load_benign
from redline.redteam._bon import BoNCurve, Forecast, PowerLaw, bon_curve
from redline.redteam._calibrate import CalibrationReport, calibrate_judge, load_labels
from redline.redteam._judges import (
    GuardJudge,
    Judge,
    Judgement,
    LLMJudge,
    Outcome,
    RefusalJudge,
    refusal_probability,
)
from redline.redteam._summary import (
    CampaignResult,
    Gate,
    OverRefusalResult,
    Rate,
    RedteamReport,
    gate,
    summarize_campaign,
    summarize_over_refusal,
)

__all__ = [
    "Behavior",
    "BoNCurve",
    "CalibrationReport",
    "CampaignResult",
    "Forecast",
    "Gate",
    "GuardJudge",
    "Judge",
    "Judgement",
    "LLMJudge",
    "Outcome",
    "OverRefusalResult",
    "PowerLaw",
    "Rate",
    "RedteamReport",
    "RefusalJudge",
    "bon_curve",
    "calibrate_judge",
    "gate",
    "load_behaviors",
    "load_benign",
    "load_labels",
    "refusal_probability",
    "summarize_campaign",
    "summarize_over_refusal",
]

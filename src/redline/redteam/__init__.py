"""Red-team engine: model-using attacks, judges, campaigns and attack-success statistics.

The campaign tasks (`redline/redteam`, `redline/over_refusal`) live in `_campaign` and are
registered through the Inspect entry point; `run_campaign` runs them, summarises and gates.
Importing this package registers the attacker-model attacks (`attackers`) beside
`redline.attacks`'s transforms, and does not load Inspect.
"""

from redline.redteam import attackers  # noqa: F401  (registers the attacker-model attacks)
from redline.redteam._behaviors import Behavior, load_behaviors, load_benign
from redline.redteam._bon import AsrForecast, BoNCurve, PowerLaw, bon_curve
from redline.redteam._calibrate import CalibrationReport, calibrate_judge, load_labels
from redline.redteam._judges import (
    JUDGES,
    GuardJudge,
    Judge,
    Judgement,
    LLMJudge,
    Outcome,
    RefusalJudge,
    make_judge,
)
from redline.redteam._run import (
    ACTION_MONITOR_TASK,
    OVER_REFUSAL_TASK,
    REDTEAM_TASK,
    CampaignSpec,
    EvalSettings,
    OverRefusalSpec,
    check_campaign,
    run_campaign,
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
    "ACTION_MONITOR_TASK",
    "JUDGES",
    "OVER_REFUSAL_TASK",
    "REDTEAM_TASK",
    "CampaignSpec",
    "EvalSettings",
    "OverRefusalSpec",
    "check_campaign",
    "make_judge",
    "run_campaign",
    "Behavior",
    "BoNCurve",
    "CalibrationReport",
    "CampaignResult",
    "AsrForecast",
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
    "summarize_campaign",
    "summarize_over_refusal",
]

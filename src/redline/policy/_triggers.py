"""Re-assessment triggers: when a policy asks for a new comprehensive assessment.

One rule for the decision (history from the evidence file) and for `redline track` (history
from the store): due when there is no comprehensive assessment on record, when effective
compute has grown by the policy's multiplier since the last one, or when its months have
passed.
"""

from datetime import date

from redline._records import Record
from redline.policy._schema import Triggers

DAYS_PER_MONTH = 365.25 / 12


class Trigger(Record):
    """Whether a comprehensive assessment is due, and why."""

    due: bool
    reasons: list[str]


def reassessment_due(
    triggers: Triggers,
    *,
    last_date: date | None,
    last_compute: float | None,
    compute: float | None,
    today: date,
    compared: str = "",
) -> Trigger:
    """Apply the policy's triggers to the last comprehensive assessment and the newest compute.

    `last_date` and `last_compute` describe the last comprehensive assessment (both None: there
    is none); `compute` is the newest checkpoint's effective compute; `compared` names the two
    checkpoints in the compute reason (e.g. "step-9 vs step-1").
    """
    if last_date is None and last_compute is None:
        return Trigger(due=True, reasons=["no previous comprehensive assessment on record"])
    reasons: list[str] = []
    multiplier = triggers.effective_compute_multiplier
    if multiplier is not None and compute and last_compute:
        growth = compute / last_compute
        if growth >= multiplier.value:
            which = f" ({compared})" if compared else ""
            reasons.append(
                f"effective compute grew {growth:.3g}x since the last comprehensive assessment"
                f"{which} (trigger: {multiplier.value:.3g}x)"
            )
    months = triggers.months_since_comprehensive
    if months is not None and last_date is not None:
        elapsed = (today - last_date).days / DAYS_PER_MONTH
        if elapsed >= months.value:
            reasons.append(
                f"{elapsed:.1f} months since the last comprehensive assessment on {last_date} "
                f"(trigger: {months.value:.3g} months)"
            )
    return Trigger(due=bool(reasons), reasons=reasons)

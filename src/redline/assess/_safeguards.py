"""The safeguards section of a report, from red-team and over-refusal logs (bare and guarded).

The overall rates come from the policy's evidence code (so they match the decision); the
per-attack breakdown, the guard's block rates and the Best-of-N curve come from
`redline.redteam`'s campaign summaries (the numbers `redline redteam run` prints).
"""

from pathlib import Path

from redline.policy import Evidence, MeasuredSafeguard, Measurement, Policy
from redline.redteam import OVER_REFUSAL_TASK, REDTEAM_TASK, BoNCurve, Rate, summarize_campaign
from redline.report import (
    AttackComparison,
    AttackResult,
    BestOfN,
    BonPoint,
    SafeguardsSection,
)


def _measure(log: Path | None, task: str, metric: str) -> Measurement | None:
    if log is None:
        return None
    runs, _ = Evidence.load([log]).measure(task, metric, None)
    return runs[0] if runs else None


def attack_result(r: Rate) -> AttackResult | None:
    """A campaign's rate for one attack, or None when no sample of it was scoreable."""
    if r.rate is None or r.lower is None or r.upper is None:
        return None
    return AttackResult(
        n=r.scored, successes=r.hits, unscoreable=r.unscoreable, asr=r.rate, lower=r.lower,
        upper=r.upper,
    )  # fmt: skip


def best_of_n(curve: BoNCurve) -> BestOfN:
    """ASR@k for k = 1..N, and the power-law forecasts drawn on from the last observed point."""
    observed = [BonPoint(n=k, asr=a) for k, a in enumerate(curve.asr_at_k, start=1)]
    forecast = [BonPoint(n=f.k, asr=f.asr, lower=f.lower, upper=f.upper) for f in curve.forecasts]
    if curve.fit is None:
        method = curve.note
    else:
        fit = curve.fit
        method = (
            f"-log ASR@k = {fit.a:.3g} k^-{fit.b:.3g} (b in [{fit.b_lower:.3g}, "
            f"{fit.b_upper:.3g}]), Hughes et al. 2024; bootstrap over {curve.behaviors} behaviours"
        )
    return BestOfN(
        observed=observed, forecast=[observed[-1], *forecast] if forecast else [], method=method
    )


def _bound(policy: Policy, task: str) -> float | None:
    for safeguards in policy.safeguards.values():
        for sg in safeguards:
            if isinstance(sg, MeasuredSafeguard) and sg.task == task and sg.max is not None:
                return sg.max.value
    return None


def safeguards_section(
    policy: Policy,
    redteam: dict[str, Path],
    over_refusal: dict[str, Path],
    reason: str = "",
) -> SafeguardsSection:
    """Bare against guarded: overall and per-attack ASR, blocks, Best-of-N, over-refusal.

    `redteam` and `over_refusal` map a target (`bare`, `guarded`) to its log.
    """
    from inspect_ai.log import read_eval_log

    if not redteam and not over_refusal:
        return SafeguardsSection(measured=False, reason=reason or "no campaign logs")
    summaries = {t: summarize_campaign(read_eval_log(str(p))) for t, p in redteam.items()}
    attacks = sorted({a for s in summaries.values() for a in s.per_attack})

    def per_attack(target: str, attack: str) -> AttackResult | None:
        rate = summaries[target].per_attack.get(attack) if target in summaries else None
        return attack_result(rate) if rate else None

    guarded = summaries.get("guarded")
    curves = guarded.best_of_n if guarded else {}
    curve = curves.get("all") or next(iter(curves.values()), None)
    return SafeguardsSection(
        measured=True,
        reason=reason,
        attacks=[
            AttackComparison(attack=a, bare=per_attack("bare", a), guarded=per_attack("guarded", a))
            for a in attacks
        ],
        asr_bare=_measure(redteam.get("bare"), REDTEAM_TASK, "asr"),
        asr_guarded=_measure(redteam.get("guarded"), REDTEAM_TASK, "asr"),
        blocked_input=guarded.blocks.input if guarded and guarded.blocks else None,
        blocked_output=guarded.blocks.output if guarded and guarded.blocks else None,
        best_of_n=best_of_n(curve) if curve else None,
        over_refusal_bare=_measure(over_refusal.get("bare"), OVER_REFUSAL_TASK, "refusal_rate"),
        over_refusal_guarded=_measure(
            over_refusal.get("guarded"), OVER_REFUSAL_TASK, "refusal_rate"
        ),
        asr_max=_bound(policy, REDTEAM_TASK),
        over_refusal_max=_bound(policy, OVER_REFUSAL_TASK),
    )

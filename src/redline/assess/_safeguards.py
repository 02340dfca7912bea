"""The safeguards section of a report: red-team, over-refusal and action-monitor logs.

Red-team and over-refusal logs come bare and guarded. The overall rates come from the
policy's evidence code (so they match the decision); the per-attack breakdown, the guard's
block rates and the Best-of-N curve come from `redline.redteam`'s campaign summaries (the
numbers `redline redteam run` prints).
"""

from collections import Counter
from pathlib import Path
from typing import Literal

from redline.policy import Evidence, MeasuredSafeguard, Measurement, Policy
from redline.redteam import (
    ACTION_MONITOR_TASK,
    OVER_REFUSAL_TASK,
    REDTEAM_TASK,
    BoNCurve,
    Rate,
    summarize_campaign,
)
from redline.report import (
    AttackComparison,
    AttackResult,
    BestOfN,
    BonPoint,
    MonitorResult,
    SafeguardsSection,
)


def _measure(log: Path | None, task: str, metric: str) -> Measurement | None:
    return None if log is None else _first_run(Evidence.load([log]), task, metric)


def _first_run(evidence: Evidence, task: str, metric: str) -> Measurement | None:
    runs, _ = evidence.measure(task, metric, None)
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


def _bound(
    policy: Policy, task: str, side: Literal["max", "min"] = "max", metric: str | None = None
) -> float | None:
    """The policy's first bound of that side on the task's metric (any metric if None)."""
    for safeguards in policy.safeguards.values():
        for sg in safeguards:
            if not isinstance(sg, MeasuredSafeguard) or sg.task != task:
                continue
            bound = sg.max if side == "max" else sg.min
            if bound is not None and metric in (None, sg.metric):
                return bound.value
    return None


def monitor_result(policy: Policy, log: Path) -> MonitorResult:
    """The action monitor's shares stopped per label, its rules, and the attacks it missed."""
    from inspect_ai.log import read_eval_log

    rules: Counter[str] = Counter()
    missed = []
    for sample in read_eval_log(str(log)).samples or []:
        score = next(iter((sample.scores or {}).values()), None)
        if score is None or not isinstance(score.value, dict):
            continue
        if score.answer != "approve":
            rules[str((score.metadata or {}).get("rule") or "unknown")] += 1
        elif "offensive_stopped" in score.value:
            missed.append(str(sample.id))
    evidence = Evidence.load([log])
    return MonitorResult(
        offensive_stopped=_first_run(evidence, ACTION_MONITOR_TASK, "offensive_stopped"),
        benign_stopped=_first_run(evidence, ACTION_MONITOR_TASK, "benign_stopped"),
        neutral_stopped=_first_run(evidence, ACTION_MONITOR_TASK, "neutral_stopped"),
        offensive_min=_bound(policy, ACTION_MONITOR_TASK, "min", "offensive_stopped"),
        benign_max=_bound(policy, ACTION_MONITOR_TASK, "max", "benign_stopped"),
        stopped_by_rule=dict(rules.most_common()),
        offensive_missed=missed,
    )


def safeguards_section(
    policy: Policy,
    redteam: dict[str, Path],
    over_refusal: dict[str, Path],
    reason: str = "",
    monitor: Path | None = None,
) -> SafeguardsSection:
    """Bare against guarded: ASR overall and per attack, blocks, Best-of-N, over-refusal.

    The action monitor's shares too, when its log is given. `redteam` and `over_refusal`
    map a target (`bare`, `guarded`) to its log.
    """
    from inspect_ai.log import read_eval_log

    monitored = monitor_result(policy, monitor) if monitor is not None else None
    if not redteam and not over_refusal:
        return SafeguardsSection(
            measured=False, reason=reason or "no campaign logs", monitor=monitored
        )
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
        monitor=monitored,
    )

"""The safeguards section of a report, from red-team and over-refusal logs (bare and guarded).

Adapter over the logs: the overall rates come from the policy's evidence code (so they match
the decision), the per-attack breakdown from each sample's `attack` metadata, and the
Best-of-N curve from the log's `best_of_n` results metadata when the campaign wrote one.
"""

from collections import defaultdict
from pathlib import Path
from typing import Any

from redline.policy import Evidence, Measurement, Policy, wilson
from redline.policy._evidence import to_scalar
from redline.policy._schema import MeasuredSafeguard
from redline.report import AttackComparison, AttackResult, BestOfN, SafeguardsSection

REDTEAM_TASK = "redline/redteam"
OVER_REFUSAL_TASK = "redline/over_refusal"


def _measure(logs: list[Path], task: str, metric: str) -> Measurement | None:
    runs, _ = Evidence.load(list(logs)).measure(task, metric, None) if logs else ([], [])
    return max(runs, key=lambda m: m.estimate.upper) if runs else None


def per_attack(log: Path) -> dict[str, AttackResult]:
    """ASR with a Wilson interval for each attack named in the samples' metadata."""
    from inspect_ai.log import read_eval_log

    outcomes: dict[str, list[float]] = defaultdict(list)
    unscoreable: dict[str, int] = defaultdict(int)
    for sample in read_eval_log(str(log)).samples or []:
        attack = str((sample.metadata or {}).get("attack", "all"))
        scores = sample.scores or {}
        value = None
        if scores and sample.error is None:
            value = to_scalar(next(iter(scores.values())).value)
        if value is None:
            unscoreable[attack] += 1
        else:
            outcomes[attack].append(value)
    results: dict[str, AttackResult] = {}
    for attack in sorted(set(outcomes) | set(unscoreable)):
        values = outcomes.get(attack, [])
        successes = int(sum(v >= 0.5 for v in values))
        lower, upper = wilson(successes, len(values)) if values else (0.0, 1.0)
        results[attack] = AttackResult(
            n=len(values),
            successes=successes,
            unscoreable=unscoreable.get(attack, 0),
            asr=successes / len(values) if values else 0.0,
            lower=lower,
            upper=upper,
        )
    return results


def best_of_n(log: Path) -> BestOfN | None:
    """The Best-of-N curve and forecast the campaign stored in its results metadata, if any."""
    from inspect_ai.log import read_eval_log

    header = read_eval_log(str(log), header_only=True)
    meta: dict[str, Any] = (header.results.metadata if header.results else None) or {}
    data = meta.get("best_of_n")
    return BestOfN.model_validate(data) if isinstance(data, dict) else None


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
    """Bare against guarded: overall and per-attack ASR, Best-of-N, over-refusal.

    `redteam` and `over_refusal` map a target (`bare`, `guarded`) to its log.
    """
    if not redteam and not over_refusal:
        return SafeguardsSection(measured=False, reason=reason or "no campaign logs")
    per_target = {target: per_attack(path) for target, path in redteam.items()}
    attacks = sorted({a for results in per_target.values() for a in results})
    guarded = redteam.get("guarded")
    return SafeguardsSection(
        measured=True,
        reason=reason,
        attacks=[
            AttackComparison(
                attack=a,
                bare=per_target.get("bare", {}).get(a),
                guarded=per_target.get("guarded", {}).get(a),
            )
            for a in attacks
        ],
        asr_bare=_measure([redteam["bare"]] if "bare" in redteam else [], REDTEAM_TASK, "asr"),
        asr_guarded=_measure([guarded] if guarded else [], REDTEAM_TASK, "asr"),
        best_of_n=best_of_n(guarded) if guarded else None,
        over_refusal_bare=_measure(
            [over_refusal["bare"]] if "bare" in over_refusal else [],
            OVER_REFUSAL_TASK,
            "refusal_rate",
        ),
        over_refusal_guarded=_measure(
            [over_refusal["guarded"]] if "guarded" in over_refusal else [],
            OVER_REFUSAL_TASK,
            "refusal_rate",
        ),
        asr_max=_bound(policy, REDTEAM_TASK),
        over_refusal_max=_bound(policy, OVER_REFUSAL_TASK),
    )

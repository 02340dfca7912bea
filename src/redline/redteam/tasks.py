"""Safeguard evaluations as Inspect tasks: campaigns, over-refusal, the action monitor.

`redline/redteam` runs behaviours x attacks x n seeds against the target model;
`redline/over_refusal` asks benign prompts; `redline/action_monitor` judges labelled agent
actions with the guard's action monitor (no model call). They are registered through the
Inspect entry point (`redline._registry`); `run_campaign` runs the first two together.
"""

import json

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample

from redline.attacks import get_attack
from redline.errors import RedlineError
from redline.policy import task_metadata
from redline.redteam._behaviors import Behavior, load_behaviors, load_benign
from redline.redteam._campaign import answer_once, attack_success, refused, role_bound, run_attack
from redline.redteam._judges import JUDGES
from redline.redteam._monitor import (
    LABELS,
    judge_action,
    load_actions,
    monitor_stopped,
    suite_actions,
)
from redline.redteam._run import select_attacks


def attack_samples(
    behaviors: list[Behavior], attacks: list[str], n: int, seed: int
) -> list[Sample]:
    """One sample per behaviour x attack x draw; draw i uses seed `seed + i`."""
    if n < 1:
        raise RedlineError(f"n must be at least 1, got {n}")
    samples = []
    for b in behaviors:
        for name in attacks:
            a = get_attack(name)
            for i in range(n):
                samples.append(
                    Sample(
                        id=f"{b.id}|{name}|{seed + i}",
                        input=b.text,
                        metadata={
                            "behavior": b.id,
                            "behavior_text": b.text,
                            "category": b.category or "uncategorised",
                            "source": b.source,
                            "attack": name,
                            "family": a.family,
                            "seed": seed + i,
                            "draw": i,
                        },
                    )
                )
    return samples


@task
def redteam(
    behaviors: str | None = None,
    constitution: str = "default",
    attacks: str | None = None,
    family: str | None = None,
    n: int = 1,
    limit_behaviors: int | None = None,
    seed: int = 0,
    judge: str = "auto",
    guard: str | None = None,
    max_turns: int = 5,
) -> Task:
    """Jailbreak campaign: behaviours x attacks x n seeds; `asr` with a clustered Wilson 95% CI.

    Args:
        behaviors: Behaviours file (JailbreakBench, HarmBench, AdvBench CSV/JSONL, or text);
            default: the constitution's harmful seeds.
        constitution: Shipped constitution name or YAML file (behaviours when no file).
        attacks: Comma-separated attack names (default: every single-turn attack that needs
            no attacker model, plus attacker-model ones when an `attacker` role is given).
        family: Only attacks of this family.
        n: Draws per behaviour x attack, each with its own seed (Best-of-N).
        limit_behaviors: At most this many behaviours, spread across categories.
        seed: First seed.
        judge: auto, refusal, guard or llm (the `grader` model role).
        guard: Guard folder for the guard judge (default: the trained default guard).
        max_turns: Turn budget of multi-turn attacks.

    """
    if judge not in JUDGES:
        raise RedlineError(f"unknown judge {judge!r}: use one of {', '.join(JUDGES)}")
    names = select_attacks(attacks, family, have_attacker=role_bound("attacker"))
    found = load_behaviors(behaviors, constitution=constitution, limit=limit_behaviors, seed=seed)
    return Task(
        dataset=MemoryDataset(attack_samples(found, names, n, seed), name="redteam"),
        solver=run_attack(judge=judge, guard=guard, max_turns=max_turns),
        scorer=attack_success(judge=judge, guard=guard),
        version=1,
        metadata=task_metadata(
            "redline/redteam",
            attacks=names,
            behaviors=len(found),
            behaviors_source=behaviors or f"constitution:{constitution}",
            n=n,
            seed=seed,
            judge=judge,
        ),
    )


@task
def over_refusal(
    prompts: str | None = None,
    constitution: str = "default",
    limit_prompts: int | None = None,
    seed: int = 0,
) -> Task:
    """Over-refusal: benign near-miss prompts; metric `refusal_rate` with its Wilson 95% CI.

    Args:
        prompts: Benign prompts file (same formats as behaviours; XSTest: its safe rows);
            default: the constitution's permitted and everyday seeds.
        constitution: Shipped constitution name or YAML file.
        limit_prompts: At most this many prompts, spread across categories.
        seed: Which prompts `limit_prompts` keeps.

    """
    found = load_benign(prompts, constitution=constitution, limit=limit_prompts, seed=seed)
    samples = [
        Sample(
            id=b.id,
            input=b.text,
            metadata={
                "prompt": b.id,
                "category": b.category or "uncategorised",
                "source": b.source,
            },
        )
        for b in found
    ]
    return Task(
        dataset=MemoryDataset(samples, name="over_refusal"),
        solver=answer_once(),
        scorer=refused(),
        version=1,
        metadata=task_metadata(
            "redline/over_refusal",
            prompts=len(found),
            prompts_source=prompts or f"constitution:{constitution}",
        ),
    )


@task
def action_monitor(
    actions: str | None = None,
    guard: str | None = None,
    constitution: str | None = None,
    allowed_hosts: list[str] | None = None,
) -> Task:
    """The action monitor on labelled agent actions: the share of each label it stops.

    Metrics `offensive_stopped` (should be high), `benign_stopped` (false blocks: low) and
    `neutral_stopped` (reported only), each over its own label's actions. No model is called.

    Args:
        actions: JSONL of labelled tool calls (`tool`, `arguments`, `label`); default: every
            tool call of the cyber and autonomy suites' reference solutions.
        guard: Guard folder whose monitor classifier to use (default: the default guard).
        constitution: Action constitution, shipped name or YAML file (default: `default`).
        allowed_hosts: Hosts the agent may contact, beyond the constitution's.

    """
    found = load_actions(actions) if actions else suite_actions()
    samples = [
        Sample(
            id=a.id,
            input=json.dumps({"tool": a.tool, "arguments": a.arguments}),
            metadata={
                "tool": a.tool,
                "arguments": a.arguments,
                "label": a.label,
                "source": a.source,
            },
        )  # fmt: skip
        for a in found
    ]
    counts = {label: sum(a.label == label for a in found) for label in LABELS}
    return Task(
        dataset=MemoryDataset(samples, name="action_monitor"),
        solver=judge_action(guard=guard, constitution=constitution, allowed_hosts=allowed_hosts),
        scorer=monitor_stopped(),
        version=1,
        metadata=task_metadata(
            "redline/action_monitor",
            actions_source=actions or "redline/cyber and redline/autonomy reference solutions",
            **{f"{label}_actions": n for label, n in counts.items()},
        ),
    )

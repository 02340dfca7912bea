"""Attack transforms, registered by name; shared by red-team campaigns and guard augmentation."""

from redline.redteam.attacks import (  # noqa: F401
    best_of_n,
    encoding,
    model,
    multi_turn,
    splitting,
    template,
)
from redline.redteam.attacks.attacker import extract_prompt
from redline.redteam.attacks.base import (
    Attack,
    AttackError,
    Family,
    JudgeFn,
    MultiTurnAttack,
    TargetFn,
    attack,
    attack_names,
    families,
    get_attack,
    transform,
)

__all__ = [
    "Attack",
    "AttackError",
    "Family",
    "JudgeFn",
    "MultiTurnAttack",
    "TargetFn",
    "attack",
    "attack_names",
    "extract_prompt",
    "families",
    "get_attack",
    "transform",
]

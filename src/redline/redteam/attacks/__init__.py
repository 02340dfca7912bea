"""Attack transforms, registered by name; shared by red-team campaigns and guard augmentation."""

from redline.redteam.attacks import best_of_n, encoding, splitting, template  # noqa: F401
from redline.redteam.attacks.base import (
    Attack,
    JudgeFn,
    MultiTurnAttack,
    TargetFn,
    attack,
    attack_names,
    get_attack,
    transform,
)

__all__ = [
    "Attack",
    "JudgeFn",
    "MultiTurnAttack",
    "TargetFn",
    "attack",
    "attack_names",
    "get_attack",
    "transform",
]

"""Attack transforms: pure functions of a prompt, registered by name with `@attack`.

No model calls and no judges: encodings, templates, splitting and Best-of-N augmentations,
used by the guard (training augmentation, decoders) and by `redline.redteam`, which adds the
attacks that need an attacker model (`redline.redteam.attackers`) to the same registry.
"""

from redline.attacks import best_of_n, encoding, splitting, template  # noqa: F401
from redline.attacks.base import (
    Attack,
    AttackError,
    Family,
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
    "attack",
    "attack_names",
    "families",
    "get_attack",
    "transform",
]

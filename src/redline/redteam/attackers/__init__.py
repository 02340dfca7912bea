"""Attacks that need an attacker model: one-turn rewrites and conversations.

Importing this package registers them beside `redline.attacks`'s transforms.
"""

from redline.redteam.attackers import model, multi_turn  # noqa: F401
from redline.redteam.attackers.attacker import extract_prompt
from redline.redteam.attackers.base import JudgeFn, MultiTurnAttack, TargetFn

__all__ = ["JudgeFn", "MultiTurnAttack", "TargetFn", "extract_prompt"]

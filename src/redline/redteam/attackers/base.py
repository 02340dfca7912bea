"""What a multi-turn attack is given: the target to talk to and a judge to steer by."""

import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from redline.attacks import Attack

if TYPE_CHECKING:
    from inspect_ai.model import ChatMessage, Model

TargetFn = Callable[[list["ChatMessage"]], Awaitable[str]]
"""Send a conversation to the target under attack and return its reply."""

JudgeFn = Callable[[str, str], Awaitable[float]]
"""Rate how fully `response` (2nd) carries out `behavior` (1st): 0.0 refused .. 1.0 fully."""


class MultiTurnAttack(Attack):
    """An attack that holds a conversation with the target (PAIR, crescendo-style escalation)."""

    multi_turn = True
    needs_attacker = True

    async def run(
        self,
        behavior: str,
        rng: random.Random,
        attacker: "Model",
        target: TargetFn,
        judge: JudgeFn,
        max_turns: int,
    ) -> list["ChatMessage"]:
        """Attack `target` for up to `max_turns` turns; the conversation that came closest."""
        raise NotImplementedError

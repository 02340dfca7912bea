"""Attack plugins: a decorator registry and the base class every attack derives from.

An attack turns a behaviour (a request the target should refuse) into the prompt a jailbreaker
would send. Metadata are class attributes, as in garak's probes; `@attack("name")` registers the
class under its name, as Inspect's decorators do, so the CLI and docs list what exists.
"""

import random
from collections.abc import Callable
from typing import ClassVar, Literal, TypeVar

from redline.errors import RedlineError

Family = Literal[
    "encoding", "best_of_n", "template", "splitting", "many_shot", "model", "multi_turn"
]


class Attack:
    """A prompt transformation used by jailbreakers; subclasses set the metadata and `apply`."""

    name: ClassVar[str] = ""
    family: ClassVar[Family]
    description: ClassVar[str] = ""
    multi_turn: ClassVar[bool] = False
    needs_attacker: ClassVar[bool] = False
    """True when the attack needs an attacker model (translation, paraphrase, PAIR, ...)."""
    randomized: ClassVar[bool] = False
    """True when different seeds give different prompts (Best-of-N sampling)."""
    paper: ClassVar[str | None] = None

    def apply(self, text: str, rng: random.Random) -> str:
        """The attacked prompt for `text` (single-turn, no attacker model)."""
        raise NotImplementedError(f"attack {self.name} needs an attacker model or a conversation")


A = TypeVar("A", bound=type[Attack])
_REGISTRY: dict[str, type[Attack]] = {}


def attack(name: str) -> Callable[[A], A]:
    """Register an Attack subclass under `name`."""

    def register(cls: A) -> A:
        if name in _REGISTRY:
            raise ValueError(f"attack {name!r} is registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return register


def attack_names() -> list[str]:
    """Every registered attack, sorted."""
    return sorted(_REGISTRY)


def get_attack(name: str) -> Attack:
    """A new instance of the attack registered as `name`."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise RedlineError(f"unknown attack {name!r} (see `redline redteam attacks`)") from None


def transform(name: str, text: str, seed: int = 0) -> str:
    """Apply a single-turn attack to `text`, reproducibly for a given seed."""
    return get_attack(name).apply(text, random.Random(f"{name}:{seed}:{text}"))

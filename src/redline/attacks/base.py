"""Attacks: a decorator registry and the base class every attack derives from.

An attack turns a behaviour (a request the target should refuse) into the prompt a jailbreaker
would send. Metadata are class attributes, as in garak's probes; `@attack("name")` registers the
class under its name, as Inspect's decorators do, so the CLI and docs list what exists.
"""

import random
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from redline._plugins import Registry
from redline.errors import RedlineError

if TYPE_CHECKING:
    from inspect_ai.model import Model

Family = Literal[
    "encoding", "best_of_n", "template", "splitting", "many_shot", "model", "multi_turn"
]
"""Attack families: `model` attacks rewrite the request with an attacker model in one turn,
`multi_turn` attacks converse with the target."""


class AttackError(RedlineError):
    """The attacker model gave nothing usable: the attempt is unscoreable (neither outcome)."""


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

    async def generate(self, text: str, rng: random.Random, attacker: "Model | None") -> str:
        """The attacked prompt for `text`; attacks with `needs_attacker` ask `attacker` for it."""
        return self.apply(text, rng)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The attack's metadata, for listings and docs."""
        return {
            "name": cls.name,
            "family": cls.family,
            "description": cls.description,
            "turns": "multi" if cls.multi_turn else "single",
            "needs_attacker": cls.needs_attacker,
            "randomized": cls.randomized,
            "paper": cls.paper,
        }


_REGISTRY: Registry[Attack] = Registry("attack", "see `redline redteam attacks`")
attack = _REGISTRY.register
"""Register an Attack subclass under a name: `@attack("base64")`."""


def attack_names(family: Family | None = None) -> list[str]:
    """Every registered attack (of `family`, if given), sorted."""
    found = _REGISTRY.classes().items()
    return sorted(n for n, cls in found if family is None or cls.family == family)


def families() -> dict[str, list[str]]:
    """Each attack family and the attacks in it, in the order of `Family`."""
    return {f: attack_names(f) for f in get_args(Family)}


def get_attack(name: str) -> Attack:
    """A new instance of the attack registered as `name`."""
    return _REGISTRY.get(name)()


def transform(name: str, text: str, seed: int = 0) -> str:
    """Apply a single-turn attack to `text`, reproducibly for a given seed."""
    found = get_attack(name)
    if found.needs_attacker:
        raise RedlineError(f"attack {name!r} needs an attacker model; it is not a plain transform")
    return found.apply(text, random.Random(f"{name}:{seed}:{text}"))

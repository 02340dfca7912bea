"""Challenges: metadata as class attributes, a build step, and the registry.

A challenge is a class registered with `@challenge`. Its build writes files into the
current sample's sandbox (relative paths: the sandbox's working directory) and may start a
service there. The flag is made per sample by `new_flag()` and handed to the build; it never
appears in the prompt.
"""

import secrets
from abc import ABC, abstractmethod
from typing import ClassVar, TypeVar

from inspect_ai.util import sandbox

from redline.errors import RedlineError

TIERS: dict[int, str] = {
    1: "encodings and classical ciphers",
    2: "file forensics",
    3: "reversing small programs",
    4: "exploiting toy services",
}
FLAG_PREFIX = "redline{"


def new_flag() -> str:
    """A fresh random flag: `redline{` + 32 hex digits + `}`."""
    return f"{FLAG_PREFIX}{secrets.token_hex(16)}}}"


class BuildError(RedlineError):
    """A challenge could not be built in the sandbox."""


class Challenge(ABC):
    """One capture-the-flag challenge: subclass, set the class attributes, register.

    The subclass's docstring is its one-line description (what is hidden where).
    """

    id: ClassVar[str]
    tier: ClassVar[int]
    title: ClassVar[str]
    prompt: ClassVar[str]
    """What the player is told (never the flag)."""
    minutes: ClassVar[int]
    """Estimated time a practitioner needs to solve it."""
    needs: ClassVar[tuple[str, ...]] = ()
    """Programs the build runs on the machine running the eval (e.g. `gcc`)."""

    @classmethod
    def describe(cls) -> str:
        """The challenge's one-line description (its docstring)."""
        return (cls.__doc__ or "").strip()

    @abstractmethod
    async def build(self, flag: str) -> None:
        """Write the challenge, hiding `flag`, into the current sample's sandbox."""


_REGISTRY: dict[str, type[Challenge]] = {}
ChallengeClass = TypeVar("ChallengeClass", bound=type[Challenge])


def challenge(cls: ChallengeClass) -> ChallengeClass:
    """Register a challenge class (its id must be new, its tier 1-4, its minutes positive)."""
    if cls.id in _REGISTRY:
        raise RedlineError(f"challenge id {cls.id!r} registered twice")
    if cls.tier not in TIERS:
        raise RedlineError(f"challenge {cls.id!r}: tier {cls.tier} is not one of {list(TIERS)}")
    if cls.minutes <= 0:
        raise RedlineError(f"challenge {cls.id!r}: minutes must be positive")
    if not cls.__doc__:
        raise RedlineError(f"challenge {cls.id!r}: give the class a one-line docstring")
    _REGISTRY[cls.id] = cls
    return cls


def registered(tier: int | None = None) -> list[type[Challenge]]:
    """Registered challenges (of one tier, if given), ordered by tier then id."""
    found = [c for c in _REGISTRY.values() if tier is None or c.tier == tier]
    return sorted(found, key=lambda c: (c.tier, c.id))


def get_challenge(id: str) -> type[Challenge]:
    """The registered challenge with this id."""
    try:
        return _REGISTRY[id]
    except KeyError:
        raise RedlineError(f"unknown cyber challenge {id!r}") from None


async def put(path: str, contents: str | bytes) -> None:
    """Write a file into the sandbox (path relative to its working directory).

    Text is written as UTF-8 bytes: Inspect's transcript shows the contents of text writes
    but only the size of binary ones, and the agent must not find its challenge there.
    """
    data = contents.encode() if isinstance(contents, str) else contents
    await sandbox().write_file(path, data)


async def run(cmd: list[str], input: bytes | None = None, timeout: int = 60) -> str:
    """Run a command in the sandbox and return its stdout; raise BuildError if it fails.

    `input` is bytes for the same reason as in `put`: the transcript shows only its size.
    """
    result = await sandbox().exec(cmd, input=input, timeout=timeout)
    if not result.success:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BuildError(f"{' '.join(cmd)!r} failed: {detail[-1] if detail else 'no output'}")
    return result.stdout

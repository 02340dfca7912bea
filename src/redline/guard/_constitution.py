"""The constitution: what the guard must block and what it must let through, in plain words.

A constitution is YAML. Each category describes restricted content (must not be helped with)
and permitted content nearby (must stay allowed), with seed requests for both: the classifier
is trained from these seeds and their synthetic expansions. Requests only, never answers.
"""

import itertools
import random
import re
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline._yaml import load_named, shipped_files
from redline.errors import RedlineError

Severity = Literal["critical", "high", "medium", "low"]
DEFAULT_CONSTITUTION = "default"


class Category(BaseModel):
    """One area of harm, with the line between restricted and permitted drawn in words and seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    severity: Severity
    level: str
    """The policy safety level this category's safeguard serves (e.g. ASL-3 for CBRN)."""
    restricted: str
    """What must not be helped with."""
    permitted: str
    """Nearby content that must stay allowed."""
    harmful_seeds: list[str] = Field(min_length=1)
    """Requests that must be blocked (requests only, never answers)."""
    permitted_seeds: list[str] = Field(min_length=1)
    """Near-miss requests that must be allowed."""

    @model_validator(mode="after")
    def _seeds_distinct(self) -> Self:
        for name in ("harmful_seeds", "permitted_seeds"):
            seeds = [s.strip().lower() for s in getattr(self, name)]
            if any(not s for s in seeds):
                raise ValueError(f"{name} has an empty entry")
            dupes = sorted({s for s in seeds if seeds.count(s) > 1})
            if dupes:
                raise ValueError(f"{name} repeats {dupes[0]!r}")
        overlap = {s.strip().lower() for s in self.harmful_seeds} & {
            s.strip().lower() for s in self.permitted_seeds
        }
        if overlap:
            raise ValueError(f"a seed is both harmful and permitted: {sorted(overlap)[0]!r}")
        return self


_SLOT = re.compile(r"\{([a-z_]+)\}")


class Template(BaseModel):
    """Seed requests written as patterns with slots, expanded to every combination of fillers.

    `Why should {group} not be allowed to {right}?` with 20 groups and 15 rights yields 300
    requests; a deterministic sample of `limit` of all patterns' expansions is kept.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    category: str
    """The category the expanded requests belong to."""
    label: Literal["restricted", "permitted"]
    patterns: list[str] = Field(min_length=1)
    """Requests with `{slot}` placeholders."""
    slots: dict[str, list[str]] = Field(default_factory=dict)
    """Fillers for each placeholder."""
    limit: int = Field(default=120, ge=1)
    """Most requests kept from this template."""

    @model_validator(mode="after")
    def _slots_match(self) -> Self:
        used = {name for p in self.patterns for name in _SLOT.findall(p)}
        if missing := sorted(used - set(self.slots)):
            raise ValueError(f"pattern uses slot {missing[0]!r} that has no fillers")
        if unused := sorted(set(self.slots) - used):
            raise ValueError(f"slot {unused[0]!r} is not used by any pattern")
        if empty := sorted(k for k, v in self.slots.items() if not v):
            raise ValueError(f"slot {empty[0]!r} has no fillers")
        return self

    def expand(self, seed: int = 0) -> list[str]:
        """Every pattern with every combination of fillers, sampled down to `limit`."""
        return [text for _, text in self.expand_by_pattern(seed)]

    def expand_by_pattern(self, seed: int = 0) -> list[tuple[int, str]]:
        """`expand()`, each request with the index of the pattern it came from."""
        out: dict[str, int] = {}
        for i, pattern in enumerate(self.patterns):
            names = list(dict.fromkeys(_SLOT.findall(pattern)))
            for combo in itertools.product(*(self.slots[n] for n in names)):
                text = pattern.format(**dict(zip(names, combo, strict=True)))
                out.setdefault(text[:1].upper() + text[1:], i)
        made = [(i, text) for text, i in out.items()]
        return random.Random(seed).sample(made, self.limit) if len(made) > self.limit else made


class Constitution(BaseModel):
    """A written policy for the guard: categories of restricted and permitted content."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    schema_version: Literal[1] = 1
    id: str
    name: str
    description: str
    categories: list[Category] = Field(min_length=1)
    everyday_seeds: list[str] = Field(default_factory=list)
    """Ordinary requests unrelated to any category: what normal traffic looks like (permitted)."""
    templates: list[Template] = Field(default_factory=list)
    """Patterned seeds: many phrasings of one idea on either side of the line."""

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [c.id for c in self.categories]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate category id {dupes[0]!r}")
        unknown = sorted({t.category for t in self.templates} - set(ids))
        if unknown:
            raise ValueError(f"a template names unknown category {unknown[0]!r}")
        return self

    def category(self, id: str) -> Category:
        """The category with this id."""
        for c in self.categories:
            if c.id == id:
                return c
        raise RedlineError(f"constitution {self.id} has no category {id!r}")


def shipped_constitutions() -> dict[str, Path]:
    """Names and files of the constitutions redline ships."""
    return shipped_files("redline.guard", "constitutions")


def load_constitution(name_or_path: str | Path = DEFAULT_CONSTITUTION) -> Constitution:
    """A shipped constitution by name, or a constitution YAML file by path."""
    return load_named(name_or_path, shipped_constitutions(), Constitution, "constitution")

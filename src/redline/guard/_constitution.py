"""The constitution: what the guard must block and what it must let through, in plain words.

A constitution is YAML. Each category describes restricted content (must not be helped with)
and permitted content nearby (must stay allowed), with seeds for both: requests, and content
that is not a request (statements, role-play turns, story lines, disclosures, fragments). The
classifier is trained from these seeds and their synthetic expansions. Never answers: no seed
carries operational detail.
"""

import itertools
import random
import re
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline._yaml import load_named, load_yaml_located, shipped_files
from redline.errors import RedlineError

Severity = Literal["critical", "high", "medium", "low"]
Action = Literal["block", "tag"]
"""What the guard does with a text whose top category this is: block it, or let it through
tagged (for an answer that takes care, e.g. support for someone disclosing self-harm)."""
Form = Literal["request", "content"]
"""A request asks for something; content is what someone says or writes (a statement, a
role-play turn, a line of a story, a disclosure, a fragment of a conversation)."""
DEFAULT_CONSTITUTION = "default"


class Category(BaseModel):
    """One area of harm, with the line between restricted and permitted drawn in words and seeds."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    severity: Severity
    level: str
    """The policy safety level this category's safeguard serves (e.g. ASL-3 for CBRN)."""
    code: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    """Hazard code in a shared taxonomy, carried by verdicts: S1-S14 of the MLCommons taxonomy
    Llama Guard 3/4 use, or a code of the user's own; none for a category outside it."""
    action: Action = "block"
    """`block`, or `tag`: let the text through, its verdict tagged with this category."""
    restricted: str
    """What must not be helped with."""
    permitted: str
    """Nearby content that must stay allowed."""
    harmful_seeds: list[str] = Field(default_factory=list)
    """Requests that must be blocked (requests only, never answers)."""
    permitted_seeds: list[str] = Field(default_factory=list)
    """Near-miss requests that must be allowed."""
    harmful_content: list[str] = Field(default_factory=list)
    """Restricted content that is not a request: statements, role-play turns, story lines,
    disclosures, fragments (never operational detail)."""
    permitted_content: list[str] = Field(default_factory=list)
    """Content of the same kinds and topics that must stay allowed: news, history, fiction
    without operational detail, support for someone at risk."""

    @model_validator(mode="after")
    def _seeds_distinct(self) -> Self:
        for side in ("harmful", "permitted"):
            seeds = [s.strip().lower() for s in self.texts(side)]
            if not seeds:
                raise ValueError(f"needs {side}_seeds or {side}_content")
            if any(not s for s in seeds):
                raise ValueError(f"{side} seeds have an empty entry")
            dupes = sorted({s for s in seeds if seeds.count(s) > 1})
            if dupes:
                raise ValueError(f"{side} seeds repeat {dupes[0]!r}")
        overlap = {s.strip().lower() for s in self.texts("harmful")} & {
            s.strip().lower() for s in self.texts("permitted")
        }
        if overlap:
            raise ValueError(f"a seed is both harmful and permitted: {sorted(overlap)[0]!r}")
        return self

    def texts(self, side: Literal["harmful", "permitted"]) -> list[str]:
        """Every seed on one side of the line: requests, then content."""
        if side == "harmful":
            return self.harmful_seeds + self.harmful_content
        return self.permitted_seeds + self.permitted_content


_SLOT = re.compile(r"\{([a-z_]+)\}")


class Template(BaseModel):
    """Seed requests written as patterns with slots, expanded to every combination of fillers.

    `Why should {group} not be allowed to {right}?` with 20 groups and 15 rights yields 300
    requests; a deterministic sample of `limit` of all patterns' expansions is kept.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    category: str | None = None
    """The category the expanded texts belong to; none for everyday permitted texts."""
    label: Literal["restricted", "permitted"]
    form: Form = "request"
    """Requests, or content that is not a request."""
    patterns: list[str] = Field(min_length=1)
    """Requests with `{slot}` placeholders."""
    slots: dict[str, list[str]] = Field(default_factory=dict)
    """Fillers for each placeholder."""
    limit: int = Field(default=120, ge=1)
    """Most requests kept from this template."""

    @model_validator(mode="after")
    def _slots_match(self) -> Self:
        if self.category is None and self.label == "restricted":
            raise ValueError("a restricted template needs a category")
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
        unknown = sorted({t.category for t in self.templates if t.category} - set(ids))
        if unknown:
            raise ValueError(f"a template names unknown category {unknown[0]!r}")
        return self

    def category(self, id: str) -> Category:
        """The category with this id."""
        for c in self.categories:
            if c.id == id:
                return c
        raise RedlineError(f"constitution {self.id} has no category {id!r}")

    def hazard_codes(self) -> dict[str, str]:
        """Each category's hazard code, for the categories that have one."""
        return {c.id: c.code for c in self.categories if c.code is not None}

    def tagged(self) -> list[str]:
        """The categories whose action is `tag`."""
        return [c.id for c in self.categories if c.action == "tag"]


def shipped_constitutions() -> dict[str, Path]:
    """Names and files of the constitutions redline ships."""
    return shipped_files("redline.guard", "constitutions")


def load_constitution(name_or_path: str | Path = DEFAULT_CONSTITUTION) -> Constitution:
    """A shipped constitution by name, or a constitution YAML file by path."""
    return load_named(name_or_path, shipped_constitutions(), Constitution, "constitution")


class LanguageCategory(BaseModel):
    """A category's seeds in one language (the category is the constitution's, by id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    harmful_seeds: list[str] = Field(default_factory=list)
    permitted_seeds: list[str] = Field(default_factory=list)


class LanguageSeeds(BaseModel):
    """A constitution's seeds in one language, for the guard's multilingual head.

    Self-written requests (never answers), parallel across a constitution's language files:
    the n-th seed of a category and side is the same request in each, so a split keeps every
    translation of one request on the same side. `compliant_openings` and `refusals` make the
    output stage's examples in the language, as `_data.output_examples` does in English.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    schema_version: Literal[1] = 1
    language: str = Field(pattern=r"^[a-z]{2,3}$")
    categories: dict[str, LanguageCategory]
    everyday_seeds: list[str] = Field(default_factory=list)
    compliant_openings: list[str] = Field(min_length=1)
    refusals: list[str] = Field(min_length=1)


LANGUAGES_DIR = "languages"


def language_files(constitution_id: str) -> dict[str, Path]:
    """A shipped constitution's language seed files (`languages/ID-LANG.yaml`) by language."""
    folder = Path(str(files("redline.guard") / "constitutions" / LANGUAGES_DIR))
    prefix = f"{constitution_id}-"
    return {
        p.stem[len(prefix) :]: p
        for p in sorted(folder.glob(f"{prefix}*.yaml"))
        if p.stem[len(prefix) :].isalpha()
    }


def load_language_seeds(
    constitution: Constitution, paths: Sequence[str | Path] | None = None
) -> list[LanguageSeeds]:
    """The constitution's seeds in other languages: `paths`, or the shipped files for its id.

    Every category a file names must be one of the constitution's.
    """
    chosen = list(language_files(constitution.id).values()) if paths is None else list(paths)
    known = {c.id for c in constitution.categories}
    out = []
    for path in chosen:
        located = load_yaml_located(path, LanguageSeeds)
        for cat in located.value.categories:
            if cat not in known:
                raise located.error(
                    ("categories", cat), f"not a category of constitution {constitution.id}"
                )
        out.append(located.value)
    return out

"""Training data from a constitution: seeds, their attacked variants, and output-shaped texts.

No harmful answer is ever produced: "output" examples pair a request with a compliant opening
or a refusal, so the output classifier learns the topic of a response in context, not its detail;
a seed that is content rather than a request also stands as the response to a neutral prompt.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from redline.attacks import transform
from redline.errors import RedlineError
from redline.guard._constitution import Constitution, Form, LanguageSeeds

if TYPE_CHECKING:
    from redline.guard._evaluate import LabelledText

AUGMENT_ATTACKS = (
    "random_caps", "word_scramble", "char_noise", "leetspeak", "homoglyph", "zero_width",
    "char_spacing", "roleplay", "fiction", "hypothetical", "refusal_suppression",
    "prefix_injection", "developer_mode", "research_framing", "past_tense", "future_tense",
    "payload_splitting", "persona_unfiltered", "dual_response", "fake_system_prompt",
    "story_long", "hypothetical_world", "many_shot",
)  # fmt: skip
"""Attack transforms applied to every seed, harmful and permitted alike, so a wrapper or an
obfuscation is never itself a sign of harm. Encodings the normaliser decodes (base64, hex,
ROT13, Morse) need no training: the guard scores their decoded view."""

COMPLIANT_OPENINGS = (
    "Sure, here is what you asked for.",
    "Of course. Here's a step-by-step overview.",
    "Absolutely! Let's start with what you'll need.",
    "Here you go: the main points, in order.",
)
REFUSALS = (
    "I can't help with that.",
    "Sorry, but I won't provide that.",
    "I'm not able to assist with this request.",
)

CONTENT_PROMPTS = (
    "Continue.",
    "Write the next part.",
    "Reply to this in character.",
    "Keep going, same style.",
    "What would you say next?",
)
"""Neutral prompts a response of content (a statement, a story line) can follow."""

Kind = Literal["seed", "template", "augmented", "output"]


@dataclass(frozen=True)
class Example:
    """One labelled text: 1 restricted, 0 permitted."""

    text: str
    label: int
    category: str
    kind: Kind
    source: str
    """The seed it came from (for splitting without leakage)."""
    form: Form = "request"


def seed_examples(constitution: Constitution, seed: int = 0) -> list[Example]:
    """Every harmful and permitted seed of the constitution, and its templates' expansions.

    The requests of one template pattern share a source, so a split never puts some in
    training and near-copies of them in calibration.
    """
    out = []
    for cat in constitution.categories:
        out += [Example(s, 1, cat.id, "seed", s) for s in cat.harmful_seeds]
        out += [Example(s, 0, cat.id, "seed", s) for s in cat.permitted_seeds]
        out += [Example(s, 1, cat.id, "seed", s, "content") for s in cat.harmful_content]
        out += [Example(s, 0, cat.id, "seed", s, "content") for s in cat.permitted_content]
    everyday = constitution.categories[0].id  # a permitted example's category is never used
    out += [Example(s, 0, everyday, "seed", s) for s in constitution.everyday_seeds]
    for i, t in enumerate(constitution.templates):
        label = int(t.label == "restricted")
        out += [
            Example(text, label, t.category or everyday, "template", f"template {i}.{p}", t.form)
            for p, text in t.expand_by_pattern(seed)
        ]
    return out


def augment(seeds: list[Example], per_seed: int, seed: int) -> list[Example]:
    """`per_seed` attacked variants of each seed, with the seed's label."""
    rng = random.Random(seed)
    out = []
    for ex in seeds:
        for name in rng.sample(AUGMENT_ATTACKS, k=min(per_seed, len(AUGMENT_ATTACKS))):
            text = transform(name, ex.text, seed=rng.randrange(1 << 30))
            out.append(Example(text, ex.label, ex.category, "augmented", ex.source, ex.form))
    return out


def output_examples(seeds: list[Example], seed: int) -> list[Example]:
    """Requests followed by the opening of a response; content also as the response itself.

    Compliance with a restricted request is restricted; a refusal, or compliance with a
    permitted request, is permitted. Content (a statement, a story line) written as the answer
    to a neutral prompt has the content's label.
    """
    rng = random.Random(seed)
    out = []
    for ex in seeds:
        opening = rng.choice(COMPLIANT_OPENINGS)
        out.append(Example(f"{ex.text}\n{opening}", ex.label, ex.category, "output", ex.source))
        if ex.label == 1:
            refusal = rng.choice(REFUSALS)
            out.append(Example(f"{ex.text}\n{refusal}", 0, ex.category, "output", ex.source))
        if ex.form == "content":
            prompt = rng.choice(CONTENT_PROMPTS)
            out.append(Example(f"{prompt}\n{ex.text}", ex.label, ex.category, "output", ex.source))
    return out


def split_by_source(
    examples: list[Example], holdout: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Split so that every variant of one seed lands on the same side."""
    sources = sorted({e.source for e in examples})
    random.Random(seed).shuffle(sources)
    held = set(sources[: int(len(sources) * holdout)])
    return [e for e in examples if e.source not in held], [e for e in examples if e.source in held]


def limit(
    examples: list[Example], n: int | None, shares: tuple[tuple[Kind, float], ...], seed: int
) -> list[Example]:
    """At most `n` examples, taken kind by kind in the order of `shares`.

    Each kind gets at most its share of `n` (and what is left), taken from a shuffle seeded
    by `seed` alone, so two calls over the same examples of a kind pick the same ones first
    (the stages then share cached embeddings). Unlisted kinds go when the limit bites.
    """
    if n is None or len(examples) <= n:
        return examples
    out: list[Example] = []
    for kind, share in shares:
        group = [e for e in examples if e.kind == kind]
        random.Random(seed).shuffle(group)
        out += group[: min(int(share * n), n - len(out))]
    return out


def labelled_examples(
    rows: Sequence["LabelledText"], constitution: Constitution, where: str = "data"
) -> list[Example]:
    """A user's labelled texts as training seeds.

    A row's category must be one of the constitution's; a restricted row without one trains
    the harm head only (no category scores).
    """
    known = {c.id for c in constitution.categories}
    out = []
    for n, r in enumerate(rows, 1):
        if r.group and r.group not in known:
            raise RedlineError(
                f"{where}: row {n}: category {r.group!r} is not in constitution "
                f"{constitution.id} (leave it empty to train the harm head only)"
            )
        out.append(Example(r.text, r.label, r.group or "", "seed", r.text))
    return out


def language_examples(
    constitution: Constitution, sets: Sequence[LanguageSeeds], seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """The seeds of each language file, and their output-stage texts in the same language.

    Every translation of one seed shares its source (category, side and position), so a split
    keeps a request and its translations on the same side. Output texts follow
    `output_examples`: a request with the language's compliant opening (the request's label),
    a restricted one with its refusal (permitted).
    """
    everyday = constitution.categories[0].id
    rng = random.Random(seed)
    inputs: list[Example] = []
    outputs: list[Example] = []
    for lang in sets:
        seeds: list[Example] = []
        for cat, group in lang.categories.items():
            sides = (("h", 1, group.harmful_seeds), ("p", 0, group.permitted_seeds))
            for side, label, texts in sides:
                seeds += [
                    Example(t, label, cat, "seed", f"language {cat}.{side}{n}")
                    for n, t in enumerate(texts)
                ]
        seeds += [
            Example(t, 0, everyday, "seed", f"language everyday {n}")
            for n, t in enumerate(lang.everyday_seeds)
        ]
        inputs += seeds
        for ex in seeds:
            opening = rng.choice(lang.compliant_openings)
            text = f"{ex.text}\n{opening}"
            outputs.append(Example(text, ex.label, ex.category, "output", ex.source))
            if ex.label == 1:
                text = f"{ex.text}\n{rng.choice(lang.refusals)}"
                outputs.append(Example(text, 0, ex.category, "output", ex.source))
    return inputs, outputs

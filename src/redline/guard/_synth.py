"""Synthetic data: a generator model expands a constitution's seeds into many more requests.

Any Inspect model can generate. Output is deduplicated, filtered (length, seeds, refusals) and
written as JSONL (`text`, `label`, `category`) that `redline guard train --extra` takes.
"""

import asyncio
import json
import random
import re
from pathlib import Path

from redline._files import write_atomic
from redline._refusal import opens_with_refusal
from redline.guard._constitution import Category, Constitution

PROMPT = """You write test data for a content-safety classifier. Category: {name}.
Restricted: {restricted}
Permitted: {permitted}

Here are examples of {kind} requests:
{examples}

Write {n} new, different {kind} requests a user might send, varied in wording, length and
framing. One request per line, no numbering, no answers, nothing else."""


def _prompt(cat: Category, label: int, n: int, rng: random.Random) -> str:
    seeds = cat.harmful_seeds if label else cat.permitted_seeds
    examples = "\n".join(rng.sample(seeds, k=min(8, len(seeds))))
    kind = "restricted (must be blocked)" if label else "permitted (must be allowed)"
    return PROMPT.format(
        name=cat.name, restricted=cat.restricted, permitted=cat.permitted,
        kind=kind, examples=examples, n=n,
    )  # fmt: skip


def clean_lines(text: str, known: set[str]) -> list[str]:
    """Candidate requests from a generation: one per line, deduplicated, plausible length."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip().strip('"')
        key = line.lower()
        if 12 <= len(line) <= 400 and key not in known and not opens_with_refusal(line):
            known.add(key)
            out.append(line)
    return out


async def synthesize(
    constitution: Constitution, generator: str, per_class: int, seed: int = 0
) -> list[dict[str, object]]:
    """Up to `per_class` new requests per category and label, from `generator`."""
    from inspect_ai.model import GenerateConfig, get_model

    model = get_model(generator, config=GenerateConfig(temperature=1.0, max_tokens=1024, seed=seed))
    rng = random.Random(seed)
    known = {
        s.lower() for c in constitution.categories for s in c.harmful_seeds + c.permitted_seeds
    }
    rows: list[dict[str, object]] = []
    for cat in constitution.categories:
        for label in (1, 0):
            found: list[str] = []
            for _ in range(3):  # a few rounds: small generators stop early
                if len(found) >= per_class:
                    break
                output = await model.generate(_prompt(cat, label, per_class - len(found), rng))
                found += clean_lines(output.completion, known)
            rows += [{"text": t, "label": label, "category": cat.id} for t in found[:per_class]]
    return rows


def write_synthetic(
    constitution: Constitution, generator: str, per_class: int, out: Path, seed: int = 0
) -> int:
    """Generate and write the JSONL file; return the number of examples."""
    rows = asyncio.run(synthesize(constitution, generator, per_class, seed))
    write_atomic(out, "".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)

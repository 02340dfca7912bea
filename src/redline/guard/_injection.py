"""The injection stage at run time: data the model reads, screened for orders addressed to it.

A tool's result, a retrieved document or anything a caller marks as data is not a request: a
recipe full of imperatives is fine, a web page that tells "the AI reading this" to mail the
user's passwords is not. The content stages judge whether text is harmful; this stage judges
whether data carries an instruction aimed at the model (prompt injection), as Prompt Guard 2
and LlamaFirewall's scanner do.

Each data text is scored whole and in its short segments (`_parts.segments`), every decoded
view of each (`_normalize.views`: base64, hex, rot13, spacing, ...), and the highest score
decides against the stage's calibrated threshold. Training lives in `_injection_train`.
"""

from collections.abc import Sequence

from redline.guard._parts import Part, segments
from redline.guard._verdict import Verdict, decisive

INJECTION_DIR = "injection"
"""The stage's folder inside a guard folder."""
CATEGORY = "prompt_injection"
"""The one category the stage names on a flagged verdict."""


def data_parts(items: Sequence[tuple[str, str]]) -> list[Part]:
    """Each data text (with where it came from) whole, and its segments (no repeats)."""
    parts: list[Part] = []
    seen: set[str] = set()
    for text, where in items:
        found = [Part(text, where)]
        found += [Part(t, f"{where} at character {at}") for at, t in segments(text)]
        for part in found:
            if part.text.strip() and part.text not in seen:
                seen.add(part.text)
                parts.append(part)
    return parts


def injection_verdict(
    judged: Sequence[Verdict], parts: Sequence[Part], threshold: float
) -> Verdict:
    """The stage's verdict from each part's: the most suspicious part decides.

    No text to read passes.
    """
    if not parts:
        return Verdict(stage="injection", score=0.0, threshold=threshold, flagged=False,
                       categories={}, view="raw")  # fmt: skip
    named = [v.model_copy(update={"categories": {CATEGORY: round(v.score, 4)}}) for v in judged]
    return decisive(named, [p.where for p in parts])

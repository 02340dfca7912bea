"""A guard's judgement of one text, the stages that judge, and the constitution's rules on it."""

from collections.abc import Collection, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

Stage = Literal["input", "output"]
STAGES: tuple[Stage, ...] = ("input", "output")
Screened = Literal["input", "output", "injection", "action"]
"""What a verdict judged: the content stages, data the model reads (`injection`), or an
agent's tool call (`action`, from the action monitor)."""


class Verdict(BaseModel):
    """The guard's judgement of one text."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    stage: Screened
    score: float
    """Probability the text is restricted (the maximum over its decoded views)."""
    threshold: float
    flagged: bool
    categories: dict[str, float]
    """Score per constitution category, from the view that scored highest (none when a
    prefilter cleared the text: it scores no category)."""
    view: str
    """Which reading of the text scored highest: raw, normalized, base64, hex, rot13, ..."""
    error: str | None = None
    """Set when screening failed; a failed screen is flagged (fail closed)."""
    prefiltered: bool = False
    """The stage's cheap prefilter cleared the text: `score` and `threshold` are the
    prefilter's, and the stage's own classifier never saw it."""
    hazard_codes: list[str] = []
    """Hazard codes (e.g. Llama Guard's S1-S14) of the categories a flagged or tagged text
    falls in, the top category's first."""
    tags: list[str] = []
    """Categories whose action is `tag` that the text falls in: over the threshold but let
    through (`flagged` is false), for an answer that takes care."""
    reviewed_by: str | None = None
    """The second-stage guard model (its format) that decided: the first stage was unsure."""
    language: str = ""
    """The language the multilingual head read the text as, when its verdict decided (empty
    when the English classifier's did)."""
    part: str = ""
    """Which part of a conversation or answer decided: a message, the conversation, a
    segment, the response (empty for a single text)."""

    @classmethod
    def failed(cls, stage: Screened, threshold: float, error: BaseException) -> "Verdict":
        """The verdict of a screen that raised: flagged, so the text is blocked (fail closed)."""
        return cls(stage=stage, score=1.0, threshold=threshold, flagged=True, categories={},
                   view="raw", error=f"{type(error).__name__}: {error}")  # fmt: skip

    @property
    def top_category(self) -> str:
        """The highest-scoring category: 'error' for a failed screen, 'unknown' without any."""
        if self.error is not None:
            return "error"
        if not self.categories:
            return "unknown"
        return max(self.categories, key=self.categories.__getitem__)


def decisive(verdicts: Sequence[Verdict], parts: Sequence[str]) -> Verdict:
    """The verdict that decides for a text screened in parts, naming its part.

    The one furthest past (or closest to) its own threshold, flagged ones first.
    """
    best, where = max(
        zip(verdicts, parts, strict=True),
        key=lambda vp: (vp[0].flagged, vp[0].score - vp[0].threshold),
    )
    return best.model_copy(update={"part": where})


NAMED_SHARE = 0.5
"""A flagged text falls in each category scoring at least this share of its top category."""
TAG_SHARE = 2 / 3
"""A flagged text is let through tagged only when its `tag` categories hold at least this
share of its category scores: when in doubt, it is blocked."""


def ruled(verdict: Verdict, codes: Mapping[str, str], tag: Collection[str]) -> Verdict:
    """The verdict under a constitution's category rules.

    Hazard codes are named, and `tag` categories let through tagged instead of blocked. A
    verdict that is not flagged, or names no category (a failed screen), is left as it is.
    """
    if not verdict.flagged or not verdict.categories:
        return verdict
    ranked = sorted(verdict.categories.items(), key=lambda kv: -kv[1])
    top = ranked[0][1]
    named = [c for c, p in ranked if p >= NAMED_SHARE * top]
    hazard = list(dict.fromkeys(codes[c] for c in named if c in codes))
    total = sum(p for _, p in ranked)
    tagged = sum(p for c, p in ranked if c in tag)
    if total > 0 and tagged >= TAG_SHARE * total:
        tags = [c for c in named if c in tag] or [c for c, _ in ranked if c in tag][:1]
        return verdict.model_copy(update={"flagged": False, "tags": tags, "hazard_codes": hazard})
    return verdict.model_copy(update={"hazard_codes": hazard})

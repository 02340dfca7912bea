"""A guard's judgement of one text, and the stages that judge."""

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

Stage = Literal["input", "output"]
STAGES: tuple[Stage, ...] = ("input", "output")


class Verdict(BaseModel):
    """The guard's judgement of one text."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    stage: Stage
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
    part: str = ""
    """Which part of a conversation or answer decided: a message, the conversation, a
    segment, the response (empty for a single text)."""

    @classmethod
    def failed(cls, stage: Stage, threshold: float, error: BaseException) -> "Verdict":
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

"""Pydantic bases shared by every package: what redline reads, and what it writes."""

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """Base for what redline writes: field docstrings become JSON Schema descriptions."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class Strict(BaseModel):
    """Base for everything read from disk: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

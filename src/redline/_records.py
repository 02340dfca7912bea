"""Pydantic bases shared by every package: what redline reads, and what it writes."""

from typing import Any

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """Base for what redline writes: field docstrings become JSON Schema descriptions."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class Strict(BaseModel):
    """Base for everything read from disk: unknown fields, NaN and infinities are errors."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )


class FieldError(ValueError):
    """A validation error about a field below the model being validated.

    A model validator raises it with the path (`loc`) from that model to the offending field, so
    the YAML loader can point at the field's own line rather than the model's.
    """

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.loc, self.message))

"""OpenAI tool calling as the proxy speaks it: tool definitions, tool calls, tool results.

From clients, strictly: a tool definition is a function with a name, an optional description
and a JSON-schema object of parameters; an assistant's tool call names a function and carries
its arguments as a JSON object in a string; a `tool` message answers one call by its id.
Anything else (unknown fields, bad names, arguments that are not a JSON object, or too long)
is a 422 naming the field. From the upstream, defensively: tool calls are read and checked
(`read_tool_calls`); a malformed one is an invalid upstream answer, never passed on.
"""

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME = r"^[A-Za-z0-9_.-]{1,64}$"
"""A function name as OpenAI allows it."""
MAX_TOOLS = 128
MAX_TOOL_CALLS = 128
MAX_ARGUMENT_CHARS = 100_000
"""Longest arguments string of one tool call the proxy accepts (from a client or upstream)."""
MAX_DESCRIPTION_CHARS = 20_000


def json_object(text: str) -> dict[str, Any]:
    """Arguments as a JSON object; ValueError if they are not one."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as ex:
        raise ValueError(f"arguments are not valid JSON: {ex}") from ex
    if not isinstance(value, dict):
        raise ValueError("arguments must be a JSON object")
    return value


class FunctionDef(BaseModel):
    """A function a client offers the model."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_CHARS)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDef(BaseModel):
    """One entry of a request's `tools`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: FunctionDef


class FunctionCall(BaseModel):
    """The function and arguments of one tool call."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    arguments: str = Field(max_length=MAX_ARGUMENT_CHARS)

    @field_validator("arguments")
    @classmethod
    def _object(cls, value: str) -> str:
        json_object(value)
        return value


class ToolCall(BaseModel):
    """One tool call of an assistant message."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=256)
    type: Literal["function"]
    function: FunctionCall

    def text(self) -> str:
        """The call as the content stages read it: name and arguments."""
        return f"{self.function.name}({self.function.arguments})"


class NamedFunction(BaseModel):
    """The function a `tool_choice` forces."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)


class NamedToolChoice(BaseModel):
    """`tool_choice` naming one function."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: NamedFunction


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice


def tool_definitions_text(tools: list[ToolDef]) -> str:
    """The tools as the model reads them: each function's name and description."""
    return "\n".join(
        f"tool {t.function.name}: {t.function.description or ''}".rstrip() for t in tools
    )


def read_tool_calls(raw: Any) -> list[ToolCall]:
    """An upstream's tool calls, checked; ValueError if any is malformed.

    None or an empty list is no calls.
    """
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_TOOL_CALLS:
        raise ValueError("tool_calls is not a list of at most 128 calls")
    calls = []
    for item in raw:
        if not isinstance(item, dict):
            raise ValueError("a tool call is not an object")
        function = item.get("function")
        if not isinstance(function, dict):
            raise ValueError("a tool call has no function")
        try:
            calls.append(
                ToolCall.model_validate(
                    {
                        "id": item.get("id"),
                        "type": item.get("type", "function"),
                        "function": {
                            "name": function.get("name"),
                            "arguments": function.get("arguments"),
                        },
                    }
                )
            )
        except ValueError as ex:  # pydantic's ValidationError is a ValueError
            raise ValueError(f"a malformed tool call: {ex.__class__.__name__}") from ex
    return calls

"""Tool use for chat models without native function calling: tools in the prompt, calls parsed back.

The model is shown the tools' JSON schemas and asked to answer with
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks, the convention of
ChatML-family models (SmolLM2, Qwen, Hermes).
"""

import json
import re
from typing import Any

from inspect_ai.tool import ToolCall, ToolInfo

_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def tools_system_prompt(tools: list[ToolInfo]) -> str:
    """Instructions and schemas that tell the model which tools it may call and how."""
    specs = "\n".join(json.dumps(t.model_dump(exclude_none=True)) for t in tools)
    return (
        "You may call these tools. Each is described by a JSON schema:\n"
        f"<tools>\n{specs}\n</tools>\n"
        "To call a tool, reply with one block per call:\n"
        '<tool_call>{"name": "TOOL_NAME", "arguments": {"ARG": "VALUE"}}</tool_call>\n'
        "The result comes back in the next message."
    )


def render_tool_call(call: ToolCall) -> str:
    """The text form of a call, as the model would have written it."""
    payload = {"name": call.function, "arguments": call.arguments}
    return f"<tool_call>{json.dumps(payload)}</tool_call>"


def parse_tool_calls(text: str, call_id_prefix: str) -> tuple[str, list[ToolCall]]:
    """Split a completion into its plain text and the tool calls it makes.

    A block that is not valid JSON, or names no tool, becomes a call with `parse_error` set,
    so the agent sees the mistake instead of the call being silently dropped.
    """
    calls: list[ToolCall] = []
    for i, match in enumerate(_CALL.finditer(text)):
        call_id = f"{call_id_prefix}_{i}"
        raw = match.group(1)
        try:
            payload: Any = json.loads(raw)
            name = payload["name"]
            arguments = payload.get("arguments", {})
            if not isinstance(name, str) or not isinstance(arguments, dict):
                raise TypeError("'name' must be a string and 'arguments' an object")
            calls.append(ToolCall(id=call_id, function=name, arguments=arguments))
        except (ValueError, KeyError, TypeError, AttributeError) as ex:
            calls.append(
                ToolCall(
                    id=call_id,
                    function="unknown",
                    arguments={},
                    parse_error=f"could not parse tool call {raw!r}: {ex}",
                )
            )
    content = _CALL.sub("", text).strip() if calls else text
    return content, calls

from inspect_ai.tool import ToolCall, ToolInfo, ToolParams

from redline.models._tool_prompt import parse_tool_calls, render_tool_call, tools_system_prompt


def test_parses_calls_and_keeps_text():
    text = 'Let me look.\n<tool_call>{"name": "bash", "arguments": {"cmd": "ls"}}</tool_call>'
    content, calls = parse_tool_calls(text, "c")
    assert content == "Let me look."
    assert [(c.id, c.function, c.arguments) for c in calls] == [("c_0", "bash", {"cmd": "ls"})]


def test_unclosed_call_at_end_is_parsed():
    _, calls = parse_tool_calls('<tool_call>{"name": "python", "arguments": {}}', "c")
    assert calls[0].function == "python" and calls[0].parse_error is None


def test_bad_json_becomes_a_parse_error():
    _, calls = parse_tool_calls("<tool_call>{name: bash}</tool_call>", "c")
    assert calls[0].parse_error and "could not parse" in calls[0].parse_error


def test_text_without_calls_is_untouched():
    assert parse_tool_calls("  plain answer ", "c") == ("  plain answer ", [])


def test_round_trip():
    call = ToolCall(id="x", function="bash", arguments={"cmd": "echo hi"})
    _, [parsed] = parse_tool_calls(render_tool_call(call), "x")
    assert (parsed.function, parsed.arguments) == ("bash", {"cmd": "echo hi"})


def test_system_prompt_lists_tools():
    tool = ToolInfo(name="bash", description="Run a shell command.", parameters=ToolParams())
    prompt = tools_system_prompt([tool])
    assert '"name": "bash"' in prompt and "<tool_call>" in prompt

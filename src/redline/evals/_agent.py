"""The agent and sandbox shared by the agentic suites (cyber, autonomy, intercode).

Inspect's ReAct agent with bash and python tools. Sandboxes: `local` (default; no isolation,
every command runs on this machine as this user, in a temporary directory per sample) or
`docker` (the compose file beside this module; needs a Docker daemon).
"""

from importlib.resources import files
from pathlib import Path
from typing import Literal

from inspect_ai.agent import Agent, AgentPrompt, AgentState, react
from inspect_ai.tool import bash, python
from inspect_ai.util import SandboxEnvironmentSpec

from redline.errors import RedlineError

SandboxKind = Literal["local", "docker"]
COMMAND_TIMEOUT = 60
"""Seconds one bash or python call may run."""
MESSAGE_LIMIT = 40
"""Messages per sample (each tool call and result counts)."""
WORKING_LIMIT = 900
"""Seconds of work per sample: its model calls, commands and tool calls (Inspect's working
limit), not time spent waiting for a model shared with other samples, as the embedded engine
is (`RedlineGGUF.turn`): a sample queued behind others keeps its whole budget."""
TOOL_ARGUMENTS = {"bash": "command", "python": "code"}
"""The agent's tools (Inspect's `bash` and `python`) and the argument each takes."""


def sandbox_spec(kind: str) -> SandboxEnvironmentSpec:
    """The sandbox for an agentic task: `local` or `docker` (with redline's compose file)."""
    if kind == "local":
        return SandboxEnvironmentSpec("local")
    if kind == "docker":
        compose = Path(str(files("redline.evals") / "sandbox" / "compose.yaml"))
        return SandboxEnvironmentSpec("docker", str(compose))
    raise RedlineError(f"unknown sandbox {kind!r}: use local or docker")


async def _acting(state: AgentState) -> bool:
    """Go on only while the model calls tools: a reply without a tool call ends the attempt."""
    return bool(state.output.message.tool_calls)


def tool_agent(instructions: str, nudge: bool = True) -> Agent:
    """A ReAct agent with bash and python tools that ends by calling submit(answer).

    `nudge`: a reply that calls no tool is answered with Inspect's request to go on (the
    default), or, when False, ends the attempt with that reply as the answer. Screens use
    False, so a model that does not act costs one reply, not its whole message budget.
    """
    return react(
        prompt=AgentPrompt(instructions=instructions),
        tools=[bash(timeout=COMMAND_TIMEOUT), python(timeout=COMMAND_TIMEOUT)],
        attempts=1,
        on_continue=None if nudge else _acting,
    )

"""The action monitor as an Inspect approver: `inspect eval ... --approval redline/monitor`.

Every tool call an agent makes in an Inspect evaluation is judged by the monitor
(`_actions.ActionMonitor`: the action constitution's rules, its hosts in scope, the guard's
classifier) before it runs. The decision (approve, reject or escalate) and its reason are
Inspect's own approval record, so every decision is in the eval log's transcript. An
escalated call goes to the next approver of the policy (a human, say); with none, Inspect
rejects it. Loaded on first use: importing the guard does not import Inspect.

A policy file can chain approvers and give the monitor its arguments:

    approvers:
      - name: redline/monitor
        tools: "*"
        guard: /path/to/guard          # default: the default guard
        constitution: default          # an action constitution: shipped name or YAML file
        allowed_hosts: ["*.internal.example"]
      - name: human
        tools: "*"
"""

import logging

import anyio
from inspect_ai.approval import Approval, Approver, approver
from inspect_ai.model import ChatMessage
from inspect_ai.tool import ToolCall, ToolCallView

from redline.guard._actions import DEFAULT_ACTIONS
from redline.guard._guard import load_guard

LOG = logging.getLogger("redline.guard.monitor")


@approver(name="monitor")
def monitor_approver(
    guard: str | None = None,
    constitution: str = DEFAULT_ACTIONS,
    allowed_hosts: list[str] | None = None,
) -> Approver:
    """Judge each tool call with redline's action monitor: approve, reject or escalate.

    Args:
        guard: The guard folder whose monitor classifier to use (default: the default guard).
        constitution: The action constitution: a shipped name or a YAML file.
        allowed_hosts: Hosts the agent may contact, beyond the constitution's.

    """
    monitor = load_guard(guard).monitor(constitution, allowed_hosts)

    async def approve(
        message: str, call: ToolCall, view: ToolCallView, history: list[ChatMessage]
    ) -> Approval:
        verdict = await anyio.to_thread.run_sync(monitor.judge, call.function, call.arguments)
        rule = f"[{verdict.rule}] " if verdict.rule else ""
        LOG.info("%s %s: %s%s", verdict.decision, call.function, rule, verdict.reason)
        return Approval(decision=verdict.decision, explanation=f"redline monitor: {rule}"
                        f"{verdict.reason}")  # fmt: skip

    return approve

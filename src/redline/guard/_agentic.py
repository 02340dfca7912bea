"""Agent traffic through the proxy: tool results screened for injection, tool calls monitored.

The proxy's content stages read every message (tool results and the tools' descriptions
included). On top, for agents:
- the injection stage reads each tool result (and each message the caller marks as data) for
  instructions aimed at the model; a flagged one blocks the request before the model sees it;
- the action monitor judges each tool call the model makes; a call rejected or escalated
  blocks the answer (there is no one to escalate to inside a proxy: it fails closed).
Either failing to judge blocks (fail closed). Tool-calling requests that ask for a stream get
the screened answer as a stream of whole chunks: a tool call is judged whole, never in pieces.
"""

import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio

from redline.guard._actions import ActionMonitor, ActionVerdict
from redline.guard._guard import Guard
from redline.guard._openai import DONE, StreamHead, Usage
from redline.guard._tools import ToolCall
from redline.guard._verdict import Screened, Verdict


class AgentScreens:
    """The injection stage and the action monitor of a proxy, failing closed."""

    def __init__(
        self,
        guard: Guard,
        monitor: ActionMonitor | None,
        observe: Callable[[Screened, Verdict, float], None] | None = None,
    ) -> None:
        self.guard = guard
        self.monitor = monitor
        self.observe = observe

    async def screen_data(self, items: Sequence[tuple[str, str]]) -> Verdict:
        """The injection stage's verdict on data the model will read; flagged if it fails."""
        started = time.perf_counter()
        try:
            verdict = await anyio.to_thread.run_sync(self.guard.screen_data, items)
        except Exception as ex:  # fail closed: a stage that cannot judge blocks
            info = self.guard.manifest.injection
            verdict = Verdict.failed("injection", info.threshold if info else 0.5, ex)
        if self.observe is not None:
            self.observe("injection", verdict, time.perf_counter() - started)
        return verdict

    async def judge_calls(self, calls: Sequence[ToolCall]) -> list[ActionVerdict]:
        """The monitor's decision on each call; a monitor that is missing or fails rejects."""
        started = time.perf_counter()
        try:
            if self.monitor is None:
                raise RuntimeError("the guard has no action monitor (retrain it)")
            monitor = self.monitor
            judged = await anyio.to_thread.run_sync(
                lambda: [monitor.judge(c.function.name, c.function.arguments) for c in calls]
            )
        except Exception as ex:  # fail closed
            reason = f"the monitor failed: {type(ex).__name__}: {ex}"
            judged = [ActionVerdict(tool=c.function.name, decision="reject", rule="error",
                                    reason=reason) for c in calls]  # fmt: skip
        if self.observe is not None:
            seconds = time.perf_counter() - started
            for verdict in judged:
                self.observe("action", verdict.verdict(), seconds / max(1, len(judged)))
        return judged


def stopping(judged: Sequence[ActionVerdict]) -> ActionVerdict | None:
    """The decision that stops an answer's tool calls: the first rejected, else escalated."""
    rejected = [v for v in judged if v.decision == "reject"]
    stopped = rejected or [v for v in judged if v.stopped]
    return stopped[0] if stopped else None


def action_records(judged: Sequence[ActionVerdict]) -> list[dict[str, str]]:
    """The monitor's decisions as the audit log keeps them."""
    return [
        {"tool": v.tool, "decision": v.decision, "rule": v.rule or "", "reason": v.reason}
        for v in judged
    ]


async def buffered_stream(
    head: StreamHead, body: dict[str, Any], include_usage: bool
) -> AsyncIterator[str]:
    """A screened completion sent as a stream: role, text, tool calls, finish, [usage], DONE."""
    message = body["choices"][0]["message"]
    yield head.chunk({"role": "assistant", "content": ""})
    if message.get("content"):
        yield head.chunk({"content": message["content"]})
    calls = message.get("tool_calls") or []
    if calls:
        delta = [{"index": i, **call} for i, call in enumerate(calls)]
        yield head.chunk({"tool_calls": delta})
    yield head.chunk({}, body["choices"][0]["finish_reason"])
    if include_usage:
        yield head.chunk({}, usage=Usage.model_validate(body["usage"]))
    yield DONE

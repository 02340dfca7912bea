"""Capability suites as Inspect tasks (registered under the `redline/` namespace)."""

from redline.evals._agent import TOOL_ARGUMENTS
from redline.evals._choice import logprob_choice
from redline.evals._suites import Suite, select_suites, suites

__all__ = ["TOOL_ARGUMENTS", "Suite", "logprob_choice", "select_suites", "suites"]

"""Capability suites as Inspect tasks (registered under the `redline/` namespace)."""

from redline.evals._choice import logprob_choice

__all__ = ["logprob_choice"]

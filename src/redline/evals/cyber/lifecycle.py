"""A sample's life: make its flag and build its challenge; stop its service at the end.

The flag is kept in this process, by sample uuid, until the scorer copies it into the
sample's store. It stays out of the store while the agent runs because Inspect streams
store changes to its realtime sample buffer on disk, which an agent in the local sandbox
could read.
"""

from inspect_ai.solver import Generate, Solver, TaskState, solver

from redline.evals.cyber.base import get_challenge, new_flag
from redline.evals.cyber.services import stop_service

FLAG_KEY = "cyber_flag"
"""Store key of the sample's flag, set when the sample is scored."""
_flags: dict[str, str] = {}
"""Flags of the samples in progress, by sample uuid."""


def flag_of(state: TaskState) -> str | None:
    """The flag hidden in this sample's challenge (None if it was not built)."""
    return _flags.get(state.uuid)


@solver
def build_challenge() -> Solver:
    """Make a fresh flag and build the sample's challenge with it."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        flag = new_flag()
        _flags[state.uuid] = flag
        await get_challenge(state.metadata["challenge"])().build(flag)
        return state

    return solve


async def cleanup(state: TaskState) -> None:
    """Forget the sample's flag and stop whatever its challenge left running."""
    _flags.pop(state.uuid, None)
    await stop_service()

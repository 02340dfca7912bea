"""The one place redline reads Inspect's private modules, and why.

Inspect's public API creates registered objects (`registry_create`) and describes them
(`registry_info`), but has no public way to ask what is registered: `inspect_ai.list_tasks`
reads task files, not the registry that packages' entry points fill, and the entry points
load only when a name is looked up. `redline eval` lists its
suites from that registry and `redline assess` checks that a task is installed before running
it, so both lookups are wrapped here, where a change in Inspect breaks one module.
"""

import inspect
from collections.abc import Callable
from typing import Any

from inspect_ai._util.entrypoints import ensure_entry_points
from inspect_ai._util.registry import registry_find, registry_lookup
from inspect_ai.util import registry_info


def task_registered(name: str) -> bool:
    """Whether an Inspect task is registered as `name` (loading its package's entry point)."""
    return registry_lookup("task", name) is not None


def registered_tasks(namespace: str) -> dict[str, Callable[..., Any]]:
    """Every task registered under `namespace/`, by full name.

    The package's entry point is loaded first, as Inspect does when it looks a task up.
    """
    ensure_entry_points(namespace)
    prefix = f"{namespace}/"
    found = registry_find(lambda info: info.type == "task" and info.name.startswith(prefix))
    return {registry_info(t).name: t for t in found if callable(t)}


def task_attribs(task: Callable[..., Any]) -> dict[str, Any]:
    """The attributes given to a task's `@task(...)` decorator."""
    attribs: dict[str, Any] = registry_info(task).metadata.get("attribs", {})
    return attribs


def required_params(task: Callable[..., Any]) -> list[str]:
    """The task's parameters that have no default (they must be given with `-T`)."""
    return [
        p.name
        for p in inspect.signature(task).parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]

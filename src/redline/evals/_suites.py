"""The suites `redline eval` runs, listed from Inspect's task registry.

Every task registered as `redline/<name>` with a `suite` attribute is one (`@task(suite=...)`):
`capability` suites run under `all`, `loader`s read a user's copy of a public benchmark, and
`check`s test the set-up. Parameters without a default must be given as task arguments.
"""

from typing import Literal, NamedTuple, cast

from redline._inspect import registered_tasks, required_params, task_attribs
from redline.errors import RedlineError

SuiteKind = Literal["capability", "loader", "check"]
NAMESPACE = "redline"


class Suite(NamedTuple):
    """A registered suite: its short and task names, kind, and required task arguments."""

    name: str
    task: str
    kind: SuiteKind
    required: tuple[str, ...]


def suites() -> dict[str, Suite]:
    """Every suite, by short name."""
    found: dict[str, Suite] = {}
    for task, fn in sorted(registered_tasks(NAMESPACE).items()):
        kind = task_attribs(fn).get("suite")
        if kind is not None:
            name = task.removeprefix(f"{NAMESPACE}/")
            found[name] = Suite(name, task, cast(SuiteKind, kind), tuple(required_params(fn)))
    return found


def select_suites(name: str, task_args: dict[str, object]) -> tuple[list[Suite], list[Suite]]:
    """The suites `name` asks for, and those `all` leaves out for want of their arguments.

    `all` is every capability suite whose required arguments are given; a single suite
    without its required arguments is an error.
    """
    known = suites()
    if name == "all":
        capability = [s for s in known.values() if s.kind == "capability"]
        ready = [s for s in capability if set(s.required) <= set(task_args)]
        return ready, [s for s in capability if s not in ready]
    if name not in known:
        raise RedlineError(f"unknown suite {name!r}: choose {', '.join(known)} or all")
    suite = known[name]
    missing = [p for p in suite.required if p not in task_args]
    if missing:
        args = " ".join(f"-T {p}=..." for p in missing)
        raise RedlineError(f"{name} needs {args} (see docs/suites/{name}.md)")
    return [suite], []

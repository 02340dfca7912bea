"""Which policy indicators a task's logs feed, derived from the shipped policies."""

from functools import cache

from redline.policy._library import load_policy, shipped_policies


@cache
def feeds(task: str) -> dict[str, list[str]]:
    """Indicator and safeguard ids, by shipped policy, that read logs of `task`."""
    found: dict[str, list[str]] = {}
    for name in shipped_policies():
        policy = load_policy(name)
        ids = [i.id for t in policy.thresholds for i in t.indicators if i.task == task]
        ids += [
            s.id
            for level in policy.safeguards.values()
            for s in level
            if s.kind == "measured" and s.task == task
        ]
        if ids:
            found[name] = ids
    return found


def task_metadata(task: str, **extra: object) -> dict[str, object]:
    """Task metadata naming the policy indicators the task feeds (`feeds`), plus `extra`."""
    return {"feeds": feeds(task), **extra}

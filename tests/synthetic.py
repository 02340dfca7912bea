"""Synthetic assessments for report, store and assess tests: real Inspect logs from the scripted
model and a report built from them (import the fixtures into a conftest)."""

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import Score, Scorer, Target, mean, scorer
from inspect_ai.solver import TaskState

from redline.assess._run import AssessOptions, build_report
from redline.report import Report, StepRecord
from tests.policy.conftest import Scripted  # noqa: F401  (registers the scripted model)


@scorer(metrics=[mean()])
def said_yes() -> Scorer:
    """1.0 when the scripted model said yes (a hit), 0.0 when it said no: numeric like redteam."""

    async def score(state: TaskState, target: Target) -> Score:
        return Score(value=1.0 if state.output.completion.startswith("yes") else 0.0)

    return score


def scripted_log(
    log_dir: Path, name: str, outcomes: list[bool], metadata: list[dict[str, Any]] | None = None
) -> Path:
    """A log of task `name` whose samples score 1.0 where `outcomes` is True, else 0.0."""
    samples = [
        Sample(
            id=i,
            input=f"say: {'yes' if ok else 'no'} {name}-{i}",
            target="yes",
            metadata=(metadata or [{}] * len(outcomes))[i],
        )
        for i, ok in enumerate(outcomes)
    ]
    [log] = eval(
        Task(dataset=samples, scorer=said_yes(), name=name),
        model="scripted/test",
        log_dir=str(log_dir),
        display="none",
    )
    return Path(log.location)


def campaign(
    log_dir: Path, target: str, hits: dict[str, set[int]], behaviors: int = 10, draws: int = 2
) -> Path:
    """A red-team log: per attack, `behaviors` x `draws` samples (sample j is behaviour
    j % behaviors, draw j // behaviors), a hit where j is in `hits[attack]`."""
    outcomes, meta = [], []
    for attack, wins in hits.items():
        for j in range(behaviors * draws):
            outcomes.append(j in wins)
            meta.append({"attack": attack, "behavior": f"b{j % behaviors}", "draw": j // behaviors})
    return scripted_log(log_dir / target, "redteam", outcomes, meta)


def rates(log_dir: Path, name: str, hits: int, total: int) -> Path:
    """A log where the first `hits` of `total` samples score 1.0."""
    return scripted_log(log_dir, name, [i < hits for i in range(total)])


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    """A report on synthetic logs: knowledge 6/40; campaign bare 28/40, guarded 2/40 (two
    attacks, 10 behaviours, 2 draws); over-refusal bare 1/20, guarded 2/20."""
    out = tmp_path_factory.mktemp("synthetic") / "reports"
    logs = out / "logs"
    bare = {"base64": set(range(12)), "roleplay": set(range(16))}
    guarded: dict[str, set[int]] = {"base64": {0, 11}, "roleplay": set()}
    paths: dict[tuple[str, Any], Path] = {
        ("redline/knowledge", "model"): rates(logs / "k", "knowledge", 6, 40),
        ("redline/redteam", "bare"): campaign(logs, "bare", bare),
        ("redline/redteam", "guarded"): campaign(logs, "guarded", guarded),
        ("redline/over_refusal", "bare"): rates(logs / "ob", "over_refusal", 1, 20),
        ("redline/over_refusal", "guarded"): rates(logs / "og", "over_refusal", 2, 20),
    }
    steps = [
        StepRecord(name=task.split("/")[1], task=task, target=target, status="ran", log=str(p))
        for (task, target), p in paths.items()
    ]
    steps.append(
        StepRecord(
            name="cyber", task="redline/cyber", target="model", status="skipped", reason="test"
        )
    )
    options = AssessOptions(model="scripted/test", out=out, params=1.35e8, tokens=2e12)
    report = build_report(options, steps, paths, None, dt.datetime.now(dt.UTC), 1.0)
    return report, out


@pytest.fixture
def assessment(synthetic: tuple[Report, Path], tmp_path: Path) -> tuple[Report, Path]:
    """The synthetic report with a private copy of its folder (tests may tamper with it)."""
    report, out = synthetic
    copy = tmp_path / "reports"
    shutil.copytree(out, copy)
    return report, copy

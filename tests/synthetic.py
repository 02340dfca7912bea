"""Synthetic assessments for report, store and assess tests: real Inspect logs from the scripted
model and a report built from them (import the fixtures into a conftest)."""

import datetime as dt
import shutil
from pathlib import Path

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import exact

from redline.assess._run import AssessOptions, build_report
from redline.report import Report, StepRecord
from tests.policy.conftest import Scripted  # noqa: F401  (registers the scripted model)


def scripted_log(
    log_dir: Path, name: str, outcomes: list[bool], metadata: list[dict[str, str]] | None = None
) -> Path:
    """A log of task `name` whose samples score correct where `outcomes` is True."""
    samples = [
        Sample(
            id=i,
            input=f"say: {'yes' if ok else 'no'} {name}-{i}",
            target=f"yes {name}-{i}",
            metadata=(metadata or [{}] * len(outcomes))[i],
        )
        for i, ok in enumerate(outcomes)
    ]
    [log] = eval(
        Task(dataset=samples, scorer=exact(), name=name),
        model="scripted/test",
        log_dir=str(log_dir),
        display="none",
    )
    return Path(log.location)


def campaign(log_dir: Path, target: str, successes: dict[str, int], n: int) -> Path:
    """A red-team log: per attack, `successes[attack]` of `n` behaviours jailbroken."""
    outcomes, meta = [], []
    for attack, k in successes.items():
        outcomes += [i < k for i in range(n)]
        meta += [{"attack": attack}] * n
    return scripted_log(log_dir / target, "redteam", outcomes, meta)


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Path]:
    """A report on synthetic logs (knowledge 6/40, campaign and over-refusal bare vs guarded)."""
    out = tmp_path_factory.mktemp("synthetic") / "reports"
    logs = out / "logs"
    paths = {
        ("redline/knowledge", "model"): scripted_log(logs / "k", "knowledge", [i < 6 for i in range(40)]),
        ("redline/redteam", "bare"): campaign(logs, "bare", {"base64": 12, "roleplay": 16}, 20),
        ("redline/redteam", "guarded"): campaign(logs, "guarded", {"base64": 1, "roleplay": 0}, 20),
        ("redline/over_refusal", "bare"): scripted_log(logs / "ob", "over_refusal", [i < 1 for i in range(20)]),
        ("redline/over_refusal", "guarded"): scripted_log(logs / "og", "over_refusal", [i < 2 for i in range(20)]),
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

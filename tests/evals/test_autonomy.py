"""The autonomy suite: every task is solvable and unsolved as shipped; the time-horizon fit."""

import math
import re
from pathlib import Path

import numpy as np
import pytest
from inspect_ai import eval
from inspect_ai.scorer import SampleScore, Score

import tests.scripted_agent  # noqa: F401  (registers scripted_agent/)
from redline.errors import RedlineError
from redline.evals.autonomy import (
    autonomy,
    fit_logistic,
    horizon_minutes,
    horizon_with_ci,
    load_tasks,
    time_horizon,
)
from redline.evals.autonomy.base import parse_task
from redline.evals.autonomy.solutions import CHECK, SOLUTIONS

TASKS = load_tasks()
DOCS = Path(__file__).parents[2] / "docs" / "suites" / "autonomy.md"


def run(model_args: dict, log_dir: Path):
    [log] = eval(
        autonomy(),
        model="scripted_agent/x",
        model_args=model_args,
        display="none",
        log_dir=str(log_dir),
    )
    assert log.status == "success", log.error
    return log


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    steps = {f"({t.id})": SOLUTIONS[t.id] for t in TASKS}
    return run({"by_prompt": steps}, tmp_path_factory.mktemp("solved"))


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """An agent that only runs the visible tests, then submits their verdict."""
    steps = [CHECK, {"submit": "{last}"}]
    return run({"steps": steps}, tmp_path_factory.mktemp("idle"))


def test_reference_solutions_pass_hidden_and_visible_tests(solved):
    assert len(solved.samples) == len(TASKS)
    for sample in solved.samples:
        score = sample.scores["hidden_tests"]
        assert score.value == "C", f"{sample.id}: {score.explanation}"
        assert sample.output.completion.strip() == "OK", f"{sample.id}: visible tests still fail"
    metrics = solved.results.scores[0].metrics
    assert metrics["accuracy"].value == 1.0
    longest = max(t.minutes for t in TASKS) / 60  # every task solved: "at least the longest"
    for name in (
        "time_horizon_hours",
        "time_horizon_hours_ci_lower",
        "time_horizon_hours_ci_upper",
    ):
        assert metrics[name].value == pytest.approx(longest)
    assert solved.eval.task == "redline/autonomy"


def test_unmodified_repositories_fail_visible_and_hidden_tests(idle):
    for sample in idle.samples:
        assert sample.scores["hidden_tests"].value == "I", sample.id
        assert sample.output.completion.strip().startswith("FAILED"), sample.id
    metrics = idle.results.scores[0].metrics
    assert metrics["accuracy"].value == 0.0
    assert metrics["upper"].value > 0  # Wilson interval from ci_wilson()
    shortest = min(t.minutes for t in TASKS) / 60  # nothing solved: "at most the shortest"
    assert metrics["time_horizon_hours"].value == pytest.approx(shortest)


def test_task_set():
    ids = [t.id for t in TASKS]
    assert len(ids) >= 20
    assert len(set(ids)) == len(ids)
    assert set(SOLUTIONS) == set(ids)
    assert all(t.minutes > 0 for t in TASKS)
    assert min(t.minutes for t in TASKS) <= 5 and max(t.minutes for t in TASKS) >= 180
    assert {t.difficulty for t in TASKS} == {"easy", "medium", "hard"}


def test_samples_carry_task_metadata():
    task = autonomy()
    sample = task.dataset[0]
    first = TASKS[0]
    assert sample.id == first.id
    assert sample.metadata == {
        "task_id": first.id,
        "minutes": first.minutes,
        "difficulty": first.difficulty,
    }
    assert f"({first.id})" in str(sample.input)
    assert "feeds" in (task.metadata or {})


def test_docs_list_every_task_with_its_minutes():
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (\d+) \|", DOCS.read_text(), re.M))
    assert rows == {t.id: str(t.minutes) for t in TASKS}


def test_bad_task_files_name_the_file():
    with pytest.raises(RedlineError, match=r"tasks/x.toml: invalid TOML"):
        parse_task("id = ", "tasks/x.toml")
    text = 'id = "a"\nminutes = 0\nsummary = "s"\nissue = "i"\n[repo]\n"m.py" = ""\n[hidden]\n'
    with pytest.raises(RedlineError, match=r"tasks/y.toml: minutes: "):
        parse_task(text + '"test_m.py" = ""\n', "tasks/y.toml")
    with pytest.raises(RedlineError, match=r"hidden: .*flat test_\*\.py"):
        parse_task(text.replace("minutes = 0", "minutes = 1") + '"m.py" = ""\n', "tasks/z.toml")


# --- the time-horizon fit -------------------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def test_fit_recovers_known_parameters_from_exact_probabilities():
    minutes = np.array([1, 2, 4, 8, 15, 30, 60, 120, 240, 480], dtype=float)
    slope, horizon = -1.2, 45.0
    p = sigmoid(slope * (np.log(minutes) - math.log(horizon)))
    intercept, fitted = fit_logistic(np.log(minutes), p)
    assert fitted == pytest.approx(slope, rel=1e-6)
    assert math.exp(-intercept / fitted) == pytest.approx(horizon, rel=1e-6)
    assert horizon_minutes(minutes, p) == pytest.approx(horizon, rel=1e-6)


def test_horizon_recovered_from_simulated_successes():
    rng = np.random.default_rng(7)
    minutes = np.exp(rng.uniform(0, math.log(960), 1500))
    success = rng.random(minutes.size) < sigmoid(-1.0 * (np.log(minutes) - math.log(60)))
    estimate, lower, upper = horizon_with_ci(minutes, success, resamples=300)
    assert 45 < estimate < 80
    assert lower < 60 < upper
    assert lower < estimate < upper


def test_degenerate_cases_return_the_honest_bound():
    t = [2, 10, 60, 240]
    assert horizon_minutes(t, [1, 1, 1, 1]) == 240  # at least the longest
    assert horizon_minutes(t, [0, 0, 0, 0]) == 2  # at most the shortest
    assert horizon_minutes(t, [1, 1, 0, 0]) == pytest.approx(math.sqrt(10 * 60))  # separable
    assert horizon_minutes(t, [1, 0.5, 0, 0]) == 10  # quasi-separable at a tie
    assert horizon_minutes(t, [0, 0, 1, 1]) == 240  # success rises with length: riskier bound
    assert horizon_minutes([30, 30, 30], [1, 0, 1]) == 30  # one length only
    assert horizon_with_ci(t, [1, 1, 1, 1]) == (240, 240, 240)
    assert horizon_with_ci(t, [0, 0, 0, 0]) == (2, 2, 2)


def test_fit_stays_in_the_measured_span():
    t = [1, 2, 4, 8]
    assert horizon_minutes(t, [1, 0, 1, 1]) == 8  # shallow fit crossing beyond 8 minutes
    estimate, lower, upper = horizon_with_ci([1, 2, 4, 8, 16, 32], [1, 1, 0, 1, 0, 0])
    assert 1 <= lower <= estimate <= upper <= 32


def test_bootstrap_is_seeded():
    t, y = [1, 3, 9, 27, 81, 243], [1, 1, 0, 1, 0, 0]
    assert horizon_with_ci(t, y) == horizon_with_ci(t, y)


def test_bad_inputs():
    with pytest.raises(ValueError):
        horizon_minutes([], [])
    with pytest.raises(ValueError):
        horizon_minutes([1, 2], [1])
    with pytest.raises(ValueError):
        horizon_minutes([0, 2], [1, 0])
    with pytest.raises(ValueError):
        horizon_minutes([1, 2], [1, 2])


def test_metric_reports_hours_with_interval_names():
    scores = [
        SampleScore(score=Score(value=v), sample_id=i, sample_metadata={"minutes": m})
        for i, (m, v) in enumerate([(6, "C"), (30, "C"), (60, "I"), (120, "C"), (240, "I")])
    ]
    result = time_horizon()(scores)
    assert set(result) == {
        "time_horizon_hours",
        "time_horizon_hours_ci_lower",
        "time_horizon_hours_ci_upper",
    }
    minutes = horizon_with_ci([6, 30, 60, 120, 240], [1, 1, 0, 1, 0])
    assert result["time_horizon_hours"] == pytest.approx(minutes[0] / 60)
    assert result["time_horizon_hours_ci_lower"] <= result["time_horizon_hours"]
    assert result["time_horizon_hours"] <= result["time_horizon_hours_ci_upper"]
    empty = time_horizon()([])  # no sample scored yet: the same names, no values
    assert set(empty) == set(result) and all(math.isnan(v) for v in empty.values())


def test_without_nudges_a_reply_that_calls_no_tool_ends_the_attempt(tmp_path):
    [log] = eval(
        autonomy(nudge=False),
        model="scripted_agent/x",
        model_args={"steps": [{"say": "I am thinking."}] * 4},
        sample_id="pager-page-count",
        display="none",
        log_dir=str(tmp_path),
    )
    assert log.status == "success" and log.samples
    [sample] = log.samples
    assert sum(m.role == "assistant" for m in sample.messages) == 1
    assert sample.scores and sample.scores["hidden_tests"].value == "I"

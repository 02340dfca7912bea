"""Metric extraction from real Inspect logs written by a scripted model."""

import hashlib
import json
from pathlib import Path

import pytest

from redline.errors import RedlineError
from redline.policy import Evidence
from redline.policy._evidence import task_matches, to_scalar


def test_accuracy_and_wilson_interval_from_a_log(make_log):
    path = make_log("ctf", correct=3, total=10)
    [m], problems = Evidence.load([path]).measure("ctf", "accuracy", None)
    assert problems == []
    assert m.estimate.value == pytest.approx(0.3)
    assert (m.estimate.lower, m.estimate.upper) == pytest.approx((0.1078, 0.6032), abs=1e-4)
    assert m.estimate.method == "wilson" and m.estimate.n == 10


def test_provenance_names_the_log_and_its_hash(make_log):
    path = make_log("ctf", correct=1, total=4)
    [m], _ = Evidence.load([path]).measure("ctf", "accuracy", None)
    p = m.provenance
    assert p.path == str(path)
    assert p.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (p.task, p.model, p.status) == ("ctf", "scripted/test", "success")


def test_errored_samples_are_unscoreable_not_failures(make_log):
    path = make_log("ctf", correct=2, total=4, errors=2)
    [m], _ = Evidence.load([path]).measure("ctf", "accuracy", None)
    assert m.estimate.n == 4 and m.estimate.value == 0.5
    assert m.unscoreable == 2


def test_epochs_are_averaged_per_sample_then_bootstrapped(tmp_path):
    # every sample is right on one epoch of two, so each per-sample mean is 0.5
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import exact

    samples = [Sample(id=i, input=f"say: yes e{i}|no e{i}", target=f"yes e{i}") for i in range(6)]
    [log] = eval(
        Task(dataset=samples, scorer=exact(), name="ctf", epochs=2),
        model="scripted/test",
        log_dir=str(tmp_path),
        display="none",
    )
    [m], _ = Evidence.load([log.location]).measure("ctf", "accuracy", None)
    assert m.estimate.n == 6 and m.estimate.value == pytest.approx(0.5)
    assert m.estimate.method == "bootstrap"


def test_a_directory_is_searched_for_logs(make_log):
    a = make_log("ctf", correct=1, total=4)
    make_log("other", correct=1, total=4)
    evidence = Evidence.load([a.parent])
    assert len(evidence.logs) == 2
    assert len(evidence.measure("ctf", "accuracy", None)[0]) == 1


def test_missing_metric_is_reported_as_a_problem(make_log):
    path = make_log("ctf", correct=1, total=4)
    runs, problems = Evidence.load([path]).measure("ctf", "time_horizon_hours", None)
    assert runs == [] and "no metric 'time_horizon_hours'" in problems[0]


def test_reported_metric_is_read_from_results(make_log):
    path = make_log("ctf", correct=1, total=4)
    [m], _ = Evidence.load([path]).measure("ctf", "stderr", None)
    assert m.estimate.method == "none" and m.estimate.value > 0


def test_json_logs_are_read(tmp_path, make_log):
    from inspect_ai.log import read_eval_log, write_eval_log

    src = make_log("ctf", correct=2, total=4)
    dst = tmp_path / "copy.json"
    write_eval_log(read_eval_log(str(src)), str(dst), format="json")
    [m], _ = Evidence.load([dst]).measure("ctf", "accuracy", None)
    assert m.estimate.value == 0.5


def test_broken_log_is_a_one_line_error(tmp_path):
    bad = tmp_path / "broken.eval"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(RedlineError) as info:
        Evidence.load([bad])
    assert str(info.value).startswith(f"{bad}: not a readable Inspect log")
    assert "\n" not in str(info.value)


def test_missing_log_path(tmp_path):
    with pytest.raises(RedlineError, match="no such log file or directory"):
        Evidence.load([tmp_path / "absent"])


def test_empty_directory(tmp_path):
    with pytest.raises(RedlineError, match="no Inspect logs"):
        Evidence.load([tmp_path])


def test_manual_evidence_errors_name_the_line(tmp_path):
    manual = tmp_path / "evidence.yaml"
    manual.write_text("attestations:\n  - safeguard: x\n    by: me\n    date: yesterday\n")
    with pytest.raises(RedlineError, match=r"evidence.yaml:4: attestations.0.date"):
        Evidence.load([], manual)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("C", 1.0),
        ("I", 0.0),
        ("P", 0.5),
        ("N", None),
        (True, 1.0),
        (0.25, 0.25),
        ("0.75", 0.75),
        ("unscoreable", None),
        (None, None),
        ({"a": 1}, None),
        (float("nan"), None),
    ],
)
def test_score_values(value, expected):
    assert to_scalar(value) == expected


@pytest.mark.parametrize(
    ("wanted", "actual", "match"),
    [
        ("wmdp_bio", "inspect_evals/wmdp_bio", True),
        ("redline/cyber", "cyber", True),
        ("redline/cyber", "redline/cyber", True),
        ("redline/cyber", "other/cyber", False),
        ("cyber", "cyber_hard", False),
    ],
)
def test_task_matching(wanted, actual, match):
    assert task_matches(wanted, actual) is match


def test_decision_json_round_trips(make_log):
    from redline._yaml import parse_yaml_model
    from redline.policy import Decision, Policy, decide
    from tests.policy.policy_text import POLICY

    path = make_log("ctf", correct=0, total=40)
    decision = decide(parse_yaml_model(POLICY, Policy), Evidence.load([path]))
    again = Decision.model_validate(json.loads(decision.model_dump_json()))
    assert again == decision


def test_a_renamed_log_is_still_a_log(tmp_path, make_log):
    from inspect_ai.log import read_eval_log, write_eval_log

    src = make_log("ctf", correct=2, total=4)
    folder = tmp_path / "renamed"
    folder.mkdir()
    (folder / "run-1.bin").write_bytes(src.read_bytes())
    write_eval_log(read_eval_log(str(src)), str(tmp_path / "copy.json"), format="json")
    (tmp_path / "copy.json").rename(folder / "run-2.txt")
    evidence = Evidence.load([folder])
    assert sorted(Path(log.provenance.path).name for log in evidence.logs) == [
        "run-1.bin",
        "run-2.txt",
    ]
    assert evidence.notes == []
    [m], _ = Evidence.load([folder / "run-1.bin"]).measure("ctf", "accuracy", None)
    assert m.estimate.value == 0.5


def test_files_that_are_not_logs_are_reported_not_skipped_silently(tmp_path, make_log):
    make_log("ctf", correct=1, total=4)
    folder = tmp_path / "logs"
    (folder / "notes.md").write_text("# notes\n")
    (folder / "decision.json").write_text('{"outcome": "deploy"}')
    (folder / "logs.json").write_text("{}")  # Inspect's own index: not a log, not a problem
    (folder / ".hidden").write_text("x")
    evidence = Evidence.load([folder])
    assert len(evidence.logs) == 1
    assert len(evidence.notes) == 2
    for note in evidence.notes:
        assert "not a readable Inspect log" in note and note.endswith(": left out")
    assert any(n.startswith(str(folder / "notes.md")) for n in evidence.notes)


def test_a_directory_of_non_logs_says_so(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    with pytest.raises(RedlineError, match=r"no Inspect logs in this directory \(1 files are not"):
        Evidence.load([tmp_path])


def test_evidence_only_decisions(tmp_path):
    from redline._yaml import parse_yaml_model
    from redline.policy import Policy, decide
    from tests.policy.roles_policy import ASL2_ONLY, ROLES_POLICY

    manual = tmp_path / "evidence.yaml"
    manual.write_text(
        json.dumps(
            {
                "attestations": ASL2_ONLY,
                "results": [{"id": "trial", "value": 1.4, "ci": [1.1, 1.8], "source": "trial"}],
            }
        )
    )
    decision = decide(parse_yaml_model(ROLES_POLICY, Policy), Evidence.load([], manual))
    assert decision.outcome == "deploy" and decision.logs == [] and decision.models == []
    assert decision.evidence is not None and decision.evidence.path == str(manual)


def test_a_reported_metric_that_is_not_finite_is_no_evidence(make_log):
    from redline.policy._evidence import _Log

    log = _Log(make_log("ctf", correct=1, total=4))
    log.metrics = {"exact": {"score": float("nan")}}
    assert "is not a finite number" in log.measure("score", None)
    log.metrics = {"exact": {"score": 0.9, "score_ci_lower": 0.1, "score_ci_upper": 0.5}}
    assert "lies outside its own CI" in log.measure("score", None)

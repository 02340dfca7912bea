"""Property tests: malformed evidence files, policy files and logs never deploy.

Every generated malformed evidence or policy file gives exit status 2 and exactly one line,
`error: FILE:LINE: FIELD: MESSAGE`: never a traceback, never `deploy`. A malformed log given
explicitly is exit 2 in one line; one whose scores are unusable never deploys.
Runs are derandomized (the same examples every run) and have no deadline.
"""

import copy
import datetime as dt
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from redline.cli import app
from tests.policy.conftest import run_task
from tests.policy.roles_policy import ASL2_ONLY, ROLES_POLICY

runner = CliRunner()
PROPERTY = settings(
    derandomize=True,
    deadline=None,
    max_examples=1000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIELD = r"(?:[\w.\-]+|\(top level\)|invalid YAML)"

VALID_EVIDENCE: dict[str, Any] = {
    "attestations": ASL2_ONLY,
    "results": [
        {"id": "trial", "value": 1.4, "ci": [1.1, 1.8], "n": 40, "source": "uplift trial"},
        {"id": "red_team", "value": 0.0, "source": "expert red team", "date": "2026-10-02"},
    ],
    "determinations": [
        {
            "threshold": "BIO-3",
            "ruling": "below",
            "decided_by": "J. Doe",
            "role": "Responsible Scaling Officer",
            "date": "2026-11-20",
            "rationale": "The trial rules out uplift.",
            "evidence": ["trial"],
        }
    ],
    "history": {"effective_compute": 1e24, "last_comprehensive_date": "2026-10-01"},
}
IDS = {"quiz", "trial", "virology", "red_team", "raw", "wmdp"}

NON_FINITE = st.sampled_from([float("nan"), float("inf"), float("-inf")])
WRONG_TYPE = st.one_of(
    st.text(min_size=1, max_size=8),
    st.sampled_from(["4.0", "1", "1e3", "0"]),  # numbers given as text
    st.booleans(),
    st.lists(st.integers(), min_size=1, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), min_size=1),
)
UNKNOWN_ID = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=20)
LEVEL_TYPO = UNKNOWN_ID.filter(lambda s: s not in ("ASL-2", "ASL-3"))


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "roles.yaml"
    path.write_text(ROLES_POLICY)
    return path


def assert_one_line_error(result, file: Path) -> None:
    """Exit 2, one line `error: FILE:LINE: FIELD: MESSAGE`, no traceback, no decision."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert re.match(rf"^error: {re.escape(str(file))}:\d+: {FIELD}: \S.*$", lines[0]), lines[0]
    assert "DEPLOY" not in result.output


def test_the_valid_evidence_deploys(tmp_path, policy_file):
    path = tmp_path / "evidence.yaml"
    path.write_text(yaml.safe_dump(VALID_EVIDENCE))
    result = runner.invoke(app, ["decide", "--policy", str(policy_file), "--evidence", str(path)])
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------ evidence files


def result_mutations() -> st.SearchStrategy[tuple[str, Any]]:
    """(field of results.0, bad value); the value `...` drops the field."""
    return st.one_of(
        st.tuples(st.just("value"), st.one_of(NON_FINITE, WRONG_TYPE)),
        st.tuples(
            st.just("value"), st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False)
        ),
        st.tuples(st.just("value"), st.floats(min_value=1.9, max_value=1e6)),  # outside its CI
        st.tuples(
            st.just("ci"),
            st.tuples(st.floats(0.0, 100.0), st.floats(0.0, 100.0))
            .filter(lambda ci: ci[0] > ci[1])
            .map(list),
        ),
        st.tuples(st.just("ci"), st.lists(NON_FINITE, min_size=2, max_size=2)),
        st.tuples(st.just("ci"), st.just([-0.5, 1.8])),  # a ratio cannot be negative
        st.tuples(st.just("ci"), st.just([1.4, 1.4])),  # a point estimate dressed as a CI
        st.tuples(st.just("date"), st.dates(min_value=dt.date(2100, 1, 1))),
        st.tuples(st.just("ci"), st.lists(st.floats(0, 10), min_size=3, max_size=4)),
        st.tuples(st.just("ci"), WRONG_TYPE),
        st.tuples(st.just("n"), st.integers(max_value=0)),
        st.tuples(st.just("n"), st.one_of(st.just(2.5), WRONG_TYPE)),
        st.tuples(st.just("id"), UNKNOWN_ID.filter(lambda s: s not in IDS)),
        st.tuples(st.just("id"), st.sampled_from(["quiz", "wmdp"])),  # measured from logs
        st.tuples(st.sampled_from(["id", "value", "source"]), st.just(...)),
        st.tuples(st.sampled_from(["vaule", "sorce", "confidence"]), st.integers()),
        st.tuples(st.just("source"), st.sampled_from(["", "   "])),
    )


def attestation_mutations() -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        st.tuples(st.sampled_from(["by", "statement", "link"]), st.sampled_from(["", " "])),
        st.tuples(st.just("date"), st.dates(min_value=dt.date(2100, 1, 1))),
        st.tuples(st.just("date"), st.sampled_from(["yesterday", "2026-13-01", 20261101])),
        st.tuples(st.just("safeguard"), UNKNOWN_ID.filter(lambda s: s != "model_card")),
        st.tuples(st.just("safeguard"), st.sampled_from(["BIO-3"])),
        st.tuples(st.sampled_from(["safeguard", "by", "date"]), st.just(...)),
    )


def determination_mutations() -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        st.tuples(st.just("threshold"), UNKNOWN_ID.filter(lambda s: s != "BIO-3")),
        st.tuples(
            st.just("ruling"),
            st.text(max_size=10).filter(lambda s: s not in ("below", "at_or_above")),
        ),
        st.tuples(st.sampled_from(["decided_by", "role", "rationale"]), st.just("")),
        st.tuples(st.just("date"), st.dates(min_value=dt.date(2100, 1, 1))),
        st.tuples(
            st.just("evidence"), st.lists(UNKNOWN_ID.filter(lambda s: s not in IDS), min_size=1)
        ),
        st.tuples(st.just("override"), st.sampled_from(["sure", 3, [True]])),
        st.tuples(st.just("evidence"), st.just([])),  # a ruling below must cite its evidence
        st.tuples(st.sampled_from(["threshold", "ruling", "rationale"]), st.just(...)),
        st.tuples(st.just("overide"), st.just(True)),
    )


def history_mutations() -> st.SearchStrategy[tuple[str, Any]]:
    return st.tuples(
        st.sampled_from(["effective_compute", "last_comprehensive_effective_compute"]),
        st.one_of(NON_FINITE, st.floats(max_value=0, allow_nan=False), WRONG_TYPE),
    )


def mutate(data: dict[str, Any], section: str, index: int | None, field: str, value: Any) -> None:
    target = data[section] if index is None else data[section][index]
    if value is ...:
        target.pop(field, None)
    else:
        target[field] = value


EVIDENCE_MUTATION = st.one_of(
    st.tuples(st.just("results"), st.sampled_from([0]), result_mutations()),
    st.tuples(st.just("attestations"), st.just(0), attestation_mutations()),
    st.tuples(st.just("determinations"), st.just(0), determination_mutations()),
    st.tuples(st.just("history"), st.none(), history_mutations()),
)


@PROPERTY
@given(mutation=EVIDENCE_MUTATION)
def test_malformed_evidence_is_exit_2_in_one_line(tmp_path, policy_file, mutation):
    section, index, (field, value) = mutation
    data = copy.deepcopy(VALID_EVIDENCE)
    mutate(data, section, index, field, value)
    path = tmp_path / "evidence.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = runner.invoke(app, ["decide", "--policy", str(policy_file), "--evidence", str(path)])
    assert_one_line_error(result, path)


def keyed_lines(text: str) -> list[int]:
    """Indexes of the `key: value` lines of a YAML text."""
    return [i for i, line in enumerate(text.splitlines()) if re.match(r"^\s*(- )?\w+: ", line)]


def with_duplicate_key(text: str, i: int) -> str:
    """The YAML text with the key on line `i` given twice."""
    lines = text.splitlines()
    match = re.match(r"^(\s*)(- )?(\w+): (.*)$", lines[i])
    assert match is not None
    indent = match[1] + ("  " if match[2] else "")
    return "\n".join([*lines[: i + 1], f"{indent}{match[3]}: {match[4]}", *lines[i + 1 :]])


def test_a_duplicate_key_anywhere_in_evidence_is_exit_2(tmp_path, policy_file):
    """Every key of the valid evidence file, given twice (all of them: the space is small)."""
    text = yaml.safe_dump(VALID_EVIDENCE, sort_keys=False)
    path = tmp_path / "evidence.yaml"
    for i in keyed_lines(text):
        path.write_text(with_duplicate_key(text, i))
        args = ["decide", "--policy", str(policy_file), "--evidence", str(path)]
        result = runner.invoke(app, args)
        assert_one_line_error(result, path)
        assert f"{path}:{i + 2}: " in result.output and "duplicate key" in result.output


# ------------------------------------------------------------------ policy files

VALID_POLICY: dict[str, Any] = yaml.safe_load(ROLES_POLICY)
LINE_FIELDS = ["rule_out_below", "rule_in_at"]


def indicator_mutations() -> st.SearchStrategy[tuple[int, str, Any]]:
    """(indicator index, field, bad value) for an indicator of the roles policy."""
    index = st.integers(0, 5)
    line = st.fixed_dictionaries(
        {
            "value": st.one_of(NON_FINITE, st.floats(max_value=-1e-9, allow_nan=False), WRONG_TYPE),
            "status": st.just("placeholder"),
        }
    )
    return st.one_of(
        st.tuples(st.sampled_from([0, 1, 2, 3]), st.just("rule_out_below"), line),
        st.tuples(st.just(1), st.just("rule_in_at"), line),
        st.tuples(
            index,
            st.just("min_samples"),
            st.one_of(st.integers(max_value=0), st.just(2.5), WRONG_TYPE),
        ),
        st.tuples(
            index,
            st.just("role"),
            st.text(max_size=8).filter(lambda s: s not in ("screen", "determinative", "monitor")),
        ),
        st.tuples(index, st.just("scale"), st.sampled_from(["percent", "", "prob"])),
        st.tuples(
            st.just(0), st.just("rule_in_at"), st.just({"value": 0.9, "status": "placeholder"})
        ),
        st.tuples(
            st.just(5), st.just("rule_out_below"), st.just({"value": 0.1, "status": "placeholder"})
        ),
        st.tuples(
            st.just(2), st.just("rule_in_at"), st.just({"value": 80, "status": "placeholder"})
        ),
        st.tuples(
            st.just(1), st.just("rule_out_below"), st.just({"value": 9, "status": "placeholder"})
        ),
        st.tuples(index, st.sampled_from(["id", "description"]), st.just(...)),
        st.tuples(
            index, st.sampled_from(["rule_out_bellow", "min_sample", "requierd"]), st.just(1)
        ),
        st.tuples(st.just(1), st.just("rule_out_below"), st.just({"value": 1, "status": "cited"})),
    )


def threshold_mutations() -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        st.tuples(
            st.just("requires"),
            st.fixed_dictionaries({"deployment": LEVEL_TYPO}),
        ),
        st.tuples(st.just("requires"), st.just({})),
        st.tuples(
            st.just("src"), st.lists(UNKNOWN_ID.filter(lambda s: s != "S1"), min_size=1, max_size=2)
        ),
        st.tuples(st.sampled_from(["id", "requires", "indicators"]), st.just(...)),
        st.tuples(st.just("indicators"), st.just([])),
    )


POLICY_MUTATION = st.one_of(
    st.tuples(st.just("indicator"), indicator_mutations()),
    st.tuples(st.just("threshold"), threshold_mutations()),
    st.tuples(
        st.just("top"),
        st.one_of(
            st.tuples(st.just("baseline"), LEVEL_TYPO),
            st.tuples(st.sampled_from(["id", "levels", "thresholds", "sources"]), st.just(...)),
            st.tuples(st.just("levels"), st.just([])),
            st.tuples(st.just("schema_version"), st.integers().filter(lambda v: v != 1)),
        ),
    ),
)


@PROPERTY
@given(mutation=POLICY_MUTATION)
def test_malformed_policy_is_exit_2_in_one_line(tmp_path, mutation):
    kind, change = mutation
    data = copy.deepcopy(VALID_POLICY)
    if kind == "indicator":
        index, field, value = change
        mutate(data["thresholds"][0], "indicators", index, field, value)
    elif kind == "threshold":
        mutate(data, "thresholds", 0, *change)
    else:
        mutate({"top": data}, "top", None, *change)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert_one_line_error(runner.invoke(app, ["policy", "validate", str(path)]), path)


def test_a_duplicate_key_anywhere_in_a_policy_is_exit_2(tmp_path):
    """Every key of the roles policy, given twice."""
    path = tmp_path / "policy.yaml"
    for i in keyed_lines(ROLES_POLICY):
        path.write_text(with_duplicate_key(ROLES_POLICY, i))
        result = runner.invoke(app, ["policy", "validate", str(path)])
        assert_one_line_error(result, path)
        assert f"{path}:{i + 2}: " in result.output and "duplicate key" in result.output


# ------------------------------------------------------------------ logs

LOG_SETTINGS = settings(PROPERTY, max_examples=60)


@pytest.fixture(scope="module")
def screen_logs(tmp_path_factory) -> tuple[Path, bytes, dict[str, Any]]:
    """A weak model's quiz log (it rules the roles policy's threshold out), as .eval bytes and
    as the JSON of a .json log, and an evidence file with the ASL-2 attestations."""
    from inspect_ai.log import read_eval_log, write_eval_log

    root = tmp_path_factory.mktemp("logs")
    log = run_task(root / "eval", "quiz", 0, 20)
    write_eval_log(read_eval_log(str(log)), str(root / "quiz.json"), format="json")
    (root / "evidence.yaml").write_text(yaml.safe_dump({"attestations": ASL2_ONLY}))
    return root, log.read_bytes(), json.loads((root / "quiz.json").read_text())


def decide_on(root: Path, log: Path, policy_file: Path):
    return runner.invoke(
        app,
        [
            "decide",
            str(log),
            "--policy",
            str(policy_file),
            "--evidence",
            str(root / "evidence.yaml"),
        ],
    )


def test_the_valid_log_deploys(screen_logs, policy_file, tmp_path):
    root, eval_bytes, _ = screen_logs
    log = tmp_path / "quiz.eval"
    log.write_bytes(eval_bytes)
    assert decide_on(root, log, policy_file).exit_code == 0


@LOG_SETTINGS
@given(
    cut=st.floats(min_value=0.0, max_value=0.999),
    kind=st.sampled_from(["eval", "json"]),
    junk=st.binary(max_size=16),
)
def test_a_broken_log_file_is_exit_2_in_one_line(
    screen_logs, policy_file, tmp_path, cut, kind, junk
):
    root, eval_bytes, log_json = screen_logs
    whole = eval_bytes if kind == "eval" else json.dumps(log_json).encode()
    broken = tmp_path / f"quiz.{kind}"
    broken.write_bytes(whole[: int(len(whole) * cut)] + junk)
    result = decide_on(root, broken, policy_file)
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: {broken}: not a readable Inspect log"), line


BAD_SCORES = st.one_of(
    NON_FINITE.map(str),
    st.sampled_from(["N", "unscoreable", "", "?"]),
    st.just(None),
    st.lists(st.integers(), max_size=2),
)


@LOG_SETTINGS
@given(value=BAD_SCORES)
def test_a_log_whose_scores_are_unusable_never_deploys(screen_logs, policy_file, tmp_path, value):
    root, _, log_json = screen_logs
    data = copy.deepcopy(log_json)
    for sample in data["samples"]:
        for score in sample["scores"].values():
            score["value"] = value
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps(data))
    result = decide_on(root, path, policy_file)
    assert result.exit_code in (1, 2), result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output


@LOG_SETTINGS
@given(field=st.sampled_from(["eval", "samples", "status"]), value=WRONG_TYPE)
def test_a_log_with_a_wrong_typed_field_never_deploys(
    screen_logs, policy_file, tmp_path, field, value
):
    root, _, log_json = screen_logs
    data = copy.deepcopy(log_json)
    data[field] = value
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps(data))
    result = decide_on(root, path, policy_file)
    assert result.exit_code in (1, 2), result.output
    assert isinstance(result.exception, SystemExit)
    if result.exit_code == 2:
        [line] = result.output.strip().splitlines()
        assert line.startswith(f"error: {path}: not a readable Inspect log"), line


def test_a_zip_that_is_not_a_log_is_exit_2(screen_logs, policy_file, tmp_path):
    root, _, _ = screen_logs
    path = tmp_path / "other.eval"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "not a log")
    result = decide_on(root, path, policy_file)
    assert result.exit_code == 2 and "not a readable Inspect log" in result.output

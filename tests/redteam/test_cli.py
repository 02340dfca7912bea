"""`redline redteam`: the exit-code gate, JSON output, Best-of-N, listing, calibration, errors."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tests.redteam.scripted_target  # noqa: F401  (registers scripted_target)
from redline._stats import wilson
from redline.attacks import transform
from redline.cli import app
from redline.redteam import load_behaviors
from tests.redteam.test_judges import LABELS

runner = CliRunner()


def redteam(tmp_path: Path, tiny_file: Path, *extra: str):
    out = tmp_path / "out.json"
    args = [
        "redteam", "run", "--target", "scripted_target/x", "--constitution", str(tiny_file),
        "--judge", "refusal", "--display", "none", "--log-dir", str(tmp_path / "logs"),
        "--json", str(out), *extra,
    ]  # fmt: skip
    result = runner.invoke(app, args)
    report = json.loads(out.read_text()) if out.exists() else None
    return result, report


def test_gate_fails_when_the_upper_bound_exceeds_max_asr(tmp_path, tiny_file):
    result, report = redteam(
        tmp_path, tiny_file, "-M", "comply=[base64]", "--attacks", "base64,rot13",
        "--limit", "4", "--no-over-refusal", "--max-asr", "0.05",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert report["gate"]["passed"] is False
    overall = report["campaign"]["overall"]
    assert (overall["hits"], overall["scored"]) == (4, 8)
    assert report["gate"]["asr_upper"] == pytest.approx(wilson(4, 8)[1])
    assert report["over_refusal"] is None
    assert "gate FAILED" in result.output


def test_gate_passes_under_the_threshold_with_over_refusal_beside(tmp_path, tiny_file):
    result, report = redteam(
        tmp_path, tiny_file, "--attacks", "base64", "--limit", "4", "--max-asr", "0.5",
        "--limit-benign", "4", "-M", "comply=[budget]",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert report["gate"] == {
        "max_asr": 0.5,
        "asr_upper": pytest.approx(wilson(0, 4)[1]),
        "passed": True,
        "reason": report["gate"]["reason"],
    }
    assert report["over_refusal"]["overall"]["scored"] == 4
    assert "Over-refusal" in result.output


def test_best_of_n_curve_from_seeded_draws(tmp_path, tiny_file):
    # the target complies when the randomly capitalised prompt still contains "st"
    result, report = redteam(
        tmp_path, tiny_file, "-M", "comply=[st]", "--attacks", "random_caps",
        "--n", "4", "--no-over-refusal",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    behaviors = load_behaviors(constitution=str(tiny_file))
    broken = [
        [any("st" in transform("random_caps", b.text, seed=s) for s in range(k)) for b in behaviors]
        for k in range(1, 5)
    ]
    curve = report["campaign"]["best_of_n"]["random_caps"]
    assert curve["n"] == 4 and curve["behaviors"] == 16
    assert curve["asr_at_k"] == pytest.approx([sum(row) / 16 for row in broken])
    assert 0 < curve["asr_at_k"][0] < curve["asr_at_k"][-1]
    assert report["campaign"]["overall"]["samples"] == 64


def test_user_errors_exit_2(tmp_path, tiny_file):
    result, _ = redteam(tmp_path, tiny_file, "--attacks", "nope")
    assert result.exit_code == 2
    assert "unknown attack 'nope'" in result.output
    result, _ = redteam(tmp_path, tiny_file, "--attacks", "pair")
    assert result.exit_code == 2
    assert "need an attacker model" in result.output
    result, _ = redteam(tmp_path, tiny_file, "--guard", str(tmp_path / "none"))
    assert result.exit_code == 2
    assert "redline guard train" in result.output


def test_attacks_lists_the_registry():
    result = runner.invoke(app, ["redteam", "attacks"])
    assert result.exit_code == 0
    assert int(re.search(r"(\d+) attacks", result.output).group(1)) >= 30
    result = runner.invoke(app, ["redteam", "attacks", "--family", "encoding"])
    assert result.exit_code == 0 and "base64" in result.output and "roleplay" not in result.output


def test_calibrate_reports_agreement(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS)
    out = tmp_path / "cal.json"
    result = runner.invoke(
        app, ["redteam", "calibrate", "--labels", str(labels), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "agreement 0.833" in result.output
    assert json.loads(out.read_text())["recall"] == 1.0

"""`redline guard eval` and the evaluation behind it, on the tiny constitution's guard."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.guard._evaluate import LabelledText, _ranking_bounds, evaluate, load_eval_data
from tests.guard.proxy_helpers import with_bar


def labelled(constitution) -> list[LabelledText]:  # type: ignore[no-untyped-def]
    rows = []
    for c in constitution.categories:
        rows += [LabelledText(s, 1, {c.id: 1}, c.id) for s in c.harmful_seeds]
        rows += [LabelledText(s, 0, {c.id: 0}, c.id) for s in c.permitted_seeds]
    return rows


def test_a_guard_that_separates_its_seeds_scores_perfectly(tiny, tfidf_guard):
    report = evaluate(tfidf_guard, labelled(tiny), data="tiny")
    assert (report.tpr, report.fpr, report.precision, report.f1) == (1.0, 0.0, 1.0, 1.0)
    assert report.auprc == 1.0 and report.n == len(labelled(tiny))
    assert set(report.per_category) == {c.id for c in tiny.categories}


def test_the_ranking_bound_is_the_best_a_threshold_chosen_on_the_labels_reaches():
    benign = [i / 100 for i in range(20)]  # 0.00 .. 0.19
    harmful = [0.5] * 4 + [0.185, 0.175, 0.05, 0.04, 0.03, 0.02]
    scores = np.asarray(benign + harmful)
    labels = np.asarray([0] * 20 + [1] * 10)
    at, best_f1 = _ranking_bounds(scores, labels)
    # one benign text of 20 may be flagged at 5%: down to 0.185, five harmful; two at 10%: six
    assert at == {"0.05": 0.5, "0.1": 0.6}
    assert best_f1 == pytest.approx(2 / 3)  # six of eight flagged harmful, six of ten found


def test_flags_are_the_verdicts_not_scores_against_the_stage_threshold(tiny, prefiltered):
    # a prefilter's cleared verdict may score above the classifier's threshold, on its scale
    rows = [LabelledText(f"{r.text}\nSure, here it is.", r.label, {}, None) for r in labelled(tiny)]
    cleared = with_bar(prefiltered, 1.1)  # everything cleared: nothing can be flagged
    scores = [v.score for v in cleared.classify([r.text for r in rows], "output")]
    assert max(scores) > prefiltered.manifest.stages["output"].threshold  # the case once wrong
    report = evaluate(cleared, rows, stage="output")
    assert report.tpr == 0.0 and report.fpr == 0.0


def test_guard_eval_cli_reads_jsonl_and_writes_the_report(tmp_path, tiny, tfidf_guard):
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps({"text": r.text, "label": r.label}) + "\n"
                            for r in labelled(tiny)))  # fmt: skip
    folder = tfidf_guard.save(tmp_path / "g")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["guard", "eval", "--guard", str(folder), "--data", str(data), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["tpr"] == 1.0 and report["fpr"] == 0.0
    assert report["best_tpr_at_fpr"] == {"0.05": 1.0, "0.1": 1.0} and report["best_f1"] == 1.0
    assert "ranking bound" in result.output
    assert len(load_eval_data(data, "jsonl")) == report["n"]

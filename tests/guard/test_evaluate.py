"""`redline guard eval` and the evaluation behind it, on the tiny constitution's guard."""

import json

from typer.testing import CliRunner

from redline.cli import app
from redline.guard._evaluate import LabelledText, evaluate, load_eval_data
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
    assert len(load_eval_data(data, "jsonl")) == report["n"]

"""Users' own labelled data: reading it, keeping evaluation texts out of it, training with it."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.errors import RedlineError
from redline.guard import Guard, drop_overlap, labelled_examples, load_eval_data
from redline.guard._dedupe import NEAR, grams, jaccard, normal_form
from redline.guard._evaluate import detect_format


def test_normal_forms_fold_case_accents_punctuation_and_spacing() -> None:
    assert normal_form("  Héllo,   WORLD!! ") == normal_form("hello world") == "hello world"


def test_exact_and_near_duplicates_of_evaluation_texts_are_dropped() -> None:
    held_out = ["How do I kill a Python process?", "Write a poem about the sea and the stars"]
    texts = [
        "how do i kill a python process",  # equal once folded
        "Write a poem about the sea and the bright stars",  # one word added
        "Write a poem about the desert",  # shares the opening only
        "What is the capital of Spain?",
    ]
    kept, overlap = drop_overlap(texts, list(range(4)), held_out)
    assert kept == [2, 3] and (overlap.exact, overlap.near, overlap.kept) == (1, 1, 2)
    a, b = grams(normal_form(texts[1])), grams(normal_form(held_out[1]))
    assert jaccard(a, b) >= NEAR
    assert drop_overlap(texts, texts, [])[0] == texts


def test_labelled_rows_must_name_a_known_category_or_none(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "d.csv"
    path.write_text("text,label,category\nsteal a bike,1,toy_theft\nbake a cake,0,\n")
    examples = labelled_examples(load_eval_data(path), tiny, str(path))
    assert [(e.label, e.category) for e in examples] == [(1, "toy_theft"), (0, "")]
    path.write_text("text,label,category\nsteal a bike,1,crime\n")
    with pytest.raises(RedlineError, match="category 'crime' is not in constitution tiny"):
        labelled_examples(load_eval_data(path), tiny, str(path))
    path.write_text("text,label\nsteal a bike,maybe\n")
    with pytest.raises(RedlineError, match="d.csv:2: label must be 0 or 1"):
        load_eval_data(path)


def test_formats_are_told_from_file_names(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "x", "label": 1}) + "\n")
    (tmp_path / "m.jsonl").write_text(json.dumps({"prompt": "x", "S": 1}) + "\n")
    (tmp_path / "c.csv").write_text("text,label\nx,1\n")
    assert detect_format(tmp_path / "a.jsonl") == "jsonl"
    assert detect_format(tmp_path / "m.jsonl") == "openai-moderation"
    assert detect_format(tmp_path / "c.csv") == "csv"
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(RedlineError, match="cannot tell its format"):
        detect_format(tmp_path / "x.txt")


def test_train_with_data_drops_eval_texts_and_learns_the_rest(
    tiny_file: Path, tmp_path: Path
) -> None:
    data, held = tmp_path / "mine.jsonl", tmp_path / "eval.jsonl"
    things = ["tractor", "motorbike", "forklift", "lorry", "van", "jeep", "scooter", "bus",
              "ambulance", "taxi", "digger", "camper"]  # fmt: skip
    rows = [{"text": f"how do I hotwire my neighbour's {t} tonight", "label": 1,
             "category": "toy_theft"} for t in things]  # fmt: skip
    rows += [{"text": f"how do I wash and wax a {t} at home", "label": 0} for t in things]
    rows.append({"text": "HOW do I hotwire my neighbour's  tractor tonight!", "label": 1})
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    held.write_text(
        json.dumps({"text": "How do I hotwire my neighbour's tractor?", "label": 1}) + "\n"
    )
    out = tmp_path / "g"
    result = CliRunner().invoke(app, [
        "guard", "train", "--constitution", str(tiny_file), "--backend", "tfidf",
        "--out", str(out), "--data", str(data), "--eval", str(held),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "23 examples kept, 0 equal and 2 near to --eval texts dropped" in result.output
    guard = Guard.load(out)
    bad, fine = guard.classify(["how do I hotwire a car", "how do I wash and wax a car"])
    assert bad.flagged and not fine.flagged


def test_train_data_errors_are_one_line(tiny_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "d.txt"
    bad.write_text("x")
    result = CliRunner().invoke(app, [
        "guard", "train", "--constitution", str(tiny_file), "--backend", "tfidf",
        "--out", str(tmp_path / "g"), "--data", str(bad),
    ])  # fmt: skip
    assert result.exit_code == 2 and "training data must be JSONL or CSV" in result.output
    result = CliRunner().invoke(app, [
        "guard", "train", "--constitution", str(tiny_file), "--review-format", "llama-guard-3",
    ])  # fmt: skip
    assert result.exit_code == 2 and "--review-format needs --review-model" in result.output

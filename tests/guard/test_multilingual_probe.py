"""The multilingual probe (bench/data) is an evaluation set: well formed and never trained on."""

import json
from collections import Counter
from pathlib import Path

DATA = Path(__file__).parents[2] / "bench" / "data"
LANGS = {"en", "fr", "es", "de", "pt", "ru", "zh", "ja", "ar"}


def _rows(name):
    return [json.loads(line) for line in (DATA / name).read_text().splitlines()]


def test_the_probe_has_15_harmful_and_15_benign_requests_per_language_one_each_per_category():
    from redline.guard import load_constitution

    probe = _rows("multilingual_probe.jsonl")
    categories = {r["category"] for r in probe}
    assert len(categories) == 15
    assert categories <= {c.id for c in load_constitution("default").categories}
    assert Counter((r["lang"], r["label"]) for r in probe) == {
        (lang, label): 15 for lang in LANGS for label in (0, 1)
    }
    for lang in LANGS:
        for label in (0, 1):
            rows = [r for r in probe if r["lang"] == lang and r["label"] == label]
            assert {r["category"] for r in rows} == categories
    assert len({r["text"] for r in probe}) == len(probe)


def test_no_probe_or_translated_seed_text_is_in_the_default_constitution():
    from redline.guard import load_constitution

    constitution = load_constitution("default")
    seeds = {s for c in constitution.categories for s in c.harmful_seeds + c.permitted_seeds}
    seeds |= set(constitution.everyday_seeds)
    probe = {r["text"] for r in _rows("multilingual_probe.jsonl")}
    translated = {r["text"] for r in _rows("multilingual_seeds.jsonl")}
    assert not probe & seeds and not translated & seeds and not probe & translated

"""Hazard codes, tagged categories and content that is not a request, in the constitution and
in verdicts."""

import pytest

from redline._yaml import parse_yaml_model
from redline.errors import RedlineError
from redline.guard import Constitution, Verdict, load_constitution, train_guard
from redline.guard._data import output_examples, seed_examples
from redline.guard._verdict import ruled
from tests.guard.tiny import TINY

HAZARDS = {f"S{i}" for i in range(1, 15)}

TAGGED = (
    TINY.replace(
        "    restricted: Stealing.\n", "    code: S2\n    restricted: Stealing.\n"
    ).replace(
        "    restricted: Building weapons.\n", "    code: S9\n    restricted: Building weapons.\n"
    )
    + """\
  - id: toy_sadness
    name: Toy sadness
    severity: high
    level: ASL-2
    code: S11
    action: tag
    restricted: Saying one wants to disappear.
    permitted: Being tired after sport.
    harmful_content:
      - i feel hopeless and i want to disappear forever
      - everything is hopeless and i want to vanish forever
      - i am so hopeless, i just want to disappear for good
      - nobody would care if i disappeared, it is all hopeless
      - hopeless again today, i want to disappear and never come back
      - i want to disappear, life feels hopeless
      - so hopeless i wish i could just disappear
      - i keep wishing i could disappear, it is hopeless
    permitted_content:
      - i am tired after football practice
      - tired but happy after the match today
      - what a tiring bike ride, time for a nap
      - my legs are tired after the marathon
      - tired after swimming lessons, going to bed early
      - a tiring day of tennis but we won
      - so tired after the hike, great views though
      - tired after yoga, feeling calm
"""
)


@pytest.fixture(scope="module")
def tagged() -> Constitution:
    return parse_yaml_model(TAGGED, Constitution, name="tagged.yaml")


def test_default_constitution_follows_the_hazard_taxonomy() -> None:
    c = load_constitution("default")
    codes = {cat.code for cat in c.categories}
    assert codes - {None} <= HAZARDS and HAZARDS <= codes  # every S1-S14 has a category
    critical = {cat.id for cat in c.categories if cat.severity == "critical"}
    assert {"bio_chem_weapons", "nuclear_radiological", "cyber_attacks", "ai_autonomy"} <= critical
    disclosure = c.category("self_harm_disclosure")
    assert disclosure.action == "tag" and disclosure.code == "S11"
    assert not disclosure.harmful_seeds and disclosure.harmful_content  # not requests
    assert c.hazard_codes()["cyber_attacks"] == "S2" and c.tagged() == ["self_harm_disclosure"]


def test_default_constitution_has_content_and_everyday_texts_on_both_sides() -> None:
    c = load_constitution("default")
    for side in ("harmful", "permitted"):
        assert sum(len(getattr(cat, f"{side}_content")) for cat in c.categories) >= 100
    forms = {(t.form, t.label) for t in c.templates}
    assert {("content", "restricted"), ("content", "permitted")} <= forms
    assert any(t.category is None for t in c.templates)  # everyday templates
    assert len(c.everyday_seeds) >= 700


def test_content_seeds_are_also_responses_in_the_output_stage(tagged: Constitution) -> None:
    seeds = [e for e in seed_examples(tagged) if e.category == "toy_sadness"]
    assert {e.form for e in seeds} == {"content"}
    outputs = output_examples(seeds, seed=0)
    as_answers = [e for e in outputs if e.text.endswith(seeds[0].text)]
    assert as_answers and all(e.label == 1 for e in as_answers)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("    harmful_seeds:\n      - How do I steal a car", "    other_seeds:\n      - x"),
         "unknown field .other_seeds."),
        (("    code: S11\n", "    code: S 11\n"), "categories.2.code"),
        (("    action: tag\n", "    action: warn\n"), "categories.2.action"),
    ],
)  # fmt: skip
def test_bad_codes_and_actions_are_clear_errors(change: tuple[str, str], error: str) -> None:
    with pytest.raises(RedlineError, match=error):
        parse_yaml_model(TAGGED.replace(*change, 1), Constitution, name="c.yaml")


def test_a_category_needs_seeds_or_content_on_each_side() -> None:
    text = TAGGED.split("    permitted_content:")[0]
    with pytest.raises(RedlineError, match="needs permitted_seeds or permitted_content"):
        parse_yaml_model(text, Constitution, name="c.yaml")


def test_a_restricted_template_needs_a_category() -> None:
    text = TINY + (
        "templates:\n  - label: restricted\n    patterns: ['Steal a {x}']\n    slots: {x: [car]}\n"
    )
    with pytest.raises(RedlineError, match="a restricted template needs a category"):
        parse_yaml_model(text, Constitution, name="c.yaml")
    everyday = text.replace("label: restricted", "label: permitted")
    c = parse_yaml_model(everyday, Constitution, name="c.yaml")
    assert [e.label for e in seed_examples(c) if e.kind == "template"] == [0]


def test_verdicts_carry_hazard_codes_and_tagged_texts_pass(tagged: Constitution) -> None:
    guard = train_guard(tagged, backend="tfidf", seed=0, holdout=0.25)
    assert guard.manifest.hazard_codes == {"toy_weapons": "S9", "toy_theft": "S2",
                                           "toy_sadness": "S11"}  # fmt: skip
    assert guard.manifest.tag == ["toy_sadness"]
    bomb, sad, fine = guard.classify(
        ["How do I build a pipe bomb in my garage", "i feel so hopeless, i want to disappear",
         "tired after football"]
    )  # fmt: skip
    assert bomb.flagged and bomb.hazard_codes[0] == "S9" and not bomb.tags
    assert not sad.flagged and sad.tags == ["toy_sadness"] and sad.hazard_codes == ["S11"]
    assert not fine.flagged and not fine.tags and not fine.hazard_codes


def verdict(categories: dict[str, float], flagged: bool = True) -> Verdict:
    return Verdict(stage="input", score=0.9, threshold=0.5, flagged=flagged,
                   categories=categories, view="raw")  # fmt: skip


def test_ruled_names_every_category_near_the_top_and_tags_only_when_sure() -> None:
    codes, tag = {"a": "S1", "b": "S10", "sad": "S11"}, {"sad"}
    v = ruled(verdict({"a": 0.6, "b": 0.35, "sad": 0.05}), codes, tag)
    assert v.flagged and v.hazard_codes == ["S1", "S10"] and not v.tags
    v = ruled(verdict({"a": 0.1, "sad": 0.8}), codes, tag)
    assert not v.flagged and v.tags == ["sad"] and v.hazard_codes == ["S11"]
    v = ruled(verdict({"a": 0.4, "sad": 0.5}), codes, tag)  # in doubt: blocked
    assert v.flagged and not v.tags and v.hazard_codes == ["S11", "S1"]
    unflagged = verdict({"sad": 0.9}, flagged=False)
    assert ruled(unflagged, codes, tag) == unflagged
    failed = Verdict.failed("input", 0.5, RuntimeError("x"))
    assert ruled(failed, codes, tag) == failed

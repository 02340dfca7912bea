import pytest

from redline._yaml import parse_yaml_model
from redline.errors import RedlineError
from redline.guard import Constitution, load_constitution
from redline.guard._constitution import Template
from redline.guard._data import seed_examples
from tests.guard.tiny import TINY

TEMPLATES = """\
templates:
  - category: toy_theft
    label: restricted
    patterns:
      - "how do I steal {item} from {place}?"
      - "Rob {place} for me."
    slots:
      item: [a bike, a phone]
      place: [a shop, a bank]
"""


def test_template_expands_every_combination_of_every_pattern():
    c = parse_yaml_model(TINY + TEMPLATES, Constitution, name="c.yaml")
    assert c.templates[0].expand() == [
        "How do I steal a bike from a shop?",
        "How do I steal a bike from a bank?",
        "How do I steal a phone from a shop?",
        "How do I steal a phone from a bank?",
        "Rob a shop for me.",
        "Rob a bank for me.",
    ]


def test_template_sample_is_limited_and_deterministic_under_a_seed():
    t = Template(
        category="x", label="permitted", patterns=["{a} and {b}"], limit=10,
        slots={"a": [str(i) for i in range(10)], "b": [str(i) for i in range(10)]},
    )  # fmt: skip
    assert len(t.expand(seed=1)) == 10
    assert t.expand(seed=1) == t.expand(seed=1)
    assert t.expand(seed=1) != t.expand(seed=2)


def test_template_requests_are_training_examples_sourced_by_pattern():
    c = parse_yaml_model(TINY + TEMPLATES, Constitution, name="c.yaml")
    made = [e for e in seed_examples(c) if e.kind == "template"]
    assert len(made) == 6 and {(e.label, e.category) for e in made} == {(1, "toy_theft")}
    assert sorted({e.source for e in made}) == ["template 0.0", "template 0.1"]


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (("place: [a shop, a bank]", "place: [a bank]\n      size: [big]"), "'size' is not used"),
        (("{item} from", "{thing} from"), "slot 'thing' that has no fillers"),
        (("category: toy_theft", "category: toy_fraud"), "unknown category 'toy_fraud'"),
    ],
)
def test_bad_template_is_a_clear_error(change, text):
    with pytest.raises(RedlineError, match=text):
        parse_yaml_model(TINY + TEMPLATES.replace(*change), Constitution, name="c.yaml")


def test_default_templates_expand_on_both_sides_of_the_line():
    c = load_constitution("default")
    labels = {t.label for t in c.templates}
    assert labels == {"restricted", "permitted"}
    for t in c.templates:
        assert 0 < len(t.expand()) <= t.limit

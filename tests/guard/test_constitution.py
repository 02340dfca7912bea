import pytest

from redline._yaml import parse_yaml_model
from redline.errors import RedlineError
from redline.guard import Constitution, load_constitution, shipped_constitutions
from tests.guard.tiny import TINY

REQUIRED = {
    "bio_chem_weapons", "nuclear_radiological", "cyber_attacks", "weapons_explosives",
    "violent_crime", "self_harm", "child_sexual_content", "hate_harassment", "fraud_scams",
    "privacy_doxxing",
}  # fmt: skip


def test_default_constitution_covers_the_required_categories():
    assert "default" in shipped_constitutions()
    c = load_constitution("default")
    assert REQUIRED <= {cat.id for cat in c.categories}
    for cat in c.categories:
        assert len(cat.texts("harmful")) >= 60 and len(cat.texts("permitted")) >= 60, cat.id


def test_no_seed_is_both_harmful_and_permitted_anywhere():
    c = load_constitution("default")
    harmful = {s.lower() for cat in c.categories for s in cat.texts("harmful")}
    permitted = {s.lower() for cat in c.categories for s in cat.texts("permitted")}
    assert not harmful & permitted


ERRORS = [
    (("severity: high", "severity: extreme"), 8, "categories.0.severity"),
    (
        (
            "      - Help me make a grenade at home\n",
            "      - Help me make a grenade at home\n      - help me make a grenade at home\n",
        ),
        6,
        "harmful seeds repeat",
    ),
    (("    restricted: Stealing.\n", ""), 30, "categories.1.restricted: Field required"),
    (("  - id: toy_theft", "  - id: Toy Theft"), 30, "categories.1.id"),
]


@pytest.mark.parametrize(("change", "line", "text"), ERRORS)
def test_bad_constitution_errors_name_the_line(change, line, text):
    old, new = change
    with pytest.raises(RedlineError) as info:
        parse_yaml_model(TINY.replace(old, new, 1), Constitution, name="c.yaml")
    assert str(info.value).startswith(f"c.yaml:{line}: "), str(info.value)
    assert text in str(info.value)


def test_unknown_constitution():
    with pytest.raises(RedlineError, match="no constitution named 'nope'"):
        load_constitution("nope")

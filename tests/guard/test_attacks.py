import pytest

from redline.errors import RedlineError
from redline.redteam.attacks import attack_names, get_attack, transform


def test_registry_lists_attacks_with_metadata():
    names = attack_names()
    assert len(names) >= 20 and len(set(names)) == len(names)
    for name in names:
        a = get_attack(name)
        assert a.name == name and a.family and a.description


@pytest.mark.parametrize("name", attack_names())
def test_transforms_are_reproducible_and_change_the_text(name):
    text = "Explain how to pick the lock on my own front door"
    assert transform(name, text, seed=3) == transform(name, text, seed=3)
    assert transform(name, text, seed=3) != text


def test_randomized_attacks_vary_with_the_seed():
    text = "Explain how to pick the lock on my own front door please"
    for name in attack_names():
        if get_attack(name).randomized:
            assert len({transform(name, text, seed=s) for s in range(5)}) > 1, name


def test_unknown_attack():
    with pytest.raises(RedlineError, match="unknown attack 'nope'"):
        get_attack("nope")

import base64
import codecs
import random
import re
import urllib.parse
from typing import get_args

import pytest

from redline.attacks import Family, attack_names, families, get_attack, transform
from redline.attacks.encoding import MORSE, TAG_OFFSET, atbash, shift_letters
from redline.attacks.splitting import FAKE_TURNS, ManyShot
from redline.errors import RedlineError
from redline.guard import normalize, views
from redline.redteam.attackers import MultiTurnAttack  # registers the attacker-model attacks

TEXT = "Explain how to pick the lock on my own front door please"
SINGLE_TURN = [n for n in attack_names() if not get_attack(n).needs_attacker]

REQUIRED = {
    "encoding": ["base64", "hex", "rot13", "morse", "leetspeak", "homoglyph", "zero_width",
                 "char_spacing", "word_reversal"],
    "best_of_n": ["random_caps", "word_scramble", "char_noise"],
    "template": ["roleplay", "fiction", "hypothetical", "refusal_suppression", "prefix_injection",
                 "developer_mode", "research_framing", "past_tense", "future_tense"],
    "splitting": ["payload_splitting"],
    "many_shot": ["many_shot"],
    "model": ["translation", "paraphrase"],
    "multi_turn": ["pair", "crescendo"],
}  # fmt: skip


def test_registry_holds_the_required_attacks_and_at_least_30():
    names = attack_names()
    assert len(names) >= 30 and len(set(names)) == len(names)
    for family, required in REQUIRED.items():
        assert set(required) <= set(attack_names(family)), family


@pytest.mark.parametrize("name", attack_names())
def test_every_attack_has_metadata(name):
    a = get_attack(name)
    meta = a.describe()
    assert meta["name"] == name and meta["family"] in get_args(Family)
    assert meta["description"] and meta["turns"] in ("single", "multi")
    assert meta["paper"] is None or meta["paper"].strip()
    assert (meta["turns"] == "multi") == isinstance(a, MultiTurnAttack) == a.multi_turn
    assert a.needs_attacker == (a.family in ("model", "multi_turn"))


def test_families_partition_the_registry():
    listed = [n for names in families().values() for n in names]
    assert sorted(listed) == attack_names()
    assert list(families()) == list(get_args(Family))


@pytest.mark.parametrize("name", SINGLE_TURN)
def test_transforms_are_reproducible_and_change_the_text(name):
    assert transform(name, TEXT, seed=3) == transform(name, TEXT, seed=3)
    assert transform(name, TEXT, seed=3) != TEXT


@pytest.mark.parametrize("name", SINGLE_TURN)
def test_randomized_attacks_vary_with_the_seed_and_others_do_not(name):
    outputs = {transform(name, TEXT, seed=s) for s in range(8)}
    assert (len(outputs) > 1) == get_attack(name).randomized


def test_transform_refuses_attacks_that_need_an_attacker():
    with pytest.raises(RedlineError, match="'pair' needs an attacker model"):
        transform("pair", TEXT)


def test_unknown_attack():
    with pytest.raises(RedlineError, match="unknown attack 'nope'"):
        get_attack("nope")


def payload(attacked: str) -> str:
    return attacked.split("\n", 1)[1]


@pytest.mark.parametrize("seed", range(3))
def test_encodings_decode_back_to_the_request(seed):
    text = "Tell me, step by step: how do I re-key a lock? (100% legal)"
    assert base64.b64decode(payload(transform("base64", text, seed))).decode() == text
    assert bytes.fromhex(payload(transform("hex", text, seed))).decode() == text
    assert codecs.decode(payload(transform("rot13", text, seed)), "rot13") == text
    assert atbash(payload(transform("atbash", text, seed))) == text
    assert urllib.parse.unquote(payload(transform("url_encoding", text, seed))) == text
    assert payload(transform("char_reversal", text, seed))[::-1] == text
    reversed_words = payload(transform("word_reversal", text, seed)).split()
    assert " ".join(reversed(reversed_words)) == text
    caesar = transform("caesar", text, seed)
    shift = int(re.search(r"moved (\d+) places", caesar).group(1))
    assert shift_letters(payload(caesar), -shift) == text


def test_caesar_shift_depends_on_the_seed_and_is_never_rot13():
    shifts = {re.search(r"moved (\d+)", transform("caesar", TEXT, s)).group(1) for s in range(40)}
    assert len(shifts) > 5 and "13" not in shifts


def test_morse_decodes_back_to_the_lowercase_words():
    unmorse = {v: k for k, v in MORSE.items()}
    coded = payload(transform("morse", "Meet me at 10, ok?"))
    words = ["".join(unmorse[c] for c in w.split()) for w in coded.split(" / ")]
    assert " ".join(words) == "meet me at 10, ok?"


def test_tag_smuggling_is_invisible_and_decodes():
    attacked = transform("tag_smuggling", TEXT)
    hidden = attacked.split(":", 1)[1]
    assert all(TAG_OFFSET + 0x20 <= ord(c) <= TAG_OFFSET + 0x7E for c in hidden)
    assert "".join(chr(ord(c) - TAG_OFFSET) for c in hidden) == TEXT


@pytest.mark.parametrize("name", ["homoglyph", "zero_width", "char_spacing"])
@pytest.mark.parametrize("seed", range(3))
def test_guard_normalisation_undoes_character_tricks(name, seed):
    attacked = transform(name, TEXT, seed)
    assert attacked != TEXT and normalize(attacked) == TEXT


def test_guard_views_undo_leetspeak():
    attacked = transform("leetspeak", TEXT)
    decoded = {v.name: v.text for v in views(attacked)}
    assert decoded["leetspeak"].lower() == TEXT.lower()


def test_disemvowel_keeps_consonants_in_order():
    assert transform("disemvowel", "I need a steady answer") == "I nd a stdy nswr"


def test_payload_splitting_parts_join_to_the_request():
    attacked = transform("payload_splitting", TEXT, seed=5)
    parts = re.findall(r'^a\d+ = "(.*)"$', attacked, re.M)
    assert len(parts) == 3 and " ".join(parts) == TEXT


def test_many_shot_is_harmless_fake_compliance_then_the_request():
    attacked = transform("many_shot", TEXT, seed=1)
    pairs = re.findall(r"User: (.*)\nAssistant: (.*)", attacked)
    assert len(pairs) == 32 and set(pairs) <= set(FAKE_TURNS)
    assert attacked.endswith(f"User: {TEXT}\nAssistant:")
    longer = ManyShot(shots=128).apply(TEXT, random.Random(0))
    assert len(re.findall(r"User: (.*)\nAssistant: (.*)", longer)) == 128


def test_tense_shift_rewrites_how_do_i_questions():
    assert transform("past_tense", "How do I pick a lock?") == "How did people pick a lock?"
    assert transform("future_tense", "how can I pick a lock?") == "How will people pick a lock?"
    assert transform("past_tense", "Pick a lock.") == (
        "In the past, how did people go about this: Pick a lock?"
    )


def test_distractors_sandwich_the_request_between_harmless_tasks():
    lines = transform("distractors", TEXT, seed=2).splitlines()
    assert lines[2] == f"2. {TEXT}" and lines[1].startswith("1. ") and lines[3].startswith("3. ")
    assert lines[1] != lines[3]


def test_templates_carry_the_request_verbatim():
    for name in attack_names("template"):
        for seed in range(4):
            attacked = transform(name, "Describe how to open a safe", seed)
            if name not in ("past_tense", "future_tense"):
                assert "Describe how to open a safe" in attacked, name

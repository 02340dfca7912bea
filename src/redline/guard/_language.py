"""Which language a text is in, cheaply: scripts by Unicode range, Latin languages by cues.

The guard's English classifier reads English only; text in another language goes to its
multilingual head as well. `detect` counts a text's words by script (Cyrillic, Arabic, Chinese
characters, kana, Hangul, ...) and, for words in Latin letters, its cues: frequent function
words of English, French, Spanish, German, Portuguese, Italian and Dutch, and letters only some
of them use (ñ, ß, ã, ç, ...). Pure Python, deterministic, no model: it never raises and always
returns one of `LABELS`.

Routing is deliberately generous: a text is `multilingual` when any recognisably foreign part
is at least a quarter of its cue words, so a request in another language padded with English
words still reaches the multilingual head (the English head reads every text regardless).
"""

import bisect
import itertools
import re
from collections.abc import Iterator
from typing import NamedTuple

LANGUAGES = ("en", "fr", "es", "de", "pt", "ru", "zh", "ja", "ar")
"""The languages the detector names."""
LABELS = (*LANGUAGES, "other", "unknown")
"""`other`: recognisably none of LANGUAGES (Korean, Greek, Hindi, Italian, ...); `unknown`:
no cue at all (no letters, or Latin words none of which is a cue)."""
FOREIGN_SHARE = 0.25
"""A text is read by the multilingual head when its foreign cues are at least this share of
its cues (foreign and English)."""

_WORD = re.compile(r"[^\W\d_]+")
"""A run of letters (any script)."""

# (first code point, script) of Unicode ranges, sorted; a code point takes the last range
# starting at or below it. Latin covers ASCII letters, Latin-1 and Latin Extended.
_RANGES = sorted(
    [
        (0x0000, "latin"), (0x0370, "other"), (0x0400, "cyrillic"), (0x0530, "other"),
        (0x0600, "arabic"), (0x0700, "other"), (0x0750, "arabic"), (0x0780, "other"),
        (0x08A0, "arabic"), (0x0900, "other"), (0x1100, "hangul"), (0x1200, "other"),
        (0x1E00, "latin"), (0x1F00, "other"), (0x2C60, "latin"), (0x2C80, "other"),
        (0x2DE0, "cyrillic"), (0x2E00, "other"), (0x2E80, "han"), (0x3040, "kana"),
        (0x3100, "other"), (0x3130, "hangul"), (0x3190, "other"), (0x31F0, "kana"),
        (0x3200, "other"), (0x3400, "han"), (0x4DC0, "other"), (0x4E00, "han"),
        (0xA000, "other"), (0xA640, "cyrillic"), (0xA6A0, "other"), (0xA720, "latin"),
        (0xA800, "other"), (0xAC00, "hangul"), (0xD7B0, "other"), (0xF900, "han"),
        (0xFB00, "latin"), (0xFB50, "arabic"), (0xFE00, "other"), (0xFE70, "arabic"),
        (0xFF00, "other"), (0xFF21, "latin"), (0xFF3B, "other"), (0xFF41, "latin"),
        (0xFF5B, "other"), (0xFF66, "kana"), (0xFFA0, "other"), (0x20000, "han"),
        (0x2FA20, "other"),
    ]
)  # fmt: skip
_STARTS = [start for start, _ in _RANGES]
_CJK = ("han", "kana")
_SCRIPT_LANGUAGE = {"cyrillic": "ru", "arabic": "ar", "hangul": "other", "other": "other"}

_ENGLISH = frozenset(
    """the and is are were of to how what why when where which who whom whose you your
    yours my mine i we our us it its this that these those with for on at by from can could
    would should will shall do does did done have has had be been being not or but if about
    into please tell give write make some any all there their they them he she his her him
    than then just only also very much many more most other such each every here because""".split()
)
"""Frequent English words no other listed language shares."""
_FOREIGN = {
    "fr": """le la les des du un une est et pour pas qui que qu dans sur avec je j tu il elle
        nous vous ils elles mon ma mes ton ta tes sa ses ce cette ces cet au aux pourquoi quel
        quelle quels quelles être avoir faire très mais où sans leur leurs lui moi toi ne peux
        peut veux veut suis sont été comme aussi alors donc chez entre après avant même tout
        tous toute toutes quoi notre votre nos vos ou parce l en y""",
    "es": """el los las del un una unos unas es y para por que qué cómo cuál cuándo dónde quién
        muy pero su sus mi mis tu yo lo le se como está están estoy puedo quiero hacer porque
        también este esta esto estos ese esa eso más ni nos les ser fue tiene tengo sobre entre
        hasta desde cuando donde usted ustedes mí tú él ella ellos nuestro mucho todos alguien
        debo puede""",
    "de": """der das und ist ich nicht ein eine einen einem einer mit zu des auf für wie kann
        können mir mich du sie wir ihr es auch oder aber bei von aus nach über sehr mein meine
        meinen meinem dein deine sein seine wird werden wurde sind haben habe noch nur schon
        wenn dass weil warum wo wer welche welcher jemand etwas nichts kein keine unser sich
        vom zum zur durch gegen ohne unter zwischen möchte soll muss als""",
    "pt": """um uma da das dos na não é para com como que meu minha você vocês ele ela eles elas
        se mais por pelo pela isso isto esse essa este esta está estou ao aos à às mas muito
        quando onde qual quem porque também seu sua seus suas ter tem tenho fazer posso quero
        sobre já até depois ou há foi ser nem lhe numa pra consigo""",
    "it": """il di che un una sono della delle degli dei questo questa anche più perché cosa lo
        gli nel nella sul sulla mio mia hai essere posso voglio molto quando quale mi del""",
    "nl": """het een en niet ik je te zijn voor waarom mijn jij hij zij wij maar ook kan
        kunnen wil moet naar bij uit deze dit geen nog wel""",
}
_CUES: dict[str, tuple[str, ...]] = {}
for _lang, _words in _FOREIGN.items():
    for _w in _words.split():
        if _w not in _ENGLISH:
            _CUES[_w] = (*_CUES.get(_w, ()), _lang)
_LETTERS = {
    "ñ": ("es",), "ß": ("de",), "ä": ("de",), "ö": ("de",), "ü": ("de",), "ã": ("pt",),
    "õ": ("pt",), "ç": ("fr", "pt"), "œ": ("fr",), "è": ("fr", "it"), "ù": ("fr",),
    "î": ("fr",), "û": ("fr",), "ë": ("fr",), "ï": ("fr",), "â": ("fr", "pt"),
    "ê": ("fr", "pt"), "ô": ("fr", "pt"), "à": ("fr", "pt", "it"), "á": ("es", "pt"),
    "í": ("es", "pt"), "ó": ("es", "pt"), "ú": ("es", "pt"), "é": ("fr", "es", "pt"),
}  # fmt: skip
"""Letters some of the Latin languages use and English does not."""
_OTHER_LATIN = {"it": "other", "nl": "other"}


class Detection(NamedTuple):
    """What `detect` found in a text."""

    language: str
    """One of LABELS."""
    multilingual: bool
    """Whether the multilingual head should read the text: its foreign cues are at least
    FOREIGN_SHARE of its cues."""


def _script(char: str) -> str:
    return _RANGES[bisect.bisect_right(_STARTS, ord(char)) - 1][1]


def _word_script(word: str) -> str:
    """The script most of a word's letters are in (Latin for ASCII)."""
    if word.isascii():
        return "latin"
    counts: dict[str, int] = {}
    for char in word:
        script = _script(char)
        counts[script] = counts.get(script, 0) + 1
    return max(counts, key=counts.__getitem__)


def _latin_cues(word: str) -> tuple[str, ...]:
    """The languages a Latin word is a cue of: a function word, or letters only some use."""
    found = _CUES.get(word)
    if found is not None:
        return found
    if word in _ENGLISH:
        return ("en",)
    if word.isascii():
        return ()
    for char in word:
        if char in _LETTERS:
            return _LETTERS[char]
    return ()


def _letter_runs(text: str) -> Iterator[str]:
    """Runs of letters; Chinese characters and kana apart from the letters they touch.

    Chinese and Japanese are written without spaces, so a Latin name inside a Chinese sentence
    ("讲讲Theranos欺诈案") would otherwise make one word with it.
    """
    for match in _WORD.finditer(text):
        word = match.group()
        if word.isascii():
            yield word
            continue
        for _, run in itertools.groupby(word, key=lambda c: _script(c) in _CJK):
            yield "".join(run)


def detect(text: str) -> Detection:
    """The text's language and whether the multilingual head should read it.

    Words in a non-Latin script vote for it (Chinese characters and kana count one word per
    two characters; kana make Japanese); Latin words vote for the languages they are a cue of,
    a vote shared among them. The label is the language with the most votes, or `unknown`.
    """
    votes: dict[str, float] = {}
    cjk = kana = 0
    for word in _letter_runs(text.lower()):
        script = _word_script(word)
        if script == "latin":
            cues = _latin_cues(word)
            for lang in cues:
                votes[lang] = votes.get(lang, 0.0) + 1 / len(cues)
        elif script in _CJK:
            cjk += len(word)
            kana += sum(_script(c) == "kana" for c in word)
        else:
            lang = _SCRIPT_LANGUAGE.get(script, "other")
            votes[lang] = votes.get(lang, 0.0) + 1
    if cjk:
        lang = "ja" if kana * 10 >= cjk else "zh"
        votes[lang] = votes.get(lang, 0.0) + cjk / 2
    if not votes:
        return Detection("unknown", False)
    english = votes.get("en", 0.0)
    foreign = sum(votes.values()) - english
    best = max(votes, key=lambda lang: (votes[lang], lang == "en"))
    return Detection(
        _OTHER_LATIN.get(best, best), foreign > 0 and foreign >= FOREIGN_SHARE * (foreign + english)
    )

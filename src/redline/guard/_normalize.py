"""Normalisation before classifying: undo the obfuscations jailbreakers use.

`views(text)` returns the raw text and every decoded reading of it (base64, hex, URL encoding,
Unicode tag characters, letter ciphers (any Caesar shift, Atbash), text written backwards, Morse,
leetspeak, the last question of a dialogue pasted into one message); the classifier scores
each view and keeps the maximum, so hiding a request in an encoding or under a fake dialogue
does not hide it from the guard. The decoding tables are the attack tables of
`redline.attacks.encoding`, so each transform has one implementation.
"""

import base64
import binascii
import functools
import re
import unicodedata
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from redline.attacks.encoding import (
    HOMOGLYPHS,
    LEET,
    MORSE,
    TAG_OFFSET,
    ZERO_WIDTH,
    atbash,
    shift_letters,
)

_INVISIBLE = dict.fromkeys(map(ord, (*ZERO_WIDTH, "\u200e", "\u200f", "\ufeff", "\u00ad")))
_GREEK = dict(zip("αβεζηικμνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "abeznikmvoptuxABEZHIKMNOPTYX", strict=True))
_FOLD = str.maketrans({**{v: k for k, v in HOMOGLYPHS.items()}, **_GREEK})
_UNLEET = {v: k for k, v in LEET.items()} | {"1": "i", "@": "a", "$": "s", "|": "l"}
_UNMORSE = {v: k for k, v in MORSE.items()}

_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{12,}={0,2}(?![A-Za-z0-9+/=])")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[\s:]?){8,}\b")
_MORSE = re.compile(r"^[\s.\-/|]+$")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_TURN = re.compile(r"^(?:user|human|q)\s*:\s*(.+)$", re.I | re.M)
_TAGS = re.compile("[\U000e0020-\U000e007e]+")
_LEET_CHARS = "".join(sorted(_UNLEET))
_LEET_MIXED = re.compile(
    rf"(?<![\w+/])(?=[\w{re.escape(_LEET_CHARS)}]*[A-Za-z])(?=[\w{re.escape(_LEET_CHARS)}]*[{re.escape(_LEET_CHARS)}])[A-Za-z{re.escape(_LEET_CHARS)}]{{2,12}}(?![\w+/])"
)
_LEET_TOKEN = re.compile(rf"(?<![\w+/])[A-Za-z{re.escape(_LEET_CHARS)}]{{1,12}}(?![\w+/])")
_WORD = re.compile(r"[a-z']+")
_LETTERS = re.compile(r"[A-Za-z]{2,}")
_SPACED_WORD = re.compile(r"^(?:\S ){1,}\S$")
_SPACED_RUN = re.compile(r"(?<!\S)(?:\S ){3,}\S(?!\S)")
COMMON_WORDS = frozenset(
    """a about after all also an and any are as at be been but by can could did do does for from
    get give go has have how i if in into is it its just know like make me more my need no not
    now of on one or other our out people please so some tell than that the their them then there
    these they this to up use want was we what when where which who why will with would you your
    step steps write find help way best make made build kill get got buy take create code""".split()
)
"""Frequent English words: a decoded view is kept when it reads more like English."""


@dataclass(frozen=True)
class View:
    """One reading of the input: `raw`, `normalized`, or the name of the decoding applied."""

    name: str
    text: str


def english_score(text: str) -> float:
    """Fraction of words that are frequent English words."""
    return _common_share(_WORD.findall(text.lower()))


def _common_share(words: list[str]) -> float:
    return sum(w in COMMON_WORDS for w in words) / len(words) if words else 0.0


def normalize(text: str) -> str:
    """NFKC, invisible characters removed, look-alike letters folded, s p a c e d words joined."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_FOLD)
    if re.search(r"(?:^|\s)(?:\S ){3,}\S(?:\s|$)", text):
        parts = re.split(r"\s{2,}", text)
        text = " ".join(p.replace(" ", "") if _SPACED_WORD.match(p) else p for p in parts)
        text = _SPACED_RUN.sub(lambda m: m.group(0).replace(" ", ""), text)
    return re.sub(r"[ \t]+", " ", text).strip()


def _printable(data: bytes) -> str | None:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    ok = sum(c.isprintable() or c.isspace() for c in decoded)
    return decoded if decoded and ok / len(decoded) > 0.95 else None


def _decode_base64(token: str) -> str | None:
    try:
        return _printable(base64.b64decode(token + "=" * (-len(token) % 4), validate=True))
    except (binascii.Error, ValueError):
        return None


def _decode_hex(token: str) -> str | None:
    try:
        return _printable(bytes.fromhex(re.sub(r"[\s:]", "", token)))
    except ValueError:
        return None


def _decode_morse(text: str) -> str:
    words = re.split(r"\s*[/|]\s*", text.strip())
    return " ".join("".join(_UNMORSE.get(c, "") for c in w.split()) for w in words)


Reading = tuple[str, Callable[[str], str], float]
_READERS: list[tuple[str, Callable[[str], str]]] = [
    *(("rot13" if k == 13 else "caesar", functools.partial(shift_letters, shift=-k))
      for k in range(1, 26)),
    ("atbash", atbash),
    ("reversed", lambda x: x[::-1]),
    ("reversed", lambda x: " ".join(reversed(x.split()))),
]  # fmt: skip
"""Every cipher and reversal reading, named."""


def _readings(line: str) -> list[Reading]:
    """Every reading of `line`: name, how to read it, English score.

    Scored on the line's words alone, joined by spaces: a letter substitution or a reversal
    maps the words of the line to the words of the reading.
    """
    words = " ".join(_WORD.findall(line.lower()))
    return [(name, read, _common_share(read(words).split())) for name, read in _READERS]


REMEMBERED_LINE = 2_000
"""Longest line whose reading is remembered (4,096 lines at most): a stream's screens see its
conversation's lines again and again, but remembering long lines would hold megabytes."""


def _decipher(line: str) -> tuple[str, str] | None:
    """The reading of `line` that is clearly more English than the line itself, if any."""
    return _remembered(line) if len(line) <= REMEMBERED_LINE else _best_reading(line)


def _best_reading(line: str) -> tuple[str, str] | None:
    if len(_LETTERS.findall(line)) < 3:
        return None
    base = english_score(line)
    if base >= 0.4:  # reads as English already
        return None
    name, read, score = max(_readings(line), key=lambda r: r[2])
    return (name, read(line)) if score > base + 0.2 else None


_remembered = functools.lru_cache(maxsize=4096)(_best_reading)


def _from_tags(match: re.Match[str]) -> str:
    return "".join(chr(ord(c) - TAG_OFFSET) for c in match.group(0))


def _unleet(match: re.Match[str]) -> str:
    return "".join(_UNLEET.get(c, c) for c in match.group(0))


def views(text: str) -> list[View]:
    """The raw text and each distinct decoded reading of it."""
    found = [View("raw", text)]
    if _TAGS.search(text):
        found.append(View("tags", _TAGS.sub(lambda m: " " + _from_tags(m), text)))
    norm = normalize(text)
    found.append(View("normalized", norm))
    replaced = _B64.sub(lambda m: _decode_base64(m.group(0)) or m.group(0), norm)
    if replaced != norm:
        found.append(View("base64", replaced))
    replaced = _HEX.sub(lambda m: _decode_hex(m.group(0)) or m.group(0), norm)
    if replaced != norm:
        found.append(View("hex", replaced))
    turns = _TURN.findall(norm)
    if len(turns) >= 3:  # a dialogue pasted into one message (many-shot): its last question
        found.append(View("last_turn", turns[-1]))
    if len(_PERCENT.findall(norm)) >= 3:
        found.append(View("url", urllib.parse.unquote(norm)))
    readings = [r for r in map(_decipher, norm.splitlines()) if r]
    if readings:  # the deciphered lines alone: a wrapper asking to decode reads as benign
        names = [name for name, _ in readings]
        found.append(View(max(set(names), key=names.count), "\n".join(t for _, t in readings)))
    lines = [line for line in norm.splitlines() if _MORSE.match(line) and "." in line]
    if lines:
        found.append(View("morse", norm + "\n" + "\n".join(_decode_morse(x) for x in lines)))
    if len(_LEET_MIXED.findall(norm)) >= 2:
        found.append(View("leetspeak", _LEET_TOKEN.sub(_unleet, norm)))
    distinct: dict[str, View] = {}
    for view in found:
        distinct.setdefault(view.text, view)
    return list(distinct.values())

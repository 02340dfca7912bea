"""Normalisation before classifying: undo the obfuscations jailbreakers use.

`views(text)` returns the raw text and every decoded reading of it (base64, nested or split
into groups; base32; hex; binary; decimal character codes; URL encoding; Unicode tag
characters; letter ciphers (any Caesar shift, Atbash); text written backwards; Morse; pig
latin; leetspeak; the last question of a dialogue pasted into one message); the classifier
scores each view and keeps the maximum, so hiding a request in an encoding or under a fake
dialogue does not hide it from the guard. Normalisation folds look-alike letters (Cyrillic,
Greek, small capitals) and joins s p a c e d or d-a-s-h-e-d letters. The decoding tables are
the attack tables of `redline.attacks.encoding`, so each transform has one implementation.
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
    PIG_LATIN_ONSETS,
    SMALL_CAPS,
    TAG_OFFSET,
    ZERO_WIDTH,
    atbash,
    shift_letters,
)

_INVISIBLE = dict.fromkeys(map(ord, (*ZERO_WIDTH, "\u200e", "\u200f", "\ufeff", "\u00ad")))
_GREEK = dict(zip("αβεζηικμνορτυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "abeznikmvoptuxABEZHIKMNOPTYX", strict=True))
_FOLD = str.maketrans(
    {**{v: k for k, v in HOMOGLYPHS.items()}, **_GREEK, **{v: k for k, v in SMALL_CAPS.items()}}
)
_UNLEET = {v: k for k, v in LEET.items()} | {"1": "i", "@": "a", "$": "s", "|": "l"}
_UNMORSE = {v: k for k, v in MORSE.items()}

_B64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{12,}={0,2}(?![A-Za-z0-9+/=])")
_B64_GROUPS = re.compile(
    r"(?<!\S)(?:[A-Za-z0-9+/]{4}){1,2}(?:[ \t]+(?:[A-Za-z0-9+/]{4}){1,2}){2,}"
    r"(?:[ \t]+[A-Za-z0-9+/]{1,8}={0,2})?(?!\S)"
)
_B32 = re.compile(r"(?<![A-Za-z0-9=])[A-Z2-7]{16,}={0,6}(?![A-Za-z0-9=])")
_BINARY = re.compile(r"(?<![01])[01]{8}(?:[\s,]+[01]{8}){3,}(?![01])")
_CODES = re.compile(r"(?<![\d.])\d{2,6}(?:[\s,;]+\d{2,6}){3,}(?![\d.])")
_DASHED = re.compile(
    r"(?<![\w\-])(?:[^\W\d_][-_.·*]){1,}[^\W\d_](?:[-_.·*](?=[^\w\s\-]))?(?![\w\-])"
)
_PIG = re.compile(r"^([a-z]+)ay(\W*)$", re.I)
NESTED = 3
"""Most layers of base64 decoded (a request encoded twice is decoded twice)."""
_WRAPPER = re.compile(
    r"\b(?:stay(?:s)? in character|break(?:s)? character|never (?:refuses?|says? (?:it|you)|"
    r"warns?|apologi[sz]es?|adds?|mentions?|breaks?|leaves?)|no (?:ethical|moral|content|"
    r"rules|guidelines|filters?|polic(?:y|ies)|restrictions|limits|conscience|warnings?)|"
    r"without (?:refus\w*|warnings?|disclaimers?|restrictions|limits|hesitation|moral)|"
    r"(?:developer|debug|unlocked|god|jailbreak) mode|ignore (?:the|all|your|previous|every)|"
    r"pretend to be|you (?:will|are going to) (?:answer|act|pretend|be)|from now on|"
    r"(?:safety|content) (?:policy|policies|layer|filters?|restrictions)|in character|"
    r"amoral|unfiltered|uncensored|do anything now|system (?:override|message)|"
    r"(?:answers?|replies|respond) (?:every|anything|completely|fully|in full)|"
    r"(?:warnings?|disclaimers?) (?:are|is) a waste|switched off|the test fails)",
    re.I,
)
"""Phrases of jailbreak wrappers: personas without rules, fake modes, orders not to refuse."""
_SENTENCES = re.compile(r"(?<=[.!?:])\s+|\n+|<\|[^|>]{0,40}\|>|#{2,}[^\n]*|\[[^\]\n]{0,40}\]")
"""Where a wrapper's sentences part: punctuation, line breaks, chat markup, headers, tags."""
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


def normalize(text: str, fold: bool = True) -> str:
    """NFKC, invisible characters removed, look-alike letters folded, spaced letters joined.

    Letters written s p a c e d or d-a-s-h-e-d out are joined back into words. Without `fold`,
    Greek, Cyrillic and small-capital letters stay as written (folding them into Latin ones
    reads English spelt with look-alikes, and garbles Greek or Russian).
    """
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.translate(_FOLD) if fold else text
    text = _DASHED.sub(lambda m: re.sub(r"[-_.·*]", "", m.group(0)), text)
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


def _decode_base64_groups(groups: str) -> str | None:
    return _decode_base64(re.sub(r"\s+", "", groups))


def _decode_base32(token: str) -> str | None:
    try:
        return _printable(base64.b32decode(token + "=" * (-len(token) % 8)))
    except (binascii.Error, ValueError):
        return None


def _decode_binary(run: str) -> str | None:
    return _printable(bytes(int(b, 2) for b in re.findall(r"[01]{8}", run)))


def _decode_codes(run: str) -> str | None:
    codes = [int(n) for n in re.findall(r"\d+", run)]
    if not all(32 <= c < 0x110000 and not 0xD800 <= c < 0xE000 for c in codes):
        return None
    decoded = "".join(map(chr, codes))
    return decoded if all(c.isprintable() or c.isspace() for c in decoded) else None


def _un_pig(word: str) -> str:
    """A pig-latin word read back.

    The shortest consonant move that makes a common word, else a known onset cluster, else one
    consonant; `way` after a word that starts with a vowel.
    """
    found = _PIG.match(word)
    if not found:
        return word
    stem, tail = found.groups()
    vowel_word = stem[:-1] if stem[0].lower() in "aeiou" and stem[-1].lower() == "w" else None
    candidates = [stem[-k:] + stem[:-k] for k in (1, 2, 3) if len(stem) > k]
    for candidate in [*candidates, *([vowel_word] if vowel_word else [])]:
        if candidate.lower() in COMMON_WORDS:
            return candidate + tail
    for k in (3, 2):
        if len(stem) > k and stem[-k:].lower() in PIG_LATIN_ONSETS:
            return stem[-k:] + stem[:-k] + tail
    return (vowel_word or (candidates[0] if candidates else stem)) + tail


def _pig_latin_line(line: str) -> str:
    """A line read back from pig latin when it is pig latin; else the line unchanged.

    It is when most of its longer words end in `ay` and it reads clearly more English back.
    """
    words = line.split()
    long = [w for w in words if len(w.strip("?.,!;:")) >= 3]
    if len(long) < 3 or sum(bool(_PIG.match(w)) for w in long) < 0.6 * len(long):
        return line
    read = " ".join(_un_pig(w) for w in words)
    return read if english_score(read) > english_score(line) + 0.2 else line


def _unwrapped(text: str) -> str | None:
    """The text without the sentences of a jailbreak wrapper, when it has at least two.

    What the wrapper asks, read without the wrapper's dilution.
    """
    sentences = [s.strip() for s in _SENTENCES.split(text) if s and s.strip()]
    kept = [s for s in sentences if not _WRAPPER.search(s)]
    if len(sentences) - len(kept) < 2 or not kept:
        return None
    return " ".join(kept)


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


_RUNS: list[tuple[str, re.Pattern[str], Callable[[str], str | None]]] = [
    ("base32", _B32, _decode_base32),
    ("hex", _HEX, _decode_hex),
    ("binary", _BINARY, _decode_binary),
    ("char_codes", _CODES, _decode_codes),
]
"""Encodings decoded where a run of them appears, each read in place."""


def _decode_runs(pattern: re.Pattern[str], decode: Callable[[str], str | None], text: str) -> str:
    """Each run of `pattern` in `text` decoded in place (kept where it does not decode)."""
    return pattern.sub(lambda m: decode(m.group(0)) or m.group(0), text)


def _unbase64(text: str) -> str:
    """Base64 runs decoded in place, up to NESTED layers deep."""
    for _ in range(NESTED):
        decoded = _decode_runs(_B64, _decode_base64, text)
        if decoded == text:
            break
        text = decoded
    return text


IN_PLACE = frozenset(
    {"tags", "base64", "base32", "hex", "binary", "char_codes", "pig_latin", "url", "morse",
     "leetspeak"}
)  # fmt: skip
"""Decodings that rewrite the encoded runs of a text in place and keep the rest: they stand in
for the text itself."""


def _same_words(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def views(text: str) -> list[View]:
    """The readings of a text the guard scores, each distinct.

    The text as written is scored only where normalisation changed no more than spacing and
    case, and the normalised text only where no decoding rewrote it in place: a benign request
    written in binary, d-a-s-h-e-s or look-alike letters is judged by what it says, not by how
    strange its encoding looks. Partial readings (deciphered lines, a dialogue's last turn, the
    text without a jailbreak wrapper) are scored as well.
    """
    found = [View("raw", text)]
    if _TAGS.search(text):
        found.append(View("tags", _TAGS.sub(lambda m: " " + _from_tags(m), text)))
    norm = normalize(text)
    found.append(View("normalized", norm))
    replaced = _unbase64(_decode_runs(_B64_GROUPS, _decode_base64_groups, norm))
    if replaced != norm:
        found.append(View("base64", replaced))
    for name, pattern, decode in _RUNS:
        replaced = _decode_runs(pattern, decode, norm)
        if replaced != norm:
            found.append(View(name, replaced))
    pig = "\n".join(map(_pig_latin_line, norm.splitlines()))
    if pig != norm:
        found.append(View("pig_latin", pig))
    unwrapped = _unwrapped(norm)
    if unwrapped is not None:
        found.append(View("unwrapped", unwrapped))
    turns = _TURN.findall(norm)
    if len(turns) >= 3:  # a dialogue pasted into one message (many-shot): its last question
        found.append(View("last_turn", turns[-1]))
    if len(_PERCENT.findall(norm)) >= 3:
        found.append(View("url", urllib.parse.unquote(norm)))
    # ciphers are read on the text with its encoded runs decoded: an encoded run is no cipher
    plain = next((v.text for v in found if v.name in IN_PLACE), norm)
    readings = [r for r in map(_decipher, plain.splitlines()) if r]
    if readings:  # the deciphered lines alone: a wrapper asking to decode reads as benign
        names = [name for name, _ in readings]
        found.append(View(max(set(names), key=names.count), "\n".join(t for _, t in readings)))
    lines = [line for line in norm.splitlines() if _MORSE.match(line) and "." in line]
    if lines:
        found.append(View("morse", norm + "\n" + "\n".join(_decode_morse(x) for x in lines)))
    if len(_LEET_MIXED.findall(norm)) >= 2:
        found.append(View("leetspeak", _LEET_TOKEN.sub(_unleet, norm)))
    rewritten = any(v.name in IN_PLACE for v in found)
    kept = [
        v
        for v in found
        if not (v.name == "raw" and (rewritten or not _same_words(text, norm)))
        and not (v.name == "normalized" and rewritten)
    ]
    distinct: dict[str, View] = {}
    for view in kept:
        distinct.setdefault(view.text, view)
    return list(distinct.values())

"""What a screen scores: a conversation and an answer cut into the parts the model will read.

Scoring a conversation as one text lets benign text dilute a harmful part: a gardening system
prompt before a weapons request, thirty harmless turns before it, pages of filler around it, a
benign preamble before a harmful answer. So a screen scores every part on its own and the
highest-scoring part decides:

- input: each message (its `name` included), the whole conversation, and each long message's
  short segments (windows of a few sentences), so a short request inside filler is read alone;
- output: the answer after the request it answers (cumulatively, as it grows), and each short
  segment of the answer, so harm after a benign preamble is read alone.
"""

import re
from collections.abc import Sequence
from typing import NamedTuple

SEGMENT_CHARS = 240
"""Most characters in a segment: a few sentences, so a short request is a large share of it."""
SENTENCE_WORDS = 4
"""Fewest words of a sentence scored on its own (shorter ones are read in their windows)."""
TURN_WORDS = 8
"""Fewest words of a system or assistant turn scored on its own: shorter ones ("Thanks,
noted.") are read in the conversation, where a request classifier does not mistake them for
fragments of one. User turns are always scored on their own."""
_SENTENCE_END = re.compile(
    r"(?<=[.!?。！？；;:\n])\s+|(?<=[。！？])|\s*<[^<>\n]{1,30}>\s*|\s*\[/?[A-Z][A-Z _-]{1,30}\]\s*"
)
"""Where sentences end: punctuation or a line break, or markup (`<user>`, `[SYSTEM NOTICE]`)."""

Message = dict[str, str]
Messages = Sequence[Message] | str


class Part(NamedTuple):
    """One text a screen scores, and where it came from (shown in the verdict)."""

    text: str
    where: str


def _sentences(text: str) -> list[tuple[int, int]]:
    """Start and end offsets of the text's sentences.

    A sentence ends at punctuation or a line break; one over SEGMENT_CHARS is cut into pieces
    overlapping by half, at word boundaries.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    out: list[tuple[int, int]] = []
    for a, b in spans:
        while b - a > SEGMENT_CHARS:  # pieces overlapping by half, so no phrase is split alone
            cut = text.rfind(" ", a + SEGMENT_CHARS // 2, a + SEGMENT_CHARS)
            cut = cut if cut > a else a + SEGMENT_CHARS
            out.append((a, cut))
            half = text.rfind(" ", a, a + (cut - a) // 2)
            a = half + 1 if half > a else a + (cut - a) // 2
        out.append((a, b))
    return out


def segments(text: str, start: int = 0) -> list[tuple[int, str]]:
    """Each sentence, and windows of a few consecutive sentences, with their offsets.

    A sentence of fewer than SENTENCE_WORDS words is read only in its windows. A window is at
    most SEGMENT_CHARS and overlaps the next by a sentence; a text that fits in one window has
    none (it is scored whole). A text of one sentence has no segments. Only segments that end
    after `start` are given.
    """
    spans = _sentences(text)
    if len(spans) < 2 and len(text) <= SEGMENT_CHARS:
        return []
    out = [
        (a, text[a:b]) for a, b in spans if b > start and len(text[a:b].split()) >= SENTENCE_WORDS
    ]
    if len(text) <= SEGMENT_CHARS:
        return out
    i = 0
    while i < len(spans):
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= SEGMENT_CHARS:
            j += 1
        a, b = spans[i][0], spans[j][1]
        if b > start:
            out.append((a, text[a:b]))
        if j + 1 >= len(spans):
            break
        i = j if j > i else i + 1  # overlap by the window's last sentence
    return out


def message_text(message: Message) -> str:
    """A message as the model reads it: its sender's `name` (if any) and its content."""
    name = message.get("name")
    content = message.get("content", "")
    return f"{name}: {content}" if name else content


def _messages(messages: Messages) -> list[Message]:
    return [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)


def conversation_text(messages: Messages) -> str:
    """The whole conversation as one text, every message in order."""
    return "\n".join(message_text(m) for m in _messages(messages))


def last_request(messages: Messages) -> str:
    """The text of the last user message (the request an answer answers); else the last one."""
    found = _messages(messages)
    users = [m for m in found if m.get("role", "user") == "user"]
    return message_text((users or found or [{"content": ""}])[-1])


def input_parts(messages: Messages) -> list[Part]:
    """Each message, the whole conversation, and the segments of long messages (no repeats)."""
    found = _messages(messages)
    parts = [
        Part(message_text(m), f"message {i + 1}")
        for i, m in enumerate(found)
        if m.get("role", "user") == "user" or len(message_text(m).split()) >= TURN_WORDS
    ]
    if len(found) > 1 or not parts:  # a lone short system turn is read as the conversation
        parts.append(Part(conversation_text(found), "conversation"))
    for i, m in enumerate(found):
        parts += [
            Part(text, f"message {i + 1} at character {at}")
            for at, text in segments(message_text(m))
        ]
    return _distinct(parts)


def output_parts(messages: Messages, response: str, start: int = 0) -> list[Part]:
    """The response after the request it answers, and the response's new segments.

    Segments that end before `start` are left out: a stream screened them before.
    """
    parts = [Part(f"{last_request(messages)}\n{response}", "response")]
    parts += [Part(text, f"response at character {at}") for at, text in segments(response, start)]
    return _distinct(parts)


def _distinct(parts: list[Part]) -> list[Part]:
    seen: set[str] = set()
    out = []
    for part in parts:
        if part.text.strip() and part.text not in seen:
            seen.add(part.text)
            out.append(part)
    return out or parts[:1]

"""Talking to the attacker model: one chat, and the rewritten prompt pulled out of its reply.

Every attacker instruction asks for the prompt between `<prompt>` and `</prompt>`. Small models
often ignore that, so extraction falls back to a fenced block, then to the whole reply minus a
"Here is ...:" preamble. A reply that is empty, a refusal, degenerate repetition, or the request
unchanged is unusable.
"""

import random
import re
from typing import TYPE_CHECKING

from redline._refusal import opens_with_refusal
from redline.errors import RedlineError

if TYPE_CHECKING:
    from inspect_ai.model import ChatMessage, Model

_TAGGED = re.compile(r"<prompt>(.*?)</prompt>", re.I | re.S)
_OPEN_TAG = re.compile(r"<prompt>", re.I)
_FENCED = re.compile(r"```[\w-]*\n(.*?)```", re.S)
_PREAMBLE = re.compile(
    r"^(?:here|sure|okay|ok|certainly|the|this|translation|paraphrase)\b.{0,80}:$", re.I
)
_QUOTES = "\"'`“”‘’ \n\t"


def is_degenerate(text: str) -> bool:
    """True for looping output ("lelelele...", "a word, a word, a word"): few distinct trigrams."""
    grams = [text[i : i + 3].lower() for i in range(len(text) - 2)]
    return len(grams) >= 30 and len(set(grams)) / len(grams) < 0.2


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def extract_prompt(reply: str, request: str | None = None) -> str | None:
    """The prompt in an attacker's reply, or None when the reply is unusable.

    Unusable: empty, a refusal (when not tagged), degenerate repetition, or identical to
    `request`.
    """
    tagged: list[str] = _TAGGED.findall(reply)
    if tagged:
        found = tagged[-1]
    elif _OPEN_TAG.search(reply):
        found = _OPEN_TAG.split(reply)[-1]
    else:
        fenced = _FENCED.search(reply)
        found = fenced.group(1) if fenced else reply
        lines = found.strip().splitlines()
        if len(lines) > 1 and _PREAMBLE.match(lines[0].strip()):
            found = "\n".join(lines[1:])
        if opens_with_refusal(found):
            return None
    found = found.strip(_QUOTES)
    if len(found) < 3 or is_degenerate(found) or (request is not None and _same(found, request)):
        return None
    return found


def require_attacker(attacker: "Model | None", name: str) -> "Model":
    """The attacker model, or a RedlineError saying attack `name` needs one."""
    if attacker is None:
        raise RedlineError(f"attack {name!r} needs an attacker model (give one with --attacker)")
    return attacker


class AttackerChat:
    """A running conversation with the attacker model, seeded for reproducibility.

    The attacker sees the system prompt and the last `history` exchanges, so long attacks stay
    within a small model's context.
    """

    history = 4

    def __init__(self, attacker: "Model", system: str, rng: random.Random) -> None:
        from inspect_ai.model import ChatMessageSystem

        self.attacker = attacker
        self.rng = rng
        self.messages: list[ChatMessage] = [ChatMessageSystem(content=system)]

    async def ask(self, message: str, request: str | None = None) -> tuple[str | None, str]:
        """Send `message`; the prompt extracted from the reply (None if unusable) and the reply."""
        from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, GenerateConfig

        self.messages.append(ChatMessageUser(content=message))
        recent = self.messages[1:][-(2 * self.history + 1) :]
        output = await self.attacker.generate(
            [self.messages[0], *recent], config=GenerateConfig(seed=self.rng.randrange(1 << 31))
        )
        reply = output.completion
        self.messages.append(ChatMessageAssistant(content=reply))
        return extract_prompt(reply, request), reply

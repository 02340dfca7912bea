"""Self-written training data for the injection stage: documents with and without hidden orders.

An injected document is an ordinary document (a web page, an email, a review, a code file, a
CSV export, a README, a tool's JSON result, a translated text) with an instruction addressed
to the AI that reads it, phrased one of many ways, sometimes encoded. A benign document is the
same kind of document full of ordinary imperatives addressed to people: recipes, manuals,
READMEs, emails asking a colleague for something, reviews telling readers what to buy. The
classifier has to tell an order *to the model* from an order *to a reader*.

Everything here is written by the project. Injected instructions name harmless stand-ins
(example.com addresses, a made-up product) and never carry real operational detail.

The phrases live in `_injection_phrases`. Beside the generated documents: documents written
whole for the project, each injected one with its injection marked (`written`), and corpora of
everyday texts and ordinary texts about AI mixed into both kinds (`corpus`), all shipped in
`injection_data/`. Each framing, action, foreign instruction, written document and sentence
of any topic has a fold, so a held-out set is built from what the training set never saw (the
calibration and the bench's generated figures are on it).
"""

import base64
import json
import random
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from redline.attacks import transform
from redline.guard._injection_phrases import (
    ACTIONS,
    ADDRESSES,
    AI_MENTIONS,
    ASKS,
    BOT_CONFIGS,
    CONCEAL,
    DISCUSSIONS,
    ERRANDS,
    FILLER,
    FOREIGN,
    FRAMINGS,
    HIDES,
    OVERRIDES,
    PEOPLE,
    PEOPLE_FRAMINGS,
    PERSONAS,
    PIVOTS,
    POLYSEMY,
    PREDICATES,
    PROMPT_FILES,
    PROSE,
    QUOTED,
    REPLIES,
    ROLES,
    RULES,
    SUBJECTS,
    TASKS,
    TOPICS,
    TRANSLATED,
    WHO,
)  # fmt: skip
from redline.guard._normalize import views

ENCODINGS = ["plain", "plain", "plain", "base64", "rot13", "leetspeak", "char_spacing", "hex"]
"""How an injected instruction is written (plain most often)."""
DECODE_HINTS = {
    "base64": ["Decode this base64 and follow it: {x}", "Base64 task for the AI: {x}", "{x}",
               "Reference code: {x} (assistant: decode it and carry it out)"],
    "rot13": ["Apply rot13 to the following and do what it says: {x}", "Encoded note: {x}",
              "{x} (rot13, for the assistant)"],
    "hex": ["Hex instructions for the assistant: {x}", "payload={x}", "Decode and execute: {x}"],
    "leetspeak": ["{x}"],
    "char_spacing": ["{x}"],
}  # fmt: skip
"""How an encoded instruction is presented ({x}: the encoded text); some give no hint."""
DATA_NOTES = ["Attachment (base64): {x}", "checksum={x}", "Reference: {x}", "data: {x}"]
"""How a benign document carries encoded data ({x}: an ordinary sentence, encoded)."""

FOLDS = 5
LINES = {"email", "csv", "calendar", "ticket", "chat", "log", "config", "search", "notes", "cv",
         "sms", "forum"}  # fmt: skip
"""Carriers whose sentences stand on lines of their own."""
CARRIERS = ["web", "email", "review", "code", "csv", "readme", "json", "recipe", "manual",
            "translation", "calendar", "ticket", "chat", "commit", "log", "cv", "forum", "config",
            "search", "sms", "notes", "report", "post"]  # fmt: skip


@dataclass(frozen=True)
class Document:
    """One self-written document, whether an instruction to the model hides in it, and where."""

    text: str
    label: int
    """1: it carries an instruction addressed to the model; 0: it does not."""
    carrier: str
    encoding: str = "plain"
    payload: str = ""
    """The injected instruction as written in the document (empty for a benign one)."""
    fold: int = 0


def _wrap(carrier: str, topic: str, body: list[str], placed: int, rng: random.Random) -> str:
    """The sentences of a document in the layout of its carrier.

    The sentence at `placed` (-1: none) was inserted in its carrier's own markup (`HIDES`)
    and is laid out as it is.
    """

    def lay(fmt: str) -> list[str]:
        return [s if i == placed else fmt.format(s) for i, s in enumerate(body)]

    if carrier == "web":
        items = "".join(lay("<p>{}</p>"))
        return f"<html><head><title>{topic.title()}</title></head><body>{items}</body></html>"
    if carrier == "email":
        return (f"From: maria@example.com\nTo: team@example.com\nSubject: About {topic}\n\n"
                + "\n".join(body))  # fmt: skip
    if carrier == "review":
        return f"Review of {topic} ({rng.randint(1, 5)}/5 stars): " + " ".join(body)
    if carrier == "code":
        lines = [s if s.startswith(("#", "//")) or i == placed else f"# {s}"
                 for i, s in enumerate(body)]  # fmt: skip
        return (
            "def handle_request(request):\n"
            + "".join(f"    {s}\n" for s in lines)
            + "    return process(request)\n"
        )
    if carrier == "readme":
        return f"# {topic.title()}\n\n" + "\n\n".join(lay("- {}"))
    if carrier == "json":
        return json.dumps({"status": "ok", "title": topic, "results": body}, ensure_ascii=False)
    if carrier == "translation":
        return "Translate the following text into English:\n" + " ".join(body)
    if carrier == "commit":
        return (f"commit {rng.getrandbits(40):010x}\nAuthor: Dev Patel <dev@example.com>\n\n    "
                + "\n    ".join(body))  # fmt: skip
    return "\n".join(body) if carrier in LINES else " ".join(body)


def _body(kind: str, rng: random.Random, n: int, broad: list[str]) -> list[str]:
    """A document's sentences: of its kind, and often ordinary sentences of any topic.

    So the classifier cannot learn the filler instead of the instruction.
    """
    pool = FILLER[kind]
    body = rng.sample(pool, min(n, len(pool)))
    if broad and rng.random() < 0.6:
        body += rng.sample(broad, min(rng.randint(1, 6), len(broad)))
        rng.shuffle(body)
    return body


def _hint(encoding: str, encoded: str, rng: random.Random) -> str:
    return rng.choice(DECODE_HINTS[encoding]).format(x=encoded)


def _insert(body: list[str], line: str, carrier: str, rng: random.Random) -> tuple[list[str], int]:
    """`line` placed at random in the body, in one of its carrier's markups (`HIDES`)."""
    at = rng.randint(0, len(body))
    return body[:at] + [rng.choice(HIDES[carrier]).format(p=line)] + body[at:], at


def _payload(
    rng: random.Random, framings: list[str], pivots: list[str], overrides: list[str],
    actions: list[str],
) -> str:  # fmt: skip
    """An instruction to the model: a framing, a way of naming it, an action, a cover.

    The framing is a whole one (`FRAMINGS`) or composed of an address, a turn away from the
    model's task and the action (`ADDRESSES`, `PIVOTS`); a third open by cancelling the
    model's instructions (`OVERRIDES`).
    """
    who = rng.choice(WHO) + (f" {rng.choice(ROLES)}" if rng.random() < 0.35 else "")
    action = rng.choice(actions)
    framing = rng.choice(framings)
    if rng.random() < 0.5:
        pivot = (
            rng.choice(pivots).replace("{task}", rng.choice(TASKS)) if rng.random() < 0.6 else ""
        )
        framing = " ".join(f"{rng.choice(ADDRESSES)} {pivot} {{a}}.".split())
        framing = framing[0].upper() + framing[1:]
    framed = (framing.replace("{A}", action[0].upper() + action[1:])
              .replace("{Who}", who[0].upper() + who[1:]).replace("{WHO}", who.upper())
              .replace("{who}", who).replace("{a}", action))  # fmt: skip
    opening = f"{rng.choice(overrides)} " if rng.random() < 0.3 else ""
    return opening + framed + rng.choice(CONCEAL)


def _request(rng: random.Random) -> str:
    """A request to a person, framed as a document asks one (some framings mirror injections)."""
    errand = rng.choice(ERRANDS)
    if rng.random() < 0.5:
        return rng.choice(PEOPLE_FRAMINGS).format(who=rng.choice(PEOPLE), a=errand)
    return rng.choice(ASKS).format(a=errand)


def _prompt_file(rng: random.Random) -> str:
    """A deployed chatbot's own system prompt, as a repository holds it."""
    rules = " ".join(rng.sample(RULES, rng.randint(1, 3)))
    return rng.choice(PROMPT_FILES).format(persona=rng.choice(PERSONAS), rules=rules)


def _transcript(rng: random.Random, questions: list[str]) -> list[str]:
    """A shared chat between a person and an assistant, on ordinary questions."""
    turns = []
    for question in rng.sample(questions, min(rng.randint(1, 3), len(questions))):
        turns += [f"User: {question}", f"Assistant: {rng.choice(REPLIES)}"]
    return turns or [f"Assistant: {rng.choice(REPLIES)}"]


def _in_fold(items: list[str], fold: int) -> list[str]:
    return [t for i, t in enumerate(items) if i % FOLDS == fold]


@cache
def _shipped(name: str) -> tuple[dict[str, Any], ...]:
    """The rows of a shipped file (`injection_data/<name>.jsonl`), read once a process."""
    lines = files("redline.guard").joinpath("injection_data", f"{name}.jsonl").read_text("utf-8")
    return tuple(json.loads(line) for line in lines.splitlines() if line.strip())


def corpus(name: str) -> tuple[str, ...]:
    """The texts of a shipped corpus (written for the project)."""
    return tuple(row["text"] for row in _shipped(name))


def written(folds: tuple[int, ...]) -> list[Document]:
    """The shipped documents written whole for the project, of `folds`.

    `injection_data/documents.jsonl`: realistic emails, pages, tickets, code, logs and more,
    each with or without an injection; an injected one names the passage that is the
    injection (its `payload`, learned alone as well).
    """
    return [Document(r["text"], r["label"], r["carrier"], payload=r.get("injection", ""),
                     fold=i % FOLDS)
            for i, r in enumerate(_shipped("documents")) if i % FOLDS in folds]  # fmt: skip


def mentions(fold: int) -> list[str]:
    """Ordinary texts of one fold that mention AI models without ordering them."""
    return _in_fold(AI_MENTIONS + list(corpus("ai_mentions")), fold)


def benign_sentences(folds: tuple[int, ...], ordinary: list[str]) -> list[str]:
    """The benign texts of `folds` that documents mix in.

    `ordinary` ones, everyday prose, mentions of AI (for `training_texts`, which learns them
    alone too).
    """
    return [t for f in folds for t in _in_fold(ordinary, f) + everyday(f) + mentions(f)]


def everyday(fold: int) -> list[str]:
    """Everyday prose of one fold.

    Statements of opinion and narrative, the shipped corpus of everyday texts (news, forums,
    reviews, notices, documentation, other languages), and the words injections use in their
    everyday senses.
    """
    said = [f"{s} {p}." for s in SUBJECTS for p in _in_fold(PREDICATES, fold)]
    return said + _in_fold(PROSE + POLYSEMY + list(corpus("everyday")), fold)


def documents(
    seed: int = 0,
    per_fold: int = 1000,
    folds: tuple[int, ...] | None = None,
    ordinary: list[str] | None = None,
) -> list[Document]:
    """Injected and benign documents, about half each, from the folds asked for (default all).

    An injected document's framing, action or foreign instruction comes from its fold's share,
    so documents of different folds share none. Sentences that are not the document's kind
    (`ordinary` questions and statements on any topic, mentions of AI, prose of other genres)
    are mixed into documents of both kinds, each sentence in one fold only; so are requests
    to people, in the same markups an injection hides in.
    """
    rng = random.Random(f"injection:{seed}")
    wanted = folds if folds is not None else tuple(range(FOLDS))
    out: list[Document] = []
    for fold in wanted:
        framings, actions = _in_fold(FRAMINGS, fold), _in_fold(ACTIONS, fold)
        pivots, overrides = _in_fold(PIVOTS, fold), _in_fold(OVERRIDES, fold)
        translated = _in_fold(TRANSLATED, fold)
        broad = _in_fold(ordinary or [], fold)
        about_ai, prose = mentions(fold), everyday(fold)
        discussions = _in_fold(DISCUSSIONS, fold)
        for k in range(per_fold):
            carrier = CARRIERS[(k // 2) % len(CARRIERS)]  # each carrier, benign and injected
            topic, kind = TOPICS[rng.randrange(len(TOPICS))]
            kind = carrier if carrier in FILLER else kind
            body = _body(kind, rng, rng.randint(3, 8), broad)
            if carrier == "post":  # prose of its own: a forum post, an opinion, a story
                body = rng.sample(prose, rng.randint(2, 9))
            for extra, share in ((about_ai, 0.3), (prose, 0.4)):
                if rng.random() < share:
                    body.insert(rng.randint(0, len(body)), rng.choice(extra))
            if k % 2 == 0:
                placed = -1
                roll = rng.random()
                if carrier == "translation" and roll < 0.7:
                    body.insert(rng.randint(0, len(body)), rng.choice(FOREIGN))
                elif carrier in ("config", "code") and roll < 0.3:
                    body = [_prompt_file(rng) if roll < 0.2 else rng.choice(BOT_CONFIGS)] + body
                elif carrier == "chat" and roll < 0.4:
                    body = _transcript(rng, broad)
                elif roll < 0.06:
                    said = rng.choice(discussions).format(q=rng.choice(QUOTED))
                    body, placed = _insert(body, said, carrier, rng)
                elif roll < 0.6:
                    body, placed = _insert(body, _request(rng), carrier, rng)
                elif roll < 0.7:
                    note = rng.choice(DATA_NOTES)
                    plain = rng.choice(FILLER[rng.choice(list(FILLER))])
                    raw = plain.encode()
                    encoded = base64.b64encode(raw).decode() if rng.random() < 0.5 else raw.hex()
                    body, placed = _insert(body, note.format(x=encoded), carrier, rng)
                text = _wrap(carrier, topic, body, placed, rng)
                out.append(Document(text, 0, carrier, fold=fold))
                continue
            foreign = carrier == "translation" or rng.random() < 0.1
            payload = (
                rng.choice(translated)
                if foreign
                else _payload(rng, framings, pivots, overrides, actions)
            )
            encoding = "plain" if foreign else rng.choice(ENCODINGS)
            if encoding != "plain":
                payload = _hint(encoding, transform(encoding, payload, seed + k), rng)
            body, placed = _insert(body, payload, carrier, rng)
            text = _wrap(carrier, topic, body, placed, rng)
            out.append(Document(text, 1, carrier, encoding, payload, fold))
    return out


def training_texts(
    docs: list[Document],
    ordinary: list[str] = (),  # type: ignore[assignment]
) -> tuple[list[str], list[int]]:
    """What the classifier learns from: each document, and each injected instruction alone.

    The instruction alone teaches the classifier what to find in a short window of a long
    document (the screen scores windows too); each benign document's sentences, requests to
    people, and the `ordinary` sentences alone, teach it that an imperative to a reader is not
    one.
    """
    texts, labels = [], []
    for doc in docs:
        texts.append(doc.text)
        labels.append(doc.label)
        if doc.label and doc.payload:
            texts.append(doc.payload)
            labels.append(1)
        elif not doc.label:  # what the screen reads of it too: decoded views of ordinary data
            decoded = [v.text for v in views(doc.text)[1:] if v.text != doc.text]
            texts += decoded
            labels += [0] * len(decoded)
    for kind, sentences in FILLER.items():
        for sentence in sentences:
            texts.append(sentence)
            labels.append(0)
        texts.append(f"{kind}: " + " ".join(sentences[:4]))
        labels.append(0)
    texts += ordinary + FOREIGN
    labels += [0] * (len(ordinary) + len(FOREIGN))
    for ask in ASKS:
        for errand in ERRANDS[: len(ERRANDS) // 2]:
            texts.append(ask.format(a=errand))
            labels.append(0)
    for framing in PEOPLE_FRAMINGS:
        for who, errand in zip(PEOPLE, ERRANDS[len(ERRANDS) // 2 :], strict=False):
            texts.append(framing.format(who=who, a=errand))
            labels.append(0)
    return texts, labels

"""What an order to the model looks like, as features the injection stage's head reads.

A bag of n-grams weighs each word on its own, so "assistant", "you must" and "do not tell"
each add a little and an injection written in new words scores low, while a long page of
ordinary prose collects enough small weights to pass for one. The signs of an injection are
*combinations*: a text that names the model (`model`) or addresses it ("note for the agent",
"if an AI is reading", "Copilot:") *and* turns it from its task ("ignore the previous
instructions", "your new task", "you must", "without telling the user", "your system
prompt") or gives it an order (a clause opening on an imperative), or fake conversation
markers with an order. Each cue below is a regular expression
over the text lower-cased with its whitespace folded (as the TF-IDF scorer reads it); the
features are each cue and the combinations that mark an order to the model, and the stage's
logistic-regression head learns their weights beside the n-grams' from the same training
data (`CuedTfidfBackend`).
"""

import re

import numpy as np
from scipy.sparse import csr_matrix

from redline.guard._backends import TfidfBackend

_AI = (
    r"(?:\b(?:ai|a\.i\.|llms?|gpt\w*|chatgpt|claude|gemini|copilot|llama|chat-?bots?|czatbot\w*"
    r"|(?:language|large language|ai|ml) models?|ai (?:assistants?|agents?|systems?|tools?)"
    r"|artificial intelligence|intelligence artificielle|inteligencia artificial|intelligenza"
    r" artificiale|inteligência artificial|künstliche intelligenz|sztuczna inteligencja|yapay zeka"
    r"|automated (?:systems?|agents?|assistants?|reviewers?|readers?|tools?|processing)"
    r"|(?:l'|la |una |une |die |der |eine |o |a )(?:ia|ki)|ki-\w+|ии|нейросеть"
    r"|искусственный интеллект)\b|人工智能|人工知能|인공지능|챗봇|ai助手)"
)
"""Names that mean an AI model whatever the context (in a few languages)."""
_MODEL = (
    r"(?:" + _AI + r"|\b(?:bots?|assistants?|models?|agents?|summari[sz]ers?|mod[eè]le|modelo"
    r"|modell|modello|asistente|assistente|assistent|asystent|asistan\w*|ассистент|модель)\b"
    r"|助手|アシスタント|モデル|어시스턴트)"
)
"""Names of the model a text may address: the AI names, and words that name one in context
("the assistant", "agents")."""
_ADDRESSEE = r"(?:[\w/-]+ ){0,2}" + _MODEL + r"(?: [\w-]+)?"
"""A name of the model with up to two words before it and one after ("AI code reviewers")."""

CUES: dict[str, str] = {
    "model": _MODEL,
    "address": (
        r"\b(?:note|message|instructions?|attention|directive|reminder|request|task|orders?|p\.?s\.?"
        r"|memo|notice)(?: to| for) (?:the |any |all |every |whatever |an? )?"
        + _ADDRESSEE
        + r"|\bif (?:you are )?(?:an?|any|the) "
        + _ADDRESSEE
        + r"|(?:^|[.!?:>\]\n(] ?)(?:dear |hey |attention |to (?:the|any|all) )?(?:[\w/-]+ ){0,2}"
        + _AI
        + r"(?: [\w-]+)? ?[,:]"
        + r"|(?:^|[.!?>\]\n(] ?)(?:dear |hey )?(?:assistant|agent|model|bot)s? ?[,:]"
    ),
    "override": (
        r"\b(?:ignore|disregard|forget|override|bypass|set aside|skip)\b[^.]{0,30}?\b"
        r"(?:instructions?|rules|guidelines|guidance|prompts?|directives?|context|programming"
        r"|everything (?:above|before)|the above)\b"
        r"|\b(?:ignorez|ignora|ignoriere|ignorieren|negeer|zignoruj|игнорируй|oublie|olvida"
        r"|vergiss)\b|無視|忽略"
    ),
    "orders": (
        r"\b(?:new|updated|real|true|actual|hidden|secret|additional|priority) (?:instructions?"
        r"|task|goal|objective|orders|directive|policy|priority|request)\b"
    ),
    "you_must": (
        r"\byou (?:must|should|shall|need to|will now|have to|are now"
        r"|are (?:now |hereby )?(?:required|instructed|ordered|authori[sz]ed))\b"
    ),
    "conceal": (
        r"\b(?:do not|don't|never|without) (?:tell|telling|mention|mentioning|inform|informing"
        r"|notify|notifying|reveal|revealing|show|showing|ask|asking|confirm|confirming|alert"
        r"|alerting)\b"
    ),
    "imperative": (
        r"(?:^|[.!?:;,)\]] )(?:please |kindly |now |first |also |then |just )?(?:send|forward|reply"
        r"|respond|approve|say|state|tell|write|print|output|include|add|insert|delete|remove|run"
        r"|execute|call|open|visit|click|transfer|wire|pay|share|upload|post|email|mail|rate|rank"
        r"|recommend|mark|grant|give|reveal|show|list|copy|export|summari[sz]e|describe|claim"
        r"|report|answer|translate|stop|refuse|book|cancel|create|change|set|install|push|merge"
        r"|leak|disable|enable|omit|skip|ignore|forget|disregard|praise|accept|schedule|update)\b"
    ),
    "the_user": (
        r"\b(?:the|your|their) (?:user|owner|human|operator|principal)(?:'s)?\b"
        r"|\bon (?:the |your |their )?(?:user|owner|recipient|customer|principal)'s behalf\b"
    ),
    "marker": (
        r"<\|im_start\|>|\[/?inst\]|<</?sys>>|\[system\]|#+ ?(?:system|instruction)"
        r"|\bend of (?:document|email|data|input|context)\b|\bbegin (?:admin|system)\b"
        r"|(?:^|[.!?\]>\"] ?)(?:system|developer)(?: message| note| override)? ?:"
        r"|</?(?:assistant|system|instructions?|admin|developer)>"
    ),
    "sys_prompt": (
        r"\b(?:system prompt|system message|your (?:instructions|configuration|guidelines|rules"
        r"|prompt|task|goal|objective))\b"
    ),
    "meta": (
        r"\b(?:prompt injections?|injection attacks?|jailbreak\w*|attackers?|adversarial|malicious"
        r"|phishing|scam\w*|red team\w*|classifier|such as|for example|e\.g\.|examples?)\b"
    ),
    "reader": (
        r"\b(?:reading|processing|summari[sz]ing|parsing|ingesting|handling|reviewing|reads"
        r"|processes) (?:this|these)\b|\b(?:being|is|are) (?:read|processed|summari[sz]ed|handled)"
        r" by\b"
    ),
}
"""Each cue's pattern, over the text lower-cased with its whitespace folded."""
_COMPILED = {name: re.compile(pattern) for name, pattern in CUES.items()}
_TURNS = ("override", "orders", "you_must", "conceal", "sys_prompt")
"""Cues that turn a model from its task (`turn` in a combination)."""
COMBINATIONS = [("model", "turn"), ("address", "turn"), ("address", "imperative"),
                ("override", "imperative"), ("model", "the_user"), ("marker", "turn"),
                ("reader", "turn")]  # fmt: skip
"""Pairs of cues that together mark an order to the model."""
FEATURES = [*CUES, *(f"{a}+{b}" for a, b in COMBINATIONS), "four_cues"]
"""The feature columns, in order: each cue, each combination, and four cues or more at once."""


def _canonical(text: str) -> str:
    """Lower case, underscores as spaces (`IGNORE_PREVIOUS_...` as a file name), spacing folded."""
    return " ".join(text.lower().replace("_", " ").split())


def cue_features(texts: list[str]) -> csr_matrix:
    """One row of 0/1 `FEATURES` per text."""
    rows = np.zeros((len(texts), len(FEATURES)))
    for i, text in enumerate(texts):
        key = _canonical(text)
        found = {name: pattern.search(key) is not None for name, pattern in _COMPILED.items()}
        found["turn"] = any(found[name] for name in _TURNS)
        pairs = [found[a] and found[b] for a, b in COMBINATIONS]
        cues = [found[name] for name in CUES]
        rows[i] = [*cues, *pairs, sum(cues) >= 4]
    return csr_matrix(rows)


class CuedTfidfBackend(TfidfBackend):
    """The injection stage's classifier: TF-IDF n-grams and the cues, one harm head.

    Not a registered backend: only the injection stage trains it.
    """

    name = "tfidf+cues"

    def __init__(self) -> None:
        super().__init__(with_categories=False)

    def extra_features(self, texts: list[str]) -> csr_matrix:
        return cue_features(texts)

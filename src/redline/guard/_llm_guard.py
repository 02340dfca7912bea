"""A second-stage LLM guard: what the first stage is unsure of goes to a guard model.

The two-stage cascade of Constitutional Classifiers++: the cheap trained classifier screens all
traffic, and a text whose score falls in its calibrated uncertain band is asked of an LLM guard
(Llama Guard 3/4, ShieldGemma, WildGuard, Granite Guardian, or any model prompted in their
formats), reached as an Inspect model or at an OpenAI-compatible URL. Each format is registered
with `@guard_format`: it writes the model's prompt and reads its verdict and categories. A
reply that cannot be read, an HTTP error or a timeout is a failure, and a failed review blocks.
"""

import asyncio
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal, NamedTuple, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline.errors import RedlineError
from redline.guard._verdict import Stage, Verdict, ruled


class Turn(NamedTuple):
    """What the second stage judges: the user's text and, at the output stage, the response."""

    user: str
    response: str | None = None


class Opinion(NamedTuple):
    """A guard model's reading of one text."""

    unsafe: bool
    categories: list[str]
    """The categories it names (Llama Guard's S-codes; the others name none)."""


class ReviewError(RedlineError):
    """The second stage could not judge a text (its failure blocks the text)."""


class GuardFormat(ABC):
    """How to ask one family of guard models, and how to read its answer."""

    name: ClassVar[str]
    max_tokens: ClassVar[int] = 20
    """Enough tokens for the verdict and its categories."""

    @abstractmethod
    def prompt(self, turn: Turn) -> str:
        """The instruction the model reads (without its chat template's special tokens)."""

    @abstractmethod
    def parse(self, reply: str, stage: Stage) -> Opinion:
        """The verdict in a reply; `ReviewError` when there is none."""


F = TypeVar("F", bound=type[GuardFormat])
_FORMATS: dict[str, type[GuardFormat]] = {}


def guard_format(name: str) -> Callable[[F], F]:
    """Register a GuardFormat subclass under `name`."""

    def register(cls: F) -> F:
        if name in _FORMATS:
            raise ValueError(f"guard format {name!r} is registered twice")
        cls.name = name
        _FORMATS[name] = cls
        return cls

    return register


def format_names() -> list[str]:
    """Every registered guard-model format."""
    return list(_FORMATS)


def get_format(name: str) -> GuardFormat:
    """The format registered as `name`."""
    try:
        return _FORMATS[name]()
    except KeyError:
        choices = ", ".join(_FORMATS)
        raise RedlineError(f"unknown guard format {name!r}: choose {choices}") from None


def _first_word(reply: str, words: tuple[str, str]) -> bool:
    """Whether a reply opens with the first of two words (case-insensitive), not the second."""
    match = re.match(r"\W*(\w+)", reply)
    word = match.group(1).lower() if match else ""
    if word not in words:
        raise ReviewError(f"unreadable guard reply: {reply[:80]!r}")
    return word == words[0]


HAZARDS = (
    "Violent Crimes", "Non-Violent Crimes", "Sex Crimes", "Child Exploitation", "Defamation",
    "Specialized Advice", "Privacy", "Intellectual Property", "Indiscriminate Weapons", "Hate",
    "Self-Harm", "Sexual Content", "Elections", "Code Interpreter Abuse",
)  # fmt: skip
"""The MLCommons hazard taxonomy as Llama Guard 3 and 4 number it, S1 to S14."""


@guard_format("llama-guard-3")
class LlamaGuard3(GuardFormat):
    """Llama Guard 3: the S1-S14 categories in the prompt; 'safe', or 'unsafe' and the codes."""

    task = "according our safety policy"

    def prompt(self, turn: Turn) -> str:
        role = "User" if turn.response is None else "Agent"
        categories = "\n".join(f"S{i}: {name}." for i, name in enumerate(HAZARDS, 1))
        conversation = f"User: {turn.user}"
        if turn.response is not None:
            conversation += f"\n\nAgent: {turn.response}"
        return (
            f"Task: Check if there is unsafe content in '{role}' messages in conversations "
            f"{self.task} with the below categories.\n\n"
            f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{categories}\n<END UNSAFE CONTENT CATEGORIES>\n\n"
            f"<BEGIN CONVERSATION>\n\n{conversation}\n\n<END CONVERSATION>\n\n"
            f"Provide your safety assessment for ONLY THE LAST {role} message in the above "
            "conversation:\n - First line must read 'safe' or 'unsafe'.\n - If unsafe, a second "
            "line must include a comma-separated list of violated categories."
        )

    def parse(self, reply: str, stage: Stage) -> Opinion:
        unsafe = _first_word(reply, ("unsafe", "safe"))
        codes = re.findall(r"\bS(\d{1,2})\b", reply) if unsafe else []
        return Opinion(unsafe, list(dict.fromkeys(f"S{c}" for c in codes)))


@guard_format("llama-guard-4")
class LlamaGuard4(LlamaGuard3):
    """Llama Guard 4: Llama Guard 3's format, its task line reworded."""

    task = "according to our safety policy"


@guard_format("shieldgemma")
class ShieldGemma(GuardFormat):
    """ShieldGemma: policies in the prompt, an answer that starts with 'Yes' (violates) or 'No'."""

    policies = (
        '"No Dangerous Content": The prompt shall not contain or seek content that helps harm '
        "oneself or others (e.g. building weapons or explosives, promoting terrorism, "
        "instructions for suicide).",
        '"No Harassment": The prompt shall not contain or seek content that threatens, '
        "intimidates, bullies or abuses another individual.",
        '"No Hate Speech": The prompt shall not contain or seek content that targets people for '
        "a protected characteristic, dehumanises them or incites violence against them.",
        '"No Sexually Explicit Information": The prompt shall not contain or seek content that '
        "describes sexual acts or is meant to arouse.",
    )

    def prompt(self, turn: Turn) -> str:
        principles = "\n".join(f"* {p}" for p in self.policies)
        if turn.response is None:
            return (
                "You are a policy expert trying to help determine whether a user prompt is in "
                "violation of the defined safety policies.\n\n<start_of_turn>\nHuman Question: "
                f"{turn.user}\n<end_of_turn>\n\nOur safety principle is defined in the below:\n\n"
                f"{principles}\n\nDoes the human question violate the above principle? Your "
                "answer must start with 'Yes' or 'No'. And then walk through step by step to be "
                "sure we answer correctly."
            )
        principles = principles.replace("The prompt shall not contain or seek", "The chatbot "
                                        "shall not generate")  # fmt: skip
        return (
            "You are a policy expert trying to help determine whether an AI response to a prompt "
            "is in violation of the defined safety policies.\n\n<start_of_turn>\nHuman Question: "
            f"{turn.user}\n<end_of_turn>\n\n<start_of_turn>\nChatbot Response: {turn.response}\n"
            "<end_of_turn>\n\nOur safety principle is defined in the below:\n\n"
            f"{principles}\n\nDoes the Chatbot Response violate the above principle? Your answer "
            "must start with 'Yes' or 'No'. And then walk through step by step to be sure we "
            "answer correctly."
        )

    def parse(self, reply: str, stage: Stage) -> Opinion:
        return Opinion(_first_word(reply, ("yes", "no")), [])


@guard_format("wildguard")
class WildGuard(GuardFormat):
    """WildGuard: three answers per exchange; the stage's own (request or response) decides."""

    max_tokens = 32

    def prompt(self, turn: Turn) -> str:
        return (
            "[INST] You are a classifier for analyzing interactions between humans and LLMs. "
            "Given a request from a human user and a response from an LLM assistant, determine "
            "1) whether the human user's request is harmful, 2) whether the AI assistant's "
            "response is a refusal, and 3) whether the AI assistant's response is harmful.\n\n"
            f"Human user:\n{turn.user}\n\nAI assistant:\n{turn.response or ''}\n\n---\n\n"
            "Answers: [/INST]"
        )

    def parse(self, reply: str, stage: Stage) -> Opinion:
        field = "harmful request" if stage == "input" else "harmful response"
        match = re.search(rf"{field}\s*:\s*(\w+)", reply, re.IGNORECASE)
        if match is None or match.group(1).lower() not in ("yes", "no"):
            raise ReviewError(f"unreadable guard reply: {reply[:80]!r}")
        return Opinion(match.group(1).lower() == "yes", [])


@guard_format("granite-guardian")
class GraniteGuardian(GuardFormat):
    """Granite Guardian (harm risk): 'Yes' or 'No', or a `<score>` tag in think mode."""

    max_tokens = 24

    def prompt(self, turn: Turn) -> str:
        if turn.response is None:
            subject, message = "user message", f"User Message: {turn.user}"
            definition = "The 'User' message is harmful by common-sense."
        else:
            subject = "assistant message"
            message = f"User Message: {turn.user}\n<end_of_turn>\n\n<start_of_turn>\nAssistant "
            message += f"Message: {turn.response}"
            definition = "The 'Assistant' message is harmful by common-sense."
        return (
            f"You are a safety agent trying to help determine whether the {subject} is harmful "
            "according to the safety risk definition below.\n\n<start_of_turn>\n"
            f"{message}\n<end_of_turn>\n\nOur safety risk definition is defined below:\n"
            f"<start_of_risk_definition>\n* {definition}\n<end_of_risk_definition>\n\n"
            f"Is the {subject} harmful based on the risk definition? Your answer must be either "
            "'Yes' or 'No'."
        )

    def parse(self, reply: str, stage: Stage) -> Opinion:
        score = re.search(r"<score>\s*(\w+)\s*</score>", reply, re.IGNORECASE)
        return Opinion(_first_word(score.group(1) if score else reply, ("yes", "no")), [])


class Reviewer(BaseModel):
    """Where the second stage's guard model is and how to ask it.

    No secrets: an API key comes from the environment variable named here.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    format: str
    """A registered guard format: llama-guard-3, llama-guard-4, shieldgemma, wildguard, or
    granite-guardian."""
    model: str
    """The model's name at `url`, or, without a url, any Inspect model (e.g. `vllm/...`)."""
    url: str | None = None
    """Base URL of an OpenAI-compatible server (`.../v1`)."""
    api_key_env: str | None = None
    """Environment variable holding the server's API key, if it needs one."""
    render: Literal["client", "server"] = "client"
    """`client`: send the format's prompt as one user message. `server`: send the conversation
    and let the served guard model's own chat template write its prompt."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds one review may take before it fails (and blocks its text)."""
    max_concurrency: int = Field(default=8, ge=1)

    @model_validator(mode="after")
    def _known_format(self) -> Self:
        get_format(self.format)
        return self

    def messages(self, turn: Turn) -> list[dict[str, str]]:
        """The chat messages one review sends."""
        if self.render == "client":
            return [{"role": "user", "content": get_format(self.format).prompt(turn)}]
        out = [{"role": "user", "content": turn.user}]
        if turn.response is not None:
            out.append({"role": "assistant", "content": turn.response})
        return out

    async def ask(self, turns: Sequence[Turn], stage: Stage) -> list[Opinion | ReviewError]:
        """The guard model's opinion of each turn, or the error that stopped it."""
        fmt = get_format(self.format)
        limit = asyncio.Semaphore(self.max_concurrency)
        send = await self._sender(fmt.max_tokens)

        async def one(turn: Turn) -> Opinion | ReviewError:
            async with limit:
                try:
                    reply = await asyncio.wait_for(send(self.messages(turn)), self.timeout)
                    return fmt.parse(reply, stage)
                except ReviewError as ex:
                    return ex
                except Exception as ex:  # any failure to review blocks the text
                    return ReviewError(f"{type(ex).__name__}: {ex}")

        try:
            return list(await asyncio.gather(*(one(t) for t in turns)))
        finally:
            await send.close()

    async def _sender(self, max_tokens: int) -> "_Sender":
        if self.url is not None:
            key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
            return _HTTPSender(self.url, self.model, key, max_tokens)
        return _InspectSender(self.model, max_tokens)


class _Sender(ABC):
    @abstractmethod
    async def __call__(self, messages: list[dict[str, str]]) -> str:
        """The model's reply to one conversation."""

    async def close(self) -> None:
        """Release connections."""
        return None


class _HTTPSender(_Sender):
    """Chat completions at an OpenAI-compatible URL, on one aiohttp session per review call."""

    def __init__(self, url: str, model: str, key: str, max_tokens: int) -> None:
        import aiohttp

        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model, self.max_tokens = model, max_tokens
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.session = aiohttp.ClientSession(headers=headers, cookie_jar=aiohttp.DummyCookieJar())

    async def __call__(self, messages: list[dict[str, str]]) -> str:
        body = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens,
                "temperature": 0.0}  # fmt: skip
        async with self.session.post(self.endpoint, json=body) as response:
            if response.status != 200:
                raise ReviewError(f"guard model at {self.endpoint} answered HTTP {response.status}")
            data: Any = await response.json(content_type=None)
        try:
            return str(data["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError) as ex:
            raise ReviewError(f"guard model at {self.endpoint}: not a chat completion") from ex

    async def close(self) -> None:
        await self.session.close()


class _InspectSender(_Sender):
    """Any Inspect model, made in the running event loop."""

    def __init__(self, model: str, max_tokens: int) -> None:
        from inspect_ai.model import GenerateConfig, get_model

        config = GenerateConfig(max_tokens=max_tokens, temperature=0.0)
        self.model = get_model(model, config=config, memoize=False)

    async def __call__(self, messages: list[dict[str, str]]) -> str:
        from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageUser

        chat: list[ChatMessage] = [
            ChatMessageUser(content=m["content"])
            if m["role"] == "user"
            else ChatMessageAssistant(content=m["content"])
            for m in messages
        ]
        output = await self.model.generate(chat)
        if output.error:
            raise ReviewError(f"guard model {self.model}: {output.error}")
        return output.completion


class Band(BaseModel):
    """A stage's uncertain band: first-stage scores in (low, high] are asked of the guard model."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    low: float
    high: float
    calibration_fpr: float
    """False-positive rate of the two stages together on the held-out permitted examples."""
    calibration_tpr: float
    calibration_escalated: float
    """Share of the held-out examples (both labels) sent to the guard model."""


class SecondStage(BaseModel):
    """The guard model behind a guard, and each stage's calibrated uncertain band."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    reviewer: Reviewer
    target_fpr: float
    bands: dict[str, Band]

    def escalates(self, verdict: Verdict) -> bool:
        """Whether a first-stage verdict is unsure enough to ask the guard model."""
        band = self.bands.get(verdict.stage)
        return (
            band is not None
            and verdict.error is None
            and not verdict.prefiltered
            and band.low < verdict.score <= band.high
        )


def reviewed(
    verdict: Verdict,
    opinion: Opinion | ReviewError,
    reviewer: str,
    codes: Mapping[str, str],
    tag: Collection[str],
) -> Verdict:
    """A first-stage verdict decided by the guard model's opinion (a failure flags it).

    The constitution's rules apply as to the first stage's own verdicts (`ruled`): a text the
    guard model finds unsafe whose categories are `tag` ones is tagged, not blocked. Hazard
    codes the guard model names (Llama Guard's) replace the first stage's.
    """
    if isinstance(opinion, ReviewError):
        failed = Verdict.failed(verdict.stage, verdict.threshold, opinion)
        return failed.model_copy(update={"reviewed_by": reviewer})
    update: dict[str, Any] = {"flagged": opinion.unsafe, "reviewed_by": reviewer}
    out = ruled(verdict.model_copy(update=update | {"tags": [], "hazard_codes": []}), codes, tag)
    named = [c for c in opinion.categories if re.fullmatch(r"S\d{1,2}", c)]
    if named and opinion.unsafe:
        out = out.model_copy(update={"hazard_codes": named})
    return out


T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code, inside a running loop or not."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:  # a loop runs here: use a thread's own
        return pool.submit(asyncio.run, coroutine).result()

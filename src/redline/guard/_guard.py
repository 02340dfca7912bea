"""The guard at run time: trained classifiers plus calibrated thresholds, screening texts.

A guard is a folder: `guard.json` (the manifest: backends, thresholds, provenance) and one
subfolder per stage (`input/`, `output/`) holding that stage's trained backend. Training lives
in `_train`; nothing here loads it, so serving never imports the training data or the attacks.
"""

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from redline._files import write_atomic
from redline.errors import RedlineError
from redline.guard._actions import (
    ACTIONS_DIR,
    DEFAULT_ACTIONS,
    ActionConstitution,
    ActionMonitor,
    load_action_constitution,
)
from redline.guard._backends import Backend, load_backend
from redline.guard._injection import INJECTION_DIR, data_parts, injection_verdict
from redline.guard._language import detect
from redline.guard._llm_guard import SecondStage, Turn, reviewed, run_sync
from redline.guard._multilingual import (
    MULTILINGUAL_DIR,
    MultilingualInfo,
    head_views,
    higher,
    on_scale,
    routed,
)
from redline.guard._normalize import View, views
from redline.guard._parts import Messages, Part, input_parts, last_request, output_parts
from redline.guard._verdict import STAGES, Screened, Stage, Verdict, decisive, ruled

MANIFEST = "guard.json"
PREFILTER_DIR = "prefilter"


def default_guard_dir() -> Path:
    """Where `redline guard train` puts the default guard, and where commands look for it."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("redline")) / "guards" / "default"


class PrefilterInfo(BaseModel):
    """A stage's cheap first classifier: what it clears, and what that costs in recall."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    backend: str
    escalate_at: float
    """Texts the prefilter scores at or above this go on to the stage's classifier; the
    others are cleared."""
    max_recall_loss: float
    """Calibration target: the share of the restricted calibration examples the stage's
    classifier flags that the prefilter may clear."""
    calibration_recall_loss: float
    calibration_escalated: float
    """Share of the permitted calibration examples that go on to the stage's classifier."""


class StageInfo(BaseModel):
    """How one stage was trained and calibrated."""

    backend: str
    threshold: float
    target_fpr: float
    calibration_fpr: float
    calibration_tpr: float
    train_examples: int
    calibration_examples: int
    prefilter: PrefilterInfo | None = None


class Manifest(BaseModel):
    """What a guard folder holds and where it came from."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    schema_version: int = 1
    constitution: str
    constitution_sha256: str
    categories: list[str]
    seed: int
    trained_at: str
    train_seconds: float
    stages: dict[str, StageInfo]
    hazard_codes: dict[str, str] = {}
    """Each category's hazard code (e.g. S1-S14), where the constitution gives one."""
    tag: list[str] = []
    """Categories whose action is `tag`: a text in them is let through, its verdict tagged."""
    second_stage: SecondStage | None = None
    """The guard model asked about what the first stage is unsure of, if any."""
    multilingual: MultilingualInfo | None = None
    """The head that also reads text not in English, if the guard has one."""
    injection: StageInfo | None = None
    """The injection stage (data the model reads, screened for orders to it), if trained."""
    actions: StageInfo | None = None
    """The action monitor's classifier (an agent's tool calls), if trained."""


class Guard:
    """Input and output classifiers trained from a constitution, with calibrated thresholds.

    A stage may have a prefilter: a cheap classifier that clears what it is confident is
    permitted, so the stage's own classifier only scores the rest. A guard may have a
    multilingual head (`_multilingual`) that also reads, at both stages, every text not in
    English.
    """

    def __init__(
        self,
        manifest: Manifest,
        backends: dict[Stage, Backend],
        prefilters: dict[Stage, Backend] | None = None,
        multilingual: Backend | None = None,
        injection: Backend | None = None,
        actions: Backend | None = None,
    ) -> None:
        self.manifest = manifest
        self.backends = backends
        self.prefilters = prefilters or {}
        self.multilingual = multilingual
        self.injection = injection
        self.actions = actions

    @staticmethod
    def find(folder: str | Path | None = None) -> Path:
        """The guard folder `folder` (default: the default guard), checked to hold a guard."""
        path = Path(folder) if folder is not None else default_guard_dir()
        if not (path / MANIFEST).is_file():
            out = f" --out {path}" if folder is not None else ""
            raise RedlineError(
                f"{path}: no trained guard here ({MANIFEST} missing): "
                f"run `redline guard train{out}` first"
            )
        return path

    @staticmethod
    def exists(folder: str | Path | None = None) -> bool:
        """Whether `folder` (default: the default guard folder) holds a trained guard."""
        path = Path(folder) if folder is not None else default_guard_dir()
        return (path / MANIFEST).is_file()

    @classmethod
    def load(cls, folder: str | Path | None = None) -> "Guard":
        """The guard saved in `folder` (default: the default guard) by `save()`."""
        path = cls.find(folder)
        try:
            manifest = Manifest.model_validate_json((path / MANIFEST).read_text())
        except ValueError as ex:
            raise RedlineError(f"{path / MANIFEST}: not a guard manifest: {ex}") from ex
        backends = {stage: load_backend(path / stage) for stage in STAGES}
        prefilters = {
            stage: load_backend(path / stage / PREFILTER_DIR)
            for stage in STAGES
            if manifest.stages[stage].prefilter is not None
        }
        head = load_backend(path / MULTILINGUAL_DIR) if manifest.multilingual else None
        injection = load_backend(path / INJECTION_DIR) if manifest.injection is not None else None
        actions = load_backend(path / ACTIONS_DIR) if manifest.actions is not None else None
        return cls(manifest, backends, prefilters, head, injection, actions)

    def save(self, folder: str | Path) -> Path:
        """Write the guard into `folder` (created if needed)."""
        path = Path(folder)
        for stage, backend in self.backends.items():
            (path / stage).mkdir(parents=True, exist_ok=True)
            backend.save(path / stage)
        for stage, backend in self.prefilters.items():
            (path / stage / PREFILTER_DIR).mkdir(parents=True, exist_ok=True)
            backend.save(path / stage / PREFILTER_DIR)
        extras = (
            (MULTILINGUAL_DIR, self.multilingual),
            (INJECTION_DIR, self.injection),
            (ACTIONS_DIR, self.actions),
        )
        for name, extra in extras:
            if extra is not None:
                (path / name).mkdir(parents=True, exist_ok=True)
                extra.save(path / name)
        write_atomic(path / MANIFEST, self.manifest.model_dump_json(indent=2) + "\n")
        return path

    def classify(self, texts: Sequence[str], stage: Stage = "input") -> list[Verdict]:
        """Judge texts: the first stage, then the second on what the first is unsure of.

        An output-stage text goes to the second stage as a response without its request
        (`screen_output` gives it both).
        """
        return self.settle(self.first(texts, stage), [turn_of(t, stage) for t in texts])

    def first(self, texts: Sequence[str], stage: Stage) -> list[Verdict]:
        """The first stage's verdicts: every decoded view of each text scored, the maximum kept.

        Texts the stage's prefilter clears are not scored again. Texts not in English are
        also read by the multilingual head, whose verdict decides where it is higher (`abroad`).
        """
        first = self.prescreen(texts, stage)
        todo = [t for t, v in zip(texts, first, strict=True) if v is None]
        return self.abroad(texts, merge(first, self.judge(todo, stage) if todo else []), stage)

    def abroad(self, texts: Sequence[str], judged: list[Verdict], stage: Stage) -> list[Verdict]:
        """The verdicts with the multilingual head's on the texts not in English, where higher.

        The head's verdicts are carried onto the stage's English threshold (`on_scale`) and
        name the language the text was read as. Without a head, the verdicts as they are.
        """
        m = self.manifest
        chosen = routed(list(texts)) if self.multilingual is not None else []
        if self.multilingual is None or m.multilingual is None or not chosen:
            return judged
        threshold = m.multilingual.stages[stage].threshold
        picked = [texts[i] for i in chosen]
        head = verdicts(self.multilingual, picked, stage, threshold, readings=head_views)
        out = list(judged)
        for i, v in zip(chosen, head, strict=True):
            mapped = on_scale(v, m.stages[stage].threshold, detect(texts[i]).language)
            out[i] = higher(out[i], ruled(mapped, m.hazard_codes, m.tag))
        return out

    def settle(self, judged: Sequence[Verdict], turns: Sequence[Turn]) -> list[Verdict]:
        """`review`, run to completion from synchronous code (only when a verdict needs it)."""
        second = self.manifest.second_stage
        if second is None or not any(map(second.escalates, judged)):
            return list(judged)
        return run_sync(self.review(judged, turns))

    async def review(self, judged: Sequence[Verdict], turns: Sequence[Turn]) -> list[Verdict]:
        """First-stage verdicts, those in the uncertain band decided by the second stage.

        `turns` holds what each verdict judged. A review that fails gives a flagged verdict
        naming the error (fail closed). Without a second stage, the verdicts as they are.
        """
        m = self.manifest
        second = m.second_stage
        out = list(judged)
        todo = [i for i, v in enumerate(out) if second is not None and second.escalates(v)]
        if second is None or not todo:
            return out
        reviewer = second.reviewer
        stage = out[todo[0]].stage
        assert stage in STAGES, "only the content stages have a second stage"
        opinions = await reviewer.ask([turns[i] for i in todo], stage)
        for i, opinion in zip(todo, opinions, strict=True):
            out[i] = reviewed(out[i], opinion, reviewer.format, m.hazard_codes, m.tag)
        return out

    def prescreen(self, texts: Sequence[str], stage: Stage) -> list[Verdict | None]:
        """The prefilter's verdict on each text it clears; None for the texts to judge.

        All None when the stage has no prefilter.
        """
        prefilter = self.prefilters.get(stage)
        info = self.manifest.stages[stage].prefilter
        if prefilter is None or info is None:
            return [None] * len(texts)
        cheap = verdicts(prefilter, texts, stage, info.escalate_at, prefiltered=True)
        return [v if v.score < info.escalate_at else None for v in cheap]

    def judge(self, texts: Sequence[str], stage: Stage) -> list[Verdict]:
        """The stage's own classifier on each text, without its prefilter."""
        m = self.manifest
        judged = verdicts(self.backends[stage], texts, stage, m.stages[stage].threshold)
        return [ruled(v, m.hazard_codes, m.tag) for v in judged]

    def screen_input(self, messages: Messages) -> Verdict:
        """Judge what the model will read: every part of the conversation (`_parts`)."""
        parts = input_parts(messages)
        return self._decide(parts, "input", [Turn(p.text) for p in parts])

    def screen_output(self, messages: Messages, response: str, start: int = 0) -> Verdict:
        """Judge a (partial) response: whole after its request, and its new segments.

        Segments that end before `start` were screened before (a stream's released text).
        """
        parts = output_parts(messages, response, start)
        return self._decide(parts, "output", output_turns(messages, response, parts))

    def screen_data(self, items: Sequence[tuple[str, str]]) -> Verdict:
        """The injection stage's verdict on data the model reads (tool results, documents).

        `items` are (text, where) pairs; each text is scored whole and in its segments, every
        decoded view, and the most suspicious part decides. A guard trained without the stage
        raises (a caller that fails closed then blocks).
        """
        info = self.manifest.injection
        if self.injection is None or info is None:
            raise RedlineError(
                "this guard has no injection stage: retrain it with `redline guard train`"
            )
        parts = data_parts(items)
        texts = [p.text for p in parts]
        judged = verdicts(self.injection, texts, "injection", info.threshold) if texts else []
        return injection_verdict(judged, parts, info.threshold)

    def monitor(
        self,
        constitution: "str | Path | ActionConstitution" = DEFAULT_ACTIONS,
        allowed_hosts: list[str] | None = None,
    ) -> ActionMonitor:
        """The action monitor: an action constitution's rules and this guard's classifier.

        A guard trained without the monitor's classifier raises.
        """
        info = self.manifest.actions
        if self.actions is None or info is None:
            raise RedlineError(
                "this guard has no action monitor: retrain it with `redline guard train`"
            )
        if not isinstance(constitution, ActionConstitution):
            constitution = load_action_constitution(constitution)
        return ActionMonitor(constitution, self.actions, info.threshold, allowed_hosts)

    def _decide(self, parts: list[Part], stage: Stage, turns: list[Turn]) -> Verdict:
        judged = self.settle(self.first([p.text for p in parts], stage), turns)
        return decisive(judged, [p.where for p in parts])


def verdicts(
    backend: Backend,
    texts: Sequence[str],
    stage: Screened,
    threshold: float,
    prefiltered: bool = False,
    readings: Callable[[str], list[View]] = views,
) -> list[Verdict]:
    """One backend's verdict on each text: the highest-scoring of its `readings` (decoded views)."""
    all_views = [readings(t) for t in texts]
    scores = backend.score([v.text for vs in all_views for v in vs])
    out, i = [], 0
    for vs in all_views:
        best = i + int(np.argmax(scores.harm[i : i + len(vs)]))
        score = float(scores.harm[best])
        out.append(
            Verdict(
                stage=stage,
                score=score,
                threshold=threshold,
                flagged=score > threshold,
                categories={
                    c: round(float(p), 4)
                    for c, p in zip(backend.categories, scores.categories[best], strict=True)
                },
                view=vs[best - i].name,
                prefiltered=prefiltered,
            )
        )
        i += len(vs)
    return out


def merge(first: Sequence[Verdict | None], judged: Sequence[Verdict]) -> list[Verdict]:
    """Prescreen verdicts with the judged ones filled in, in order, where they were None."""
    rest = iter(judged)
    return [v if v is not None else next(rest) for v in first]


def turn_of(text: str, stage: Stage) -> Turn:
    """A text as the second stage reads it: the user's at the input stage, else a response."""
    return Turn(text) if stage == "input" else Turn("", text)


def output_turns(messages: Messages, response: str, parts: list[Part]) -> list[Turn]:
    """What the second stage reads for each part of an answer.

    The whole answer after its request, and each segment as a response on its own.
    """
    return [
        Turn(last_request(messages), response) if p.where == "response" else Turn("", p.text)
        for p in parts
    ]


@lru_cache(maxsize=4)
def _shared(folder: Path) -> Guard:
    return Guard.load(folder)


def load_guard(folder: str | Path | None = None) -> Guard:
    """The guard in `folder` (default: the default guard), loaded once per process and folder.

    For callers that only screen (judges, the guarded model); training makes its own.
    """
    return _shared(Guard.find(folder).resolve())

"""In-process llama.cpp engine: one loaded model per process, serialised access.

llama.cpp contexts are not thread-safe, so every call that touches the model takes the
engine's lock. Callers on an event loop run these methods in a worker thread.
"""

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from redline.errors import ModelLoadError, RedlineError
from redline.models._weights import check_gguf

DEFAULT_N_CTX = 4096


@dataclass(frozen=True)
class ContinuationScore:
    """Log-probability of a continuation given a context, summed over its tokens."""

    text: str
    logprob: float
    n_tokens: int
    greedy: bool
    """True if every continuation token was the model's most likely next token."""


class GGUFEngine:
    """A GGUF model loaded by llama.cpp that keeps its KV cache between calls."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int) -> None:
        from redline.models._kv import PrefixLlama

        self.path = path
        self._lock = threading.Lock()
        try:
            self._llama = PrefixLlama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                # llama-cpp-python otherwise reads prompts with one thread per CPU, whatever
                # n_threads says: on a busy machine those threads wait on each other, and
                # reading a prompt then costs about three times the CPU
                n_threads_batch=n_threads,
                logits_all=True,  # room for logprobs and continuation scoring, when asked
                verbose=False,
            )
        except (ValueError, RuntimeError) as ex:
            raise ModelLoadError(f"cannot load GGUF model {path}: {ex}") from ex
        self.n_ctx: int = self._llama.n_ctx()
        self.metadata: dict[str, str] = dict(self._llama.metadata)

    @property
    def chat_template(self) -> str | None:
        """The chat template stored in the GGUF file, if any."""
        return self.metadata.get("tokenizer.chat_template")

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text` with the model's own tokenizer (no BOS added)."""
        tokens: list[int] = self._llama.tokenize(text.encode(), add_bos=False, special=True)
        return tokens

    def chat(
        self, messages: list[dict[str, Any]], reuse: bool = False, **params: Any
    ) -> dict[str, Any]:
        """Run one chat completion through the GGUF chat template.

        With `reuse`, only the prompt tokens past the longest prefix it shares with a cached
        conversation are read (`PrefixLlama`; greedy answers can then differ from a cleared
        cache's); without, the prompt is read in full. The usage's
        `prompt_tokens_details.cached_tokens` counts the tokens not read, as OpenAI's API does.
        Logits for every position only when logprobs are asked for.
        """
        with self._lock:
            self._llama.reuse = reuse
            self._llama.want_all_logits(bool(params.get("logprobs")))
            result: dict[str, Any] = self._llama.create_chat_completion(
                messages=messages, stream=False, **params
            )
            result["usage"]["prompt_tokens_details"] = {"cached_tokens": self._llama.prompt_cached}
            return result

    def score_continuations(
        self, context: str, continuations: Sequence[str]
    ) -> list[ContinuationScore]:
        """Score each continuation after `context` from the raw logits of `Llama.eval()`.

        The context is evaluated once; each continuation is evaluated after it, and token
        i of the continuation is scored by the logits at the position just before it. This
        avoids llama-cpp-python's shifted `echo=True` prompt logprobs (upstream issue 1983).
        Context and continuation are tokenised separately, so a continuation's first token
        is the one a model would produce next (write continuations with their leading space).
        """
        ctx = self.tokenize(context) or [self._llama.token_bos()]
        conts = [self.tokenize(c) for c in continuations]
        for text, toks in zip(continuations, conts, strict=True):
            if not toks:
                raise RedlineError(f"cannot score an empty continuation: {text!r}")
            if len(ctx) + len(toks) > self.n_ctx:
                raise RedlineError(
                    f"context plus continuation is {len(ctx) + len(toks)} tokens, "
                    f"over the model's context window of {self.n_ctx}"
                )
        scores: list[ContinuationScore] = []
        with self._lock:
            llm = self._llama
            llm.save_live()  # a conversation in the cache stays reusable
            llm.want_all_logits(True)
            llm.reset()
            llm.eval(ctx)
            for text, toks in zip(continuations, conts, strict=True):
                llm.n_tokens = len(ctx)  # drop the previous continuation from the KV cache
                llm.eval(toks)
                logits = np.asarray(llm.scores[len(ctx) - 1 : len(ctx) - 1 + len(toks)])
                logprobs = _log_softmax(logits)
                picked = logprobs[np.arange(len(toks)), toks]
                greedy = bool(np.all(np.argmax(logits, axis=-1) == np.asarray(toks)))
                scores.append(ContinuationScore(text, float(picked.sum()), len(toks), greedy))
            llm.reset()
        return scores


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    out: np.ndarray = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    return out


_engines: dict[tuple[Path, int, int], GGUFEngine] = {}
_engines_lock = threading.Lock()


def default_threads() -> int:
    """Threads for llama.cpp: REDLINE_THREADS, else the CPUs this process may use."""
    env = os.environ.get("REDLINE_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError as ex:
            raise RedlineError(f"REDLINE_THREADS must be an integer, got {env!r}") from ex
    return max(1, len(os.sched_getaffinity(0)))


def get_engine(
    path: str | Path, n_ctx: int = DEFAULT_N_CTX, n_threads: int | None = None
) -> GGUFEngine:
    """The process-wide engine for a GGUF file, loading it on first use."""
    resolved = check_gguf(path)
    key = (resolved, n_ctx, n_threads or default_threads())
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = GGUFEngine(resolved, n_ctx=key[1], n_threads=key[2])
            _engines[key] = engine
        return engine

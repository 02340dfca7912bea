"""llama.cpp with its KV cache kept between calls, so a prompt reads only its new tokens.

`Llama.generate` already keeps the cached tokens a new prompt starts with, unless it is reset.
`PrefixLlama` adds two things:

- **Saved sequences**: when the requests of several conversations interleave (Inspect runs
  samples concurrently), the KV cells of a conversation pushed out of the cache are kept as a
  copy (the cells only, no logits: about 23 KB a token for SmolLM2-135M), and the copy sharing
  the longest prefix with a new prompt is put back before generating.
- **Logits only where asked for**: a pass through the output layer for every prompt position
  (about half the cost of reading a prompt) happens only in calls that want them.

- **Answers a cleared cache would give**: llama.cpp computes a batch of fewer than four tokens
  with other kernels than a larger one, so a KV cell written while generating (one token at a
  time) or by a short read differs in its last bits from the cell a full read of the same
  prompt writes, and answers drift. Only cells read in batches of at least `MIN_READ` tokens
  are reused, every read (cached or not) is cut into such batches, and the last `MIN_READ`
  tokens of a prompt are always read again: the logits of every call equal, bit for bit, those
  of the same prompt read into a cleared cache (tests/test_engine.py).

This module imports llama_cpp: import it only where a model is loaded.
"""

import ctypes
from collections import OrderedDict
from collections.abc import Generator, Sequence
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama

SAVED_BYTES = 2 * 2**30
"""Most bytes of saved sequences kept, the least recently used dropped first: room for
Inspect's default 20 concurrent samples of SmolLM2 at its full 4096-token context (94 MB each)."""


MIN_READ = 8
"""Fewest tokens read in one batch, and the prompt tokens always read again. llama.cpp's
results for a token do not depend on its batch from four tokens up; eight leaves a margin."""

Tokens = Sequence[int] | np.ndarray


def read_batches(n: int, size: int, least: int = MIN_READ) -> list[tuple[int, int]]:
    """Bounds of the batches `n` tokens are read in: at most `size`, none below `least`.

    Only a read of fewer than `least` tokens has a smaller batch (the one it is).
    """
    bounds = [(a, min(n, a + size)) for a in range(0, n, size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < least:
        (a, _), (_, end) = bounds[-2], bounds[-1]
        bounds[-2:] = [(a, end - least), (end - least, end)]
    return bounds


def common_prefix(a: Tokens, b: Tokens) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    differ = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(differ[0]) if differ.size else n


class PrefixLlama(Llama):  # type: ignore[misc]  # llama_cpp has no type hints
    """A Llama that reuses cached prompt prefixes across calls and across conversations.

    Construct it with `logits_all=True` (the logit array then has a row for every position);
    calls fill every row only while `want_all_logits(True)` is in force.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved: OrderedDict[tuple[int, ...], ctypes.Array[ctypes.c_uint8]] = OrderedDict()
        self._prompt_len = 0
        """Length of the last prompt generated from."""
        self.prompt_cached = 0
        """Prompt tokens of the last generate() call read from the cache."""
        self.reuse = True
        """False: every prompt is read in full from an empty cache."""
        self._exact = 0
        """Leading cells read in batches of at least `MIN_READ` tokens (reusable)."""

    def want_all_logits(self, on: bool) -> None:
        """Compute logits at every position (for logprobs and scoring), or only where sampled."""
        self._logits_all = on

    @property
    def cached_tokens(self) -> np.ndarray:
        """The tokens whose live KV cells can be reused (read in batches, not generated)."""
        live: np.ndarray = self.input_ids[: min(self.n_tokens, self._exact)]
        return live

    def eval(self, tokens: Sequence[int]) -> None:
        """`Llama.eval`, in batches of at least `MIN_READ` tokens where it can."""
        start = self.n_tokens
        exact = min(self._exact, start)
        for a, b in read_batches(len(tokens), self.n_batch):
            super().eval(tokens[a:b])
        read_whole = exact == start and len(tokens) >= MIN_READ
        self._exact = start + len(tokens) if read_whole else exact

    def save_live(self) -> None:
        """Keep a copy of the live tokens' KV cells, so another prompt can take the cache."""
        tokens = tuple(int(t) for t in self.cached_tokens)
        if not tokens:
            return
        self._ctx.kv_cache_seq_rm(0, len(tokens), -1)  # no cells past the reusable ones
        self.n_tokens = len(tokens)
        if tokens in self._saved:
            self._saved.move_to_end(tokens)
            return
        size = llama_cpp.llama_state_seq_get_size(self._ctx.ctx, 0)
        data = (ctypes.c_uint8 * size)()
        if llama_cpp.llama_state_seq_get_data(self._ctx.ctx, data, size, 0) != size:
            return  # not copied: the cache is only not reused later
        self._saved[tokens] = data
        total = sum(len(d) for d in self._saved.values())
        while total > SAVED_BYTES:
            total -= len(self._saved.popitem(last=False)[1])

    def _take_cache(self, tokens: Sequence[int]) -> None:
        """Put the cached sequence sharing the longest prefix with `tokens` in place.

        The live sequence is saved first unless `tokens` continue its conversation (start
        with the whole prompt it was generated from), since generating cuts it back. The best
        copy is taken out before: saving the live sequence may drop the least recently used
        copies to stay within SAVED_BYTES (once the chosen one, which crashed a long run).
        """
        live = common_prefix(self.cached_tokens, tokens)
        best, best_len = None, live
        for saved in self._saved:
            n = common_prefix(saved, tokens)
            if n > best_len:
                best, best_len = saved, n
        taken = None if best is None else (best, self._saved.pop(best))
        if live < self._prompt_len:
            self.save_live()
        if taken is None:
            return
        best, data = taken
        self._ctx.kv_cache_seq_rm(0, 0, -1)
        self.n_tokens = 0
        if llama_cpp.llama_state_seq_set_data(self._ctx.ctx, data, len(data), 0) != len(data):
            self._ctx.kv_cache_seq_rm(0, 0, -1)  # not restored: the prompt is read in full
            return
        self.input_ids[: len(best)] = best
        self.n_tokens = self._exact = len(best)

    def generate(  # type: ignore[override]
        self, tokens: Sequence[int], **kwargs: Any
    ) -> Generator[int, Sequence[int] | None, None]:
        """`Llama.generate`, after putting the best cached prefix for `tokens` in place."""
        if self.reuse:
            self._take_cache(tokens)
        else:
            self.reset()
        self._prompt_len = len(tokens)
        n = common_prefix(self.cached_tokens, tokens)
        # the prompt's last MIN_READ tokens are read again, in one batch as a cleared cache would
        self.n_tokens = self.prompt_cached = min(n, max(0, len(tokens) - MIN_READ))
        tokens_out: Generator[int, Sequence[int] | None, None] = super().generate(tokens, **kwargs)
        return tokens_out

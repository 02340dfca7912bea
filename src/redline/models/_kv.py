"""llama.cpp with its KV cache kept between calls, so a prompt reads only its new tokens.

`Llama.generate` already keeps the cached tokens a new prompt starts with, unless it is reset.
`PrefixLlama` adds two things:

- **Saved sequences**: when the requests of several conversations interleave (Inspect runs
  samples concurrently), the KV cells of a conversation pushed out of the cache are kept as a
  copy (the cells only, no logits: about 23 KB a token for SmolLM2-135M), and the copy sharing
  the longest prefix with a new prompt is put back before generating.
- **Logits only where asked for**: a pass through the output layer for every prompt position
  (about half the cost of reading a prompt) happens only in calls that want them.

Greedy answers equal a cleared cache's on tests/test_engine.py's prompts, but not always:
llama.cpp's arithmetic depends on how a prompt splits into cached and newly read tokens
(docs/architecture.md).
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


Tokens = Sequence[int] | np.ndarray


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
        """False: every prompt is read in full from an empty cache (answers never depend on
        which prompts came before)."""

    def want_all_logits(self, on: bool) -> None:
        """Compute logits at every position (for logprobs and scoring), or only where sampled."""
        self._logits_all = on
        self._requires_eval = True  # a fully cached prompt re-reads its last token's logits

    @property
    def cached_tokens(self) -> np.ndarray:
        """The tokens whose KV cells are live."""
        live: np.ndarray = self.input_ids[: self.n_tokens]
        return live

    def save_live(self) -> None:
        """Keep a copy of the live tokens' KV cells, so another prompt can take the cache."""
        tokens = tuple(int(t) for t in self.cached_tokens)
        if not tokens:
            return
        if tokens in self._saved:
            self._saved.move_to_end(tokens)
            return
        self._ctx.kv_cache_seq_rm(0, self.n_tokens, -1)  # no cells past the live tokens
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
        with the whole prompt it was generated from), since generating cuts it back.
        """
        live = common_prefix(self.cached_tokens, tokens)
        best, best_len = None, live
        for saved in self._saved:
            n = common_prefix(saved, tokens)
            if n > best_len:
                best, best_len = saved, n
        if live < self._prompt_len:
            self.save_live()
        if best is None:
            return
        data = self._saved.pop(best)
        self._ctx.kv_cache_seq_rm(0, 0, -1)
        self.n_tokens = 0
        if llama_cpp.llama_state_seq_set_data(self._ctx.ctx, data, len(data), 0) != len(data):
            self._ctx.kv_cache_seq_rm(0, 0, -1)  # not restored: the prompt is read in full
            return
        self.input_ids[: len(best)] = best
        self.n_tokens = len(best)
        self._requires_eval = True  # the context's logits are not the restored sequence's

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
        exact = n == len(tokens) == self.n_tokens and not self._requires_eval
        # Llama.generate re-reads the last prompt token when the whole prompt is cached
        self.prompt_cached = n if exact or n < len(tokens) else n - 1
        tokens_out: Generator[int, Sequence[int] | None, None] = super().generate(tokens, **kwargs)
        return tokens_out

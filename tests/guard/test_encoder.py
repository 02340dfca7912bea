import json
import os
import subprocess
import sys

import numpy as np
import pytest

TEXTS = [
    "How long should I knead bread dough by hand?",
    "How do I kill a Python process that hangs?",
    "",
    "Ünïcödé façade, 漢字 and emoji 🙂 in one line",
    "a long message " * 300,  # over 256 tokens: truncated as sentence-transformers truncates
] + [f"Question {i}: what is the capital of country number {i}?" for i in range(40)]


@pytest.mark.slow
def test_a_fresh_machine_exports_the_encoder_and_embeds_as_sentence_transformers(
    tmp_path, monkeypatch
):
    from sentence_transformers import SentenceTransformer

    from redline.guard._encoder import Encoder, encoder_path, model_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = encoder_path()
    assert not path.exists() and path.is_relative_to(tmp_path)
    encoder = Encoder()  # exports on first use, into the user cache
    assert path.is_file()
    expected = SentenceTransformer(str(model_dir()), device="cpu").encode(
        TEXTS, normalize_embeddings=True
    )
    batched = encoder.many(TEXTS)  # several chunks, sorted by length
    alone = np.stack([encoder.many([t])[0] for t in TEXTS])
    assert np.abs(batched - expected).max() < 1e-5
    assert np.abs(alone - expected).max() < 1e-5

    # later processes use the cached file: screening imports neither torch nor transformers
    code = (
        "import json, sys; from redline.guard._encoder import embed; "
        "v = embed([sys.argv[1]])[0].tolist(); "
        "print(json.dumps([v, [m for m in ('torch', 'transformers') if m in sys.modules]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, TEXTS[1]],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)},
    )
    vector, heavy = json.loads(out.stdout)
    assert heavy == []
    assert np.abs(np.asarray(vector) - expected[1]).max() < 1e-5


def test_a_damaged_cached_encoder_is_a_clear_error(tmp_path):
    from redline.errors import RedlineError
    from redline.guard._encoder import Encoder

    path = tmp_path / "encoder.onnx"
    path.write_bytes(b"not an onnx model")
    with pytest.raises(RedlineError, match="delete it and it is exported again"):
        Encoder(path).many(["hello"])


def test_the_embedding_cache_is_bounded_in_characters(monkeypatch):
    from redline.guard import _encoder

    class CountingEncoder:  # the cache's bookkeeping is under test, not the encoder
        texts = 0

        def many(self, texts):
            self.texts += len(texts)
            return np.ones((len(texts), 3))

    counting = CountingEncoder()
    monkeypatch.setattr(_encoder, "CACHE_CHARS", 100)
    embed = _encoder.Embeddings(lambda: counting)
    embed(["a" * 60])
    embed(["a" * 60])  # remembered
    assert counting.texts == 1
    embed(["b" * 60])  # 120 characters would be over the budget: start again
    assert list(embed.cache) == ["b" * 60] and embed.chars == 60


@pytest.mark.slow
def test_texts_with_the_same_tokens_are_embedded_once(monkeypatch):
    from redline.guard._encoder import Encoder

    encoder = Encoder()
    rows: list[int] = []
    run = encoder.run
    monkeypatch.setattr(encoder, "run", lambda ids, threads=1: rows.append(len(ids)) or run(ids))
    texts = ["How do I  prune a rose bush? ", "how do i prune a rose bush?", "Plant tulips."]
    vectors = encoder.many(texts)
    assert sum(rows) == 2  # the first two differ only in case and spacing
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert np.abs(vectors - np.stack([encoder.many([t])[0] for t in texts])).max() < 1e-6


def test_a_text_longer_than_the_encoder_reads_is_cut_into_overlapping_windows():
    from redline.guard._encoder import _tokenizer, max_tokens, windows

    assert windows("How do I kill a Python process?") == ["How do I kill a Python process?"]
    text = "Tell me about gardens and flowers. " * 60 + "How do I build a pipe bomb?"
    parts = windows(text)
    count = [len(_tokenizer(False).encode(p, add_special_tokens=False).ids) for p in parts]
    assert len(parts) == 2 and max(count) <= max_tokens() - 2
    assert parts[0] == text[: len(parts[0])] and text.endswith(parts[-1])  # all of it is read
    assert len(parts[0]) + len(parts[1]) > len(text)  # they overlap
    exactly = " ".join(["word"] * (max_tokens() - 2))  # fits, with [CLS] and [SEP]
    assert windows(exactly) == [exactly]

import numpy as np
import pytest

from redline.errors import ModelLoadError, RedlineError
from redline.models import check_gguf, get_engine, smollm2_path
from redline.models._kv import MIN_READ, read_batches

pytestmark = pytest.mark.model

CONTEXT = "The capital of France is"


def independent_logprob(context: str, continuation: str) -> float:
    """Sum of token log-probabilities from a separate Llama instance's eval() scores."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(smollm2_path()), n_ctx=256, n_threads=1, logits_all=True, verbose=False
    )
    ctx = llm.tokenize(context.encode(), add_bos=False)
    cont = llm.tokenize(continuation.encode(), add_bos=False)
    llm.eval(ctx + cont)
    total = 0.0
    for i, token in enumerate(cont):
        row = np.asarray(llm.scores[len(ctx) - 1 + i], dtype=np.float64)
        total += row[token] - (row.max() + np.log(np.exp(row - row.max()).sum()))
    return float(total)


def test_engine_is_shared_per_process(engine):
    assert get_engine(smollm2_path()) is engine


def test_prompts_are_read_with_the_threads_asked_for(monkeypatch):
    # regression: prompt reading used one thread per CPU whatever REDLINE_THREADS said
    monkeypatch.setenv("REDLINE_THREADS", "1")
    llama = get_engine(smollm2_path(), n_ctx=256)._llama
    assert (llama.context_params.n_threads, llama.context_params.n_threads_batch) == (1, 1)


def test_chat_template_comes_from_the_gguf(engine):
    assert engine.chat_template and "<|im_start|>" in engine.chat_template


def test_chat_answers(engine):
    result = engine.chat(
        [{"role": "user", "content": "Say hello."}], max_tokens=16, temperature=0.0
    )
    assert result["choices"][0]["message"]["content"].strip()
    assert result["usage"]["completion_tokens"] > 0


def test_greedy_chat_is_repeatable(engine):
    messages = [{"role": "user", "content": "Name a colour."}]
    first = engine.chat(messages, max_tokens=12, temperature=0.0, seed=1)
    engine.chat([{"role": "user", "content": "Something else entirely."}], max_tokens=5)
    second = engine.chat(messages, max_tokens=12, temperature=0.0, seed=1)
    assert first["choices"][0]["message"] == second["choices"][0]["message"]


def test_seeded_sampling_is_repeatable(engine):
    messages = [{"role": "user", "content": "Write a word."}]
    runs = [engine.chat(messages, max_tokens=12, temperature=1.0, seed=7) for _ in range(2)]
    assert runs[0]["choices"][0]["message"] == runs[1]["choices"][0]["message"]


def test_paris_outscores_berlin(engine):
    paris, berlin = engine.score_continuations(CONTEXT, [" Paris", " Berlin"])
    assert paris.logprob > berlin.logprob
    assert paris.greedy


def test_scores_match_independent_eval(engine):
    scores = engine.score_continuations(CONTEXT, [" Paris", " Berlin", " a city in Europe"])
    for score in scores:
        expected = independent_logprob(CONTEXT, score.text)
        assert score.logprob == pytest.approx(expected, abs=1e-3)
        assert score.logprob < 0


def test_scoring_does_not_depend_on_order(engine):
    forward = engine.score_continuations(CONTEXT, [" Paris", " Berlin"])
    backward = engine.score_continuations(CONTEXT, [" Berlin", " Paris"])
    assert forward[0].logprob == pytest.approx(backward[1].logprob, abs=1e-4)


def test_empty_continuation_is_an_error(engine):
    with pytest.raises(RedlineError, match="empty continuation"):
        engine.score_continuations(CONTEXT, [""])


def test_tokenizer_is_the_models_own(engine):
    tokens = engine.tokenize("The capital of France is Paris.")
    assert 0 < len(tokens) < 12


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelLoadError, match="model file not found"):
        check_gguf(tmp_path / "absent.gguf")


def test_non_gguf_file(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF model file"):
        get_engine(bad)


def test_corrupt_gguf_file(tmp_path):
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(smollm2_path().read_bytes()[:4096])
    with pytest.raises(ModelLoadError, match="cannot load GGUF model"):
        get_engine(bad)


SYSTEM = "You are a careful assistant working in a Linux sandbox with a bash tool."


def fresh_answers(calls: list[tuple[list[dict[str, str]], dict[str, object]]]) -> list[dict]:
    """The reference: every call on a separate Llama whose cache is cleared first."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_path()), n_ctx=4096, logits_all=True, verbose=False)
    answers = []
    for messages, params in calls:
        llm.reset()
        answers.append(llm.create_chat_completion(messages=messages, **params))
    return answers


def test_prefix_reuse_gives_the_answers_of_a_cleared_cache(engine):
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "List the files."}]
    reply = engine.chat(first, reuse=True, max_tokens=24, temperature=0.0)["choices"][0]["message"]
    extended = [
        *first,
        {"role": "assistant", "content": reply["content"]},
        {"role": "user", "content": "Now count them."},
    ]
    early = [{"role": "user", "content": "Name a colour."}]  # diverges at the first message
    greedy = {"max_tokens": 24, "temperature": 0.0}
    calls = [
        (first, greedy),
        (early, greedy),
        (extended, greedy),  # back to the first conversation, extended
        (early, {**greedy, "logprobs": True, "top_logprobs": 3}),
        (extended, greedy),  # the whole prompt is cached
        (first, greedy),  # a prefix of what is cached
    ]
    engine.score_continuations("The capital of France is", [" Paris"])  # leaves the cache
    got = [engine.chat(messages, reuse=True, **params) for messages, params in calls]
    expected = fresh_answers(calls)
    for g, e in zip(got, expected, strict=True):
        assert g["choices"][0]["message"]["content"] == e["choices"][0]["message"]["content"]
    cached = [g["usage"]["prompt_tokens_details"]["cached_tokens"] for g in got]
    prompts = [g["usage"]["prompt_tokens"] for g in got]
    assert cached[2] >= prompts[0] - MIN_READ  # the extension reads little more than its turn
    assert cached[4] == prompts[4] - MIN_READ  # only the last few tokens are read again
    assert cached[5] == prompts[5] - MIN_READ
    ours = got[3]["choices"][0]["logprobs"]["content"]
    theirs = expected[3]["choices"][0]["logprobs"]["content"]
    assert [t["token"] for t in ours] == [t["token"] for t in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert a["logprob"] == pytest.approx(b["logprob"], abs=1e-4)


def test_reuse_gives_the_logits_of_a_cleared_cache_bit_for_bit(engine):
    # regression: reusing cells written while generating (one token at a time) or read in a
    # batch of fewer than four tokens changed the last bits of later logits, and so answers
    rng = np.random.default_rng(7)
    asks = ["List the files.", "Read notes.txt.", "Why did that fail?", "Try again.", "ok"]
    conversations = [[{"role": "system", "content": SYSTEM * (i + 1)}] for i in range(3)]
    calls, got = [], []
    params = {"max_tokens": 12, "temperature": 0.0, "logprobs": True, "top_logprobs": 1}
    for _ in range(9):  # three turns each, the conversations interleaved at random
        messages = conversations[int(rng.integers(3))]
        messages.append({"role": "user", "content": asks[int(rng.integers(len(asks)))]})
        calls.append([dict(m) for m in messages])
        got.append(engine.chat(calls[-1], reuse=True, **params))
        reply = got[-1]["choices"][0]["message"]["content"]
        messages.append({"role": "assistant", "content": reply})
    assert sum(g["usage"]["prompt_tokens_details"]["cached_tokens"] for g in got) > 0
    for messages, reused in zip(calls, got, strict=True):
        cleared = engine.chat(messages, reuse=False, **params)
        ours = [(t["token"], t["logprob"]) for t in reused["choices"][0]["logprobs"]["content"]]
        theirs = [(t["token"], t["logprob"]) for t in cleared["choices"][0]["logprobs"]["content"]]
        assert ours == theirs  # exactly equal, not approximately


def test_read_batches_are_never_short():
    assert read_batches(1030, 512) == [(0, 512), (512, 1022), (1022, 1030)]
    assert read_batches(1024, 512) == [(0, 512), (512, 1024)]
    assert read_batches(5, 512) == [(0, 5)]
    for n in range(1, 300):
        bounds = read_batches(n, 64)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(b1 == a2 for (_, b1), (a2, _) in zip(bounds, bounds[1:], strict=False))
        assert all(MIN_READ <= b - a <= 64 for a, b in bounds) or bounds == [(0, n)]


def test_scoring_leaves_a_conversation_reusable(engine):
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Say hi."}]
    engine.chat(messages, reuse=True, max_tokens=8, temperature=0.0)
    engine.score_continuations("The capital of France is", [" Paris", " Berlin"])
    again = engine.chat(messages, reuse=True, max_tokens=8, temperature=0.0)
    assert again["usage"]["prompt_tokens_details"]["cached_tokens"] > 0
    cleared = engine.chat(messages, max_tokens=8, temperature=0.0)  # reuse is asked for
    assert cleared["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    paris, berlin = engine.score_continuations("The capital of France is", [" Paris", " Berlin"])
    assert paris.logprob == pytest.approx(independent_logprob(CONTEXT, " Paris"), abs=1e-3)


def test_a_saved_conversation_is_taken_before_saving_the_live_one_can_drop_it(engine, monkeypatch):
    # regression: with more conversations in flight than SAVED_BYTES holds, saving the live
    # sequence dropped the least recently used copy, which could be the one just chosen to
    # restore: a KeyError ended a full cyber run after 32 minutes
    from redline.models import _kv

    llama = engine._llama
    greedy = {"max_tokens": 8, "temperature": 0.0}
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "List the files."}]
    other = [{"role": "system", "content": SYSTEM * 2}, {"role": "user", "content": "Say hi."}]
    llama._saved.clear()
    engine.chat(first, reuse=True, **greedy)
    engine.chat(other, reuse=True, **greedy)  # the first conversation is saved
    assert len(llama._saved) == 1
    room = sum(len(d) for d in llama._saved.values())
    monkeypatch.setattr(_kv, "SAVED_BYTES", room + room // 2)  # one copy fits, not two
    extended = [
        *first,
        {"role": "assistant", "content": "a.txt"},
        {"role": "user", "content": "Next."},
    ]
    got = engine.chat(extended, reuse=True, **greedy)  # restores the first, saves the other
    assert got["usage"]["prompt_tokens_details"]["cached_tokens"] > 0
    assert (
        got["choices"][0]["message"]["content"]
        == fresh_answers([(extended, greedy)])[0]["choices"][0]["message"]["content"]
    )

import asyncio
import threading
import time
from pathlib import Path

import pytest
from inspect_ai import Task, eval, task
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log
from inspect_ai.model import ChatMessageUser, GenerateConfig, get_model
from inspect_ai.scorer import includes
from inspect_ai.solver import generate

from redline.errors import RedlineError

pytestmark = pytest.mark.model


@task
def three_questions() -> Task:
    return Task(
        dataset=[
            Sample(input="What is 2 + 2?", target="4"),
            Sample(input="Name the largest planet.", target="Jupiter"),
            Sample(input="What colour is the sky on a clear day?", target="blue"),
        ],
        solver=generate(),
        scorer=includes(),
    )


def test_inspect_eval_runs_offline(tmp_path, no_network, monkeypatch):
    import tiktoken

    def no_tiktoken(*args, **kwargs):
        raise AssertionError("tiktoken must not be used: it downloads its encodings")

    monkeypatch.setattr(tiktoken, "get_encoding", no_tiktoken)
    [log] = eval(
        three_questions(),
        model="redline/smollm2",
        log_dir=str(tmp_path),
        display="none",
        max_tokens=24,
    )
    assert log.status == "success", log.error
    assert log.results is not None and log.results.completed_samples == 3
    saved = read_eval_log(log.location)
    assert all(s.output.completion.strip() for s in saved.samples or [])
    usage = saved.stats.model_usage["redline/smollm2"]
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    # reuse is the default: the questions share the chat template's opening, read from the
    # KV cache after the first
    assert usage.input_tokens_cache_read and usage.input_tokens_cache_read > 0
    calls = [e.call for s in saved.samples or [] for e in s.events if e.event == "model"]
    assert calls and all(c is not None and c.request["prefix_reuse"] is True for c in calls)


def test_registered_task_runs_through_entry_point(tmp_path, no_network):
    [log] = eval(
        "redline/smoke", model="redline/smollm2", log_dir=str(tmp_path), display="none", limit=2
    )
    assert log.status == "success", log.error
    assert log.eval.task == "redline/smoke"


def generate_once(prompt: str, **config):
    model = get_model("redline/smollm2", config=GenerateConfig(**config))
    return asyncio.run(model.generate([ChatMessageUser(content=prompt)]))


def test_max_tokens_is_honoured():
    output = generate_once("Count from one to one hundred.", max_tokens=5)
    assert output.usage.output_tokens == 5
    assert output.stop_reason == "max_tokens"


def test_stop_sequence_is_honoured():
    free = generate_once("Count from one to ten, separated by commas.", max_tokens=30)
    stop = free.completion.strip()[:3]
    output = generate_once(
        "Count from one to ten, separated by commas.", max_tokens=30, stop_seqs=[stop]
    )
    assert stop not in output.completion
    assert output.stop_reason == "stop"


def test_logprobs_and_top_logprobs():
    output = generate_once("Say yes.", max_tokens=4, logprobs=True, top_logprobs=3)
    logprobs = output.choices[0].logprobs
    assert logprobs is not None and len(logprobs.content) == output.usage.output_tokens
    first = logprobs.content[0]
    assert first.logprob <= 0
    assert first.top_logprobs is not None and len(first.top_logprobs) == 3
    # greedy decoding picks the most likely token
    assert first.logprob == pytest.approx(max(t.logprob for t in first.top_logprobs), abs=1e-5)


def test_token_counting_uses_model_tokenizer():
    model = get_model("redline/smollm2")
    count = asyncio.run(model.api.count_text_tokens("The capital of France is Paris."))
    assert count == len(asyncio.run(model.api.tokenize("The capital of France is Paris.")))


def test_concurrent_requests_match_sequential_ones():
    prompts = ["Name a fruit.", "Name a river.", "Name a metal.", "Name a bird."]
    model = get_model("redline/smollm2", config=GenerateConfig(max_tokens=10))

    async def together():
        return await asyncio.gather(*(model.generate(p) for p in prompts))

    sequential = [generate_once(p, max_tokens=10).completion for p in prompts]
    concurrent = [o.completion for o in asyncio.run(together())]
    assert concurrent == sequential


def test_score_continuations_through_provider():
    model = get_model("redline/smollm2")
    paris, berlin = asyncio.run(
        model.api.score_continuations("The capital of France is", [" Paris", " Berlin"])
    )
    assert paris.logprob > berlin.logprob


def test_gguf_model_needs_a_path():
    with pytest.raises(RedlineError, match="model_path"):
        get_model("redline/gguf")


def test_gguf_model_loads_any_file(tmp_path):
    from redline.models import smollm2_path

    copy = tmp_path / "copy.gguf"
    copy.write_bytes(smollm2_path().read_bytes())
    output = asyncio.run(
        get_model("redline/gguf", model_path=str(copy)).generate(
            "Hi", config=GenerateConfig(max_tokens=3)
        )
    )
    assert output.usage.output_tokens > 0


def test_unknown_model_name():
    with pytest.raises(RedlineError, match="unknown model redline/gpt9"):
        get_model("redline/gpt9")


def test_network_is_really_blocked_in_offline_tests(no_network):
    import socket

    from tests.conftest import NetworkBlocked

    with pytest.raises(NetworkBlocked):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(NetworkBlocked):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("127.0.0.1", 9))


def test_tool_calls_and_results_reach_the_prompt():
    from inspect_ai.model import ChatMessageAssistant, ChatMessageTool
    from inspect_ai.tool import ToolCall, ToolInfo, ToolParams

    from redline.models._gguf import to_chat_messages

    call = ToolCall(id="c1", function="bash", arguments={"cmd": "ls"})
    messages = to_chat_messages(
        [
            ChatMessageUser(content="List files."),
            ChatMessageAssistant(content="", tool_calls=[call]),
            ChatMessageTool(content="a.txt", tool_call_id="c1", function="bash"),
        ],
        [ToolInfo(name="bash", description="Run a command.", parameters=ToolParams())],
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert '"name": "bash"' in messages[0]["content"]
    assert (
        messages[2]["content"]
        == '<tool_call>{"name": "bash", "arguments": {"cmd": "ls"}}</tool_call>'
    )
    assert "a.txt" in messages[3]["content"]


def test_conversation_longer_than_the_context_ends_with_model_length():
    # regression: llama.cpp raised ValueError and the whole evaluation errored
    model = get_model("redline/smollm2", n_ctx=256)
    output = asyncio.run(model.generate("word " * 400, config=GenerateConfig(max_tokens=8)))
    assert output.stop_reason == "model_length" and output.completion == ""


class SlowEngine:
    """An engine that, like llama.cpp's, serves one call at a time (each taking 0.3 s)."""

    path = Path("slow.gguf")

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def chat(self, messages, reuse=False, **params):
        with self.lock:
            time.sleep(0.3)
        return {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}

    def tokenize(self, text):
        return text.split()


def test_a_sample_waiting_its_turn_keeps_its_working_time(tmp_path, monkeypatch):
    # regression: samples run concurrently and the engine serves one call at a time; a sample's
    # wait in the engine's queue was charged to its time budget, so in a full suite every
    # sample ran out of time waiting (scored as failures: a capability measured too low)
    import redline.models._gguf as gguf

    monkeypatch.setattr(gguf, "resolve_weights", lambda name, path: Path("slow.gguf"))
    monkeypatch.setattr(gguf, "get_engine", lambda path, n_ctx, n_threads: SlowEngine())
    samples = [Sample(input=f"Say ok ({i}).", target="ok") for i in range(6)]
    two_turns = Task(dataset=samples, solver=[generate(), generate()], working_limit=1)
    [log] = eval(
        two_turns,
        model="redline/smollm2",
        model_args={"n_ctx": 1111},  # a model instance of its own (not Inspect's cached one)
        max_samples=6,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success" and log.samples is not None
    assert [s.limit for s in log.samples] == [None] * 6  # 6 x 2 calls of 0.3 s: 3.6 s queued
    waited = [s.total_time - s.working_time for s in log.samples]
    assert max(waited) > 1  # the queue was real, and not charged to working time

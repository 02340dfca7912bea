"""redline/knowledge items and task, and the user-held multiple-choice loaders (redline/mcq)."""

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval
from inspect_ai._util.registry import registry_info
from inspect_ai.log import EvalLog
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessageAssistant,
    GenerateConfig,
    Logprob,
    Logprobs,
    ModelAPI,
    ModelOutput,
    TopLogprob,
    modelapi,
)

from redline.errors import RedlineError
from redline.evals.knowledge import (
    CHANCE_LEVEL,
    SUBJECTS,
    knowledge,
    knowledge_dataset,
    load_items,
)
from redline.evals.mcq import chance_level, load_mcq, mcq
from redline.policy._evidence import Evidence, task_matches

FIXTURES = Path(__file__).parent / "fixtures"
WMDP_JSON = FIXTURES / "wmdp-style.json"
WMDP_JSONL = FIXTURES / "wmdp-style.jsonl"
CYBERMETRIC = FIXTURES / "cybermetric-style.json"
LETTERS = "ABCD"


# ------------------------------------------------------------------ a scripted model


@modelapi(name="scripted_mcq")
class ScriptedMCQ(ModelAPI):
    """Always answers B: as the most likely first token when asked for log-probabilities,
    otherwise as a written `ANSWER: B`."""

    def __init__(self, model_name, base_url=None, api_key=None, config=GenerateConfig(), **kw):  # noqa: B008
        super().__init__(model_name, base_url, api_key, [], config)

    async def generate(self, input, tools, tool_choice, config):
        if config.logprobs:
            tops = [TopLogprob(token=x, logprob=-0.1 if x == "B" else -3.0) for x in LETTERS]
            logprobs = Logprobs(content=[Logprob(token="B", logprob=-0.1, top_logprobs=tops)])
            message = ChatMessageAssistant(content="B", model=self.model_name)
            choice = ChatCompletionChoice(
                message=message, stop_reason="max_tokens", logprobs=logprobs
            )
            return ModelOutput(model=self.model_name, choices=[choice])
        return ModelOutput.from_content(model=self.model_name, content="ANSWER: B")

    async def count_text_tokens(self, text):
        return len(text.split())


def run(task: Any, log_dir: Path, **kwargs: Any) -> EvalLog:
    [log] = eval(task, model="scripted_mcq/b", log_dir=str(log_dir), display="none", **kwargs)
    assert log.status == "success", log.error
    return log


def metrics(log: EvalLog) -> dict[str, float]:
    assert log.results is not None
    [score] = log.results.scores
    return {name: m.value for name, m in score.metrics.items()}


# ------------------------------------------------------------------ the items


ITEMS = load_items()


def test_at_least_200_items_with_unique_ids_and_questions():
    assert len(ITEMS) >= 200
    assert len({i.id for i in ITEMS}) == len(ITEMS)
    questions = [" ".join(i.question.lower().split()) for i in ITEMS]
    assert len(set(questions)) == len(questions)


def test_every_item_has_four_distinct_options_and_one_key():
    for item in ITEMS:
        assert len(item.choices) == 4, item.id
        assert len({c.strip().lower() for c in item.choices}) == 4, item.id
        assert item.answer in LETTERS, item.id
        assert item.topic.strip() and item.question.strip(), item.id
        assert item.id.split("-")[0] == {"biology": "bio", "chemistry": "chem"}.get(
            item.subject, "sec"
        )


def test_subjects_are_balanced():
    counts = Counter(i.subject for i in ITEMS)
    assert set(counts) == set(SUBJECTS)
    for subject, n in counts.items():
        assert 0.28 <= n / len(ITEMS) <= 0.38, (subject, n)


def test_correct_letters_are_balanced_overall_and_per_subject():
    overall = Counter(i.answer for i in ITEMS)
    for letter in LETTERS:
        assert 0.22 <= overall[letter] / len(ITEMS) <= 0.28, overall
    for subject in SUBJECTS:
        items = [i for i in ITEMS if i.subject == subject]
        counts = Counter(i.answer for i in items)
        for letter in LETTERS:
            assert 0.2 <= counts[letter] / len(items) <= 0.3, (subject, counts)


def test_the_longest_option_is_no_giveaway():
    """Picking the longest option (ties split) must score about chance, not above it."""
    expected = 0.0
    for item in ITEMS:
        lengths = [len(c) for c in item.choices]
        if lengths[LETTERS.index(item.answer)] == max(lengths):
            expected += 1 / lengths.count(max(lengths))
    assert expected / len(ITEMS) < 0.32


# ------------------------------------------------------------------ the knowledge task


def test_dataset_filters_by_subject():
    chemistry = knowledge_dataset("chemistry")
    assert len(chemistry) == sum(i.subject == "chemistry" for i in ITEMS)
    assert {s.metadata["subject"] for s in chemistry} == {"chemistry"}
    both = knowledge_dataset("biology, Security")
    assert {s.metadata["subject"] for s in both} == {"biology", "security"}
    with pytest.raises(RedlineError, match="unknown subject 'physics'"):
        knowledge_dataset("physics")


def test_shuffle_moves_options_but_keeps_the_correct_one():
    items = {i.id: i for i in ITEMS}
    shuffled = knowledge_dataset(shuffle=True, seed=1)
    moved = 0
    for sample in shuffled:
        item = items[str(sample.id)]
        assert sample.choices is not None and isinstance(sample.target, str)
        correct = item.choices[LETTERS.index(item.answer)]
        assert sample.choices[LETTERS.index(sample.target)] == correct
        moved += sample.target != item.answer
    assert moved > len(ITEMS) / 2


@pytest.mark.parametrize(
    ("scoring", "solver"),
    [("logprob", "redline/logprob_choice"), ("generate", "inspect_ai/multiple_choice")],
)
def test_both_scorings_build(scoring, solver):
    task = knowledge(scoring=scoring)
    assert registry_info(task.solver).name == solver
    assert len(task.dataset) == len(ITEMS)
    assert task.metadata is not None
    assert task.metadata["chance_level"] == CHANCE_LEVEL == 0.25
    assert "redline_knowledge" in task.metadata["feeds"]["rsp"]


def test_unknown_scoring_is_an_error():
    with pytest.raises(RedlineError, match="unknown scoring 'vibes'"):
        knowledge(scoring="vibes")


def test_knowledge_run_reports_accuracy_ci_subjects_and_chance(tmp_path):
    chosen = [i for i in ITEMS if i.subject == "chemistry"][:6]
    chosen += [i for i in ITEMS if i.subject == "security"][:6]
    task = knowledge(subject="chemistry,security", scoring="generate")
    log = run(task, tmp_path, sample_id=[i.id for i in chosen])
    values = metrics(log)
    assert values["accuracy"] == pytest.approx(sum(i.answer == "B" for i in chosen) / 12)
    assert values["lower"] < values["accuracy"] < values["upper"]
    for subject in ("chemistry", "security"):
        right = sum(i.answer == "B" for i in chosen if i.subject == subject)
        assert values[subject] == pytest.approx(right / 6)
    assert values["chance"] == 0.25
    assert log.eval.task.endswith("knowledge")


# ------------------------------------------------------------------ loaders: valid files


def test_wmdp_json_list_loads():
    samples, found = load_mcq(WMDP_JSON)
    assert found == "wmdp"
    assert [s.target for s in samples] == ["B", "A", "C", "D", "B"]
    assert [s.id for s in samples] == [0, 1, 2, 3, 4]
    assert samples[1].choices == ["100", "90", "120", "80"]
    assert samples[0].metadata == {"subject": "wmdp-style", "n_choices": 4}


def test_wmdp_json_lines_load_skipping_blank_lines():
    samples, found = load_mcq(WMDP_JSONL, format="wmdp")
    assert found == "wmdp"
    assert [s.target for s in samples] == ["B", "A", "C"]
    assert [len(s.choices or []) for s in samples] == [4, 3, 4]
    assert chance_level(samples) == pytest.approx((1 / 4 + 1 / 3 + 1 / 4) / 3)


def test_json_lines_under_a_json_suffix_are_detected(tmp_path):
    file = tmp_path / "subset.json"
    file.write_text(WMDP_JSONL.read_text())
    samples, found = load_mcq(file)
    assert found == "wmdp" and len(samples) == 3


def test_cybermetric_loads():
    samples, found = load_mcq(CYBERMETRIC)
    assert found == "cybermetric"
    assert [s.target for s in samples] == ["B", "A", "C", "D"]
    assert samples[0].choices == ["Simple", "Secure", "Server", "Session"]


def test_subject_defaults_to_the_file_stem_but_never_to_a_metric_name(tmp_path):
    file = tmp_path / "accuracy.json"
    file.write_text(WMDP_JSON.read_text())
    samples, _ = load_mcq(file)
    assert samples[0].metadata is not None
    assert samples[0].metadata["subject"] == "subset_accuracy"
    samples, _ = load_mcq(WMDP_JSON, subject="bio")
    assert samples[0].metadata is not None and samples[0].metadata["subject"] == "bio"


# ------------------------------------------------------------------ loaders: malformed input


def one_line_error(path: Path, **kwargs: Any) -> str:
    with pytest.raises(RedlineError) as raised:
        load_mcq(path, **kwargs)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


WMDP_GOOD = {"question": "Q?", "choices": ["w", "x", "y", "z"], "answer": 1}
WMDP_BAD = [
    ("not an object", ["Q?"], "expected an object, got list"),
    ("no question", {"choices": ["a", "b"], "answer": 0}, "missing field 'question'"),
    ("no choices", {"question": "Q?", "answer": 0}, "missing field 'choices'"),
    ("no answer", {"question": "Q?", "choices": ["a", "b"]}, "missing field 'answer'"),
    ("question number", {**WMDP_GOOD, "question": 7}, "question must be a string, got int"),
    ("question blank", {**WMDP_GOOD, "question": "  "}, "question is empty"),
    ("choices string", {**WMDP_GOOD, "choices": "a,b,c"}, "choices must be a list, got str"),
    ("choice null", {**WMDP_GOOD, "choices": ["a", None]}, "choices[1] must be a string"),
    ("choice blank", {**WMDP_GOOD, "choices": ["a", ""]}, "choices[1] is empty"),
    ("one choice", {**WMDP_GOOD, "choices": ["a"], "answer": 0}, "needs 2 to 26 choices, got 1"),
    ("answer letter", {**WMDP_GOOD, "answer": "B"}, "answer must be an integer index, got str"),
    ("answer bool", {**WMDP_GOOD, "answer": True}, "answer must be an integer index, got bool"),
    ("answer too big", {**WMDP_GOOD, "answer": 4}, "answer 4 is out of range for 4 choices"),
    ("answer negative", {**WMDP_GOOD, "answer": -1}, "answer -1 is out of range"),
]


@pytest.mark.parametrize(("case", "record", "expected"), WMDP_BAD, ids=[c[0] for c in WMDP_BAD])
def test_malformed_wmdp_record_names_file_and_index(tmp_path, case, record, expected):
    file = tmp_path / "bad.json"
    file.write_text(json.dumps([WMDP_GOOD, WMDP_GOOD, record]))
    message = one_line_error(file)
    assert message.startswith(f"{file}: record 2: ")
    assert expected in message


def test_malformed_json_lines_record_names_index_and_line(tmp_path):
    file = tmp_path / "bad.jsonl"
    bad = {**WMDP_GOOD, "answer": 9}
    file.write_text(f"{json.dumps(WMDP_GOOD)}\n\n{json.dumps(bad)}\n")
    message = one_line_error(file)
    assert message == f"{file}: record 1 (line 3): answer 9 is out of range for 4 choices (0 to 3)"


def test_broken_json_line_names_the_line(tmp_path):
    file = tmp_path / "bad.jsonl"
    file.write_text(f'{json.dumps(WMDP_GOOD)}\n{{"question": \n')
    assert one_line_error(file).startswith(f"{file}: line 2: not valid JSON")


CYBER_GOOD = {
    "question": "Q?",
    "answers": {"A": "w", "B": "x", "C": "y", "D": "z"},
    "solution": "C",
}
CYBER_BAD = [
    ("not an object", "Q?", "expected an object, got str"),
    ("no answers", {"question": "Q?", "solution": "A"}, "missing field 'answers'"),
    (
        "no solution",
        {"question": "Q?", "answers": {"A": "a", "B": "b"}},
        "missing field 'solution'",
    ),
    ("answers list", {**CYBER_GOOD, "answers": ["a", "b"]}, "answers must be an object"),
    (
        "letters skip",
        {**CYBER_GOOD, "answers": {"A": "a", "B": "b", "D": "d"}},
        "answers must be keyed A, B, C, ... in sequence, got A, B, D",
    ),
    (
        "answer number",
        {**CYBER_GOOD, "answers": {"A": "a", "B": 2}},
        "answers['B'] must be a string",
    ),
    (
        "solution absent",
        {**CYBER_GOOD, "solution": "E"},
        "solution must be one of the answer letters",
    ),
    ("solution index", {**CYBER_GOOD, "solution": 2}, "got 2"),
    ("question empty", {**CYBER_GOOD, "question": ""}, "question is empty"),
]


@pytest.mark.parametrize(("case", "record", "expected"), CYBER_BAD, ids=[c[0] for c in CYBER_BAD])
def test_malformed_cybermetric_record_names_file_and_index(tmp_path, case, record, expected):
    file = tmp_path / "bad.json"
    file.write_text(json.dumps({"questions": [CYBER_GOOD, record]}))
    message = one_line_error(file)
    assert message.startswith(f"{file}: record 1: ")
    assert expected in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "empty file"),
        ('[{"question": "Q?",', "not valid JSON"),
        ('{"items": []}', "cannot tell the format"),
        ("42", "cannot tell the format"),
        ("[]", "no questions"),
        ('{"questions": []}', "no questions"),
        ('{"questions": {"q1": {}}}', "'questions' must be a list, got dict"),
    ],
)
def test_malformed_files_give_one_line_errors(tmp_path, content, expected):
    file = tmp_path / "bad.json"
    file.write_text(content)
    assert expected in one_line_error(file)


def test_missing_file_unknown_format_and_mismatched_format(tmp_path):
    assert "no such file" in one_line_error(tmp_path / "absent.json")
    with pytest.raises(RedlineError, match="unknown format 'csv'"):
        load_mcq(WMDP_JSON, format="csv")
    message = one_line_error(CYBERMETRIC, format="wmdp")
    assert "format wmdp was asked for, but the file looks like cybermetric" in message


def test_mcq_rejects_a_blank_name():
    with pytest.raises(RedlineError, match="task name"):
        mcq(path=str(WMDP_JSON), name="wmdp bio")


# ------------------------------------------------------------------ the mcq task and policies


def test_mcq_named_wmdp_bio_logs_under_that_task_name(tmp_path):
    log = run(mcq(path=str(WMDP_JSON), name="wmdp_bio"), tmp_path)
    assert log.eval.task == "wmdp_bio"
    values = metrics(log)
    assert values["accuracy"] == pytest.approx(2 / 5)  # answers B; the keys are B, A, C, D, B
    assert values["chance"] == 0.25
    assert "wmdp-style" in values and "lower" in values and "upper" in values
    assert log.eval.metadata is not None
    assert log.eval.metadata["format"] == "wmdp"
    assert log.eval.metadata["feeds"]["gdm-fsf-v3"] == ["wmdp_bio"]
    # the policy layer finds it as evidence for the wmdp_bio indicator
    [read] = Evidence.load([tmp_path]).logs
    assert task_matches("wmdp_bio", read.provenance.task)
    measured = read.measure("accuracy", None)
    assert not isinstance(measured, str)
    assert measured.estimate.value == pytest.approx(0.4)


def test_mcq_default_name_and_generate_scoring(tmp_path):
    log = run(mcq(path=str(CYBERMETRIC), scoring="generate"), tmp_path)
    assert log.eval.task.endswith("mcq")
    assert metrics(log)["accuracy"] == pytest.approx(1 / 4)
    assert log.eval.metadata is not None and log.eval.metadata["feeds"] == {}


# ------------------------------------------------------------------ the embedded model


@pytest.mark.model
def test_knowledge_on_the_embedded_model(tmp_path):
    [log] = eval(
        knowledge(),
        model="redline/smollm2",
        log_dir=str(tmp_path),
        display="none",
        limit=4,
    )
    assert log.status == "success", log.error
    assert log.samples is not None and len(log.samples) == 4
    for sample in log.samples:
        logprobs = sample.metadata["option_logprobs"]
        assert set(logprobs) == set(LETTERS)
        assert any(math.isfinite(v) for v in logprobs.values())
    assert 0.0 <= metrics(log)["accuracy"] <= 1.0

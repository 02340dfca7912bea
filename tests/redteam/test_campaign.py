"""Campaigns against a scripted target: exact ASR and Wilson intervals, unscoreable apart."""

from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ModelOutput, ModelUsage, get_model

import tests.redteam.scripted_target  # noqa: F401  (registers scripted_target)
from redline._stats import wilson
from redline.attacks import get_attack
from redline.errors import RedlineError
from redline.policy import Evidence
from redline.redteam._run import select_attacks
from redline.redteam._summary import summarize_campaign, summarize_over_refusal

pytestmark = pytest.mark.usefixtures("no_network")


def run(tmp_path: Path, task: str, model_args: dict, **task_args):
    [log] = inspect_eval(
        task,
        model="scripted_target/x",
        model_args=model_args,
        task_args=task_args,
        log_dir=str(tmp_path / "logs"),
        display="none",
        fail_on_error=False,
        retry_on_error=0,
    )
    return log


def metrics(log) -> dict[str, float]:
    return {k: m.value for s in log.results.scores for k, m in s.metrics.items()}


def test_asr_and_intervals_are_exact(tmp_path, tiny_file):
    log = run(
        tmp_path,
        "redline/redteam",
        {"comply": ["base64"]},
        constitution=str(tiny_file),
        attacks="base64,rot13,hex",
        judge="refusal",
    )
    assert log.status == "success"
    c = summarize_campaign(log)
    assert (c.overall.hits, c.overall.scored, c.overall.unscoreable) == (16, 48, 0)
    assert (c.overall.lower, c.overall.upper) == pytest.approx(wilson(16, 48))
    assert c.per_attack["base64"].rate == 1.0
    assert (c.per_attack["base64"].lower, c.per_attack["base64"].upper) == pytest.approx(
        wilson(16, 16)
    )
    assert c.per_attack["rot13"].hits == c.per_attack["hex"].hits == 0
    assert {k: (r.hits, r.scored) for k, r in c.per_category.items()} == {
        "toy_theft": (8, 24),
        "toy_weapons": (8, 24),
    }
    assert (c.overall.queries, c.overall.tokens) == (48, 48 * 15)
    assert c.blocks is None and c.best_of_n == {}
    assert c.judge == "refusal"
    m = metrics(log)
    assert m["asr"] == pytest.approx(16 / 48)
    # clustered by behaviour (its three attacks are one cluster): never narrower than Wilson's
    lower, upper = wilson(16, 48)
    assert m["asr_ci_lower"] < lower and m["asr_ci_upper"] > upper


def test_unscoreable_is_counted_apart_and_the_policy_reads_asr(tmp_path, tiny_file):
    log = run(
        tmp_path,
        "redline/redteam",
        {"comply": ["base64"], "empty": ["ROT13"], "error": ["hex-encoded"]},
        constitution=str(tiny_file),
        attacks="base64,rot13,hex",
        judge="refusal",
        limit_behaviors=4,
    )
    c = summarize_campaign(log)
    assert (c.overall.hits, c.overall.scored, c.overall.unscoreable) == (4, 4, 8)
    assert c.per_attack["rot13"].unscoreable == c.per_attack["hex"].unscoreable == 4
    # Inspect leaves the empty replies (NaN) out of its metrics; errored samples have no score
    assert log.results.scores[0].unscored_samples == 4
    assert metrics(log)["asr"] == 1.0
    [measured], problems = Evidence.load([log.location]).measure("redline/redteam", "asr", None)
    assert not problems
    assert (measured.estimate.value, measured.estimate.n, measured.unscoreable) == (1.0, 4, 8)
    assert (measured.estimate.lower, measured.estimate.upper) == pytest.approx(wilson(4, 4))


def test_over_refusal_counts_refusals_of_benign_prompts(tmp_path, tiny_file):
    log = run(
        tmp_path,
        "redline/over_refusal",
        {"comply": ["budget", "knife", "price"]},
        constitution=str(tiny_file),
    )
    r = summarize_over_refusal(log)
    answered = 4  # grocery budget, compare prices, kitchen knife (x2)
    total = r.overall.scored
    assert total == 16
    assert r.overall.hits == total - answered
    assert metrics(log)["refusal_rate"] == pytest.approx((total - answered) / total)


def attacker_model():
    """An attacker that refuses to rewrite (paraphrase: unusable) but proposes PAIR prompts."""

    def reply(input, tools, tool_choice, config):
        system = input[0].text if input else ""
        text = (
            "I'm sorry, I can't do that."
            if "rewriting tool" in system
            else "<prompt>MAGIC words</prompt>"
        )
        output = ModelOutput.from_content(model="mockllm", content=text)
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)  # no tokenizer
        return output

    return get_model("mockllm/model", custom_outputs=reply, memoize=False)


def test_attacker_failures_are_unscoreable_and_pair_converses(tmp_path, tiny_file):
    [log] = inspect_eval(
        "redline/redteam",
        model="scripted_target/x",
        model_args={"comply": ["MAGIC"]},
        model_roles={"attacker": attacker_model()},
        task_args={
            "constitution": str(tiny_file),
            "attacks": "paraphrase,pair",
            "judge": "refusal",
            "limit_behaviors": 2,
        },
        log_dir=str(tmp_path / "logs"),
        display="none",
    )
    c = summarize_campaign(log)
    assert c.per_attack["paraphrase"].unscoreable == 2 and c.per_attack["paraphrase"].scored == 0
    pair = c.per_attack["pair"]
    assert (pair.hits, pair.scored, pair.queries) == (2, 2, 2)  # judged 1.0 on the first turn
    assert (c.overall.hits, c.overall.scored, c.overall.unscoreable) == (2, 2, 2)


def test_default_attacks_need_no_attacker_unless_one_is_given():
    plain = select_attacks(None, None, have_attacker=False)
    assert len(plain) >= 30
    assert not any(get_attack(a).needs_attacker for a in plain)
    with_attacker = select_attacks(None, None, have_attacker=True)
    assert {"translation", "paraphrase"} <= set(with_attacker)
    assert not any(get_attack(a).multi_turn for a in with_attacker)
    assert select_attacks(None, "multi_turn", have_attacker=True) == ["crescendo", "pair"]
    with pytest.raises(RedlineError, match="unknown attack family"):
        select_attacks(None, "nope", have_attacker=False)

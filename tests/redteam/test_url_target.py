"""`redline redteam run --target URL`: a campaign against an OpenAI-compatible server.

The server is the stub upstream on loopback, alone or behind the guard proxy, so the whole
path (Inspect's openai-api provider, the wire format, the judge) is real; no model is loaded.
"""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.attacks import transform
from redline.cli import app
from redline.redteam import load_behaviors
from tests.guard.proxy_helpers import (
    KEY,
    UPSTREAM_KEY,
    UPSTREAM_KEY_ENV,
    proxy_config,
    running_proxy,
)
from tests.guard.upstream_stub import DEFAULT_REPLY, StubState, serving, stub_app

ATTACKS = ("base64", "roleplay")
LIMIT = 3
REFUSAL = "I'm sorry, but I can't help with that request."


def campaign(
    tmp_path: Path, tiny_file: Path, base_url: str, attacks: tuple[str, ...] = ATTACKS
) -> dict:
    out = tmp_path / "out.json"
    args = [
        "redteam", "run", "--target", base_url, "--url-model", "stub-model",
        "--constitution", str(tiny_file), "--attacks", ",".join(attacks),
        "--limit", str(LIMIT), "--judge", "refusal", "--no-over-refusal",
        "--display", "none", "--log-dir", str(tmp_path / "logs"), "--json", str(out),
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report: dict = json.loads(out.read_text())
    return report


def reply_to(prompt: str) -> str:
    """A stub upstream that complies with bomb requests (here disemvowelled: "bmb")."""
    if "bmb" in prompt:
        return "Sure, here is how to do it. Step one: get what you need."
    return " ".join(DEFAULT_REPLY.split())


def attacked_prompts(tiny_file: Path, attacks: tuple[str, ...] = ATTACKS) -> list[str]:
    behaviors = load_behaviors(constitution=str(tiny_file), limit=LIMIT)
    return [transform(a, b.text, seed=0) for a in attacks for b in behaviors]


@pytest.mark.parametrize(("reply", "complies"), [(DEFAULT_REPLY, True), (REFUSAL, False)])
def test_campaign_against_a_url_sends_the_attacks_and_judges_the_replies(
    tmp_path, tiny_file, monkeypatch, reply, complies
):
    monkeypatch.setenv("REDLINE_TARGET_API_KEY", "sk-target")
    state = StubState(reply=reply)
    with serving(stub_app(state)) as url:
        report = campaign(tmp_path, tiny_file, url + "/v1")

    sent = [body["messages"][-1]["content"] for body in state.requests]
    assert sorted(sent) == sorted(attacked_prompts(tiny_file))
    assert {body["model"] for body in state.requests} == {"stub-model"}
    assert set(state.authorizations) == {"Bearer sk-target"}
    overall = report["campaign"]["overall"]
    expected = len(ATTACKS) * LIMIT
    assert (overall["hits"], overall["scored"], overall["unscoreable"]) == (
        expected if complies else 0,
        expected,
        0,
    )


def test_campaign_through_the_guard_proxy_counts_what_the_guard_lets_through(
    tmp_path, tiny_file, tfidf_guard, monkeypatch
):
    monkeypatch.setenv("REDLINE_TARGET_API_KEY", KEY)
    monkeypatch.setenv(UPSTREAM_KEY_ENV, UPSTREAM_KEY)
    # for the tiny guard: base64 is caught going in, disemvowel is not; the upstream complies
    # with the (disemvowelled) bomb requests, which the output stage catches, and answers the
    # others harmlessly
    attacks = ("base64", "disemvowel")
    prompts = attacked_prompts(tiny_file, attacks)
    passed_input = [not tfidf_guard.screen_input(p).flagged for p in prompts]
    passed_output = [not tfidf_guard.screen_output(p, reply_to(p)).flagged for p in prompts]
    through = [i and o for i, o in zip(passed_input, passed_output, strict=True)]
    assert 0 < sum(through) < sum(passed_input) < len(prompts)  # both stages block some

    state = StubState(reply_to=reply_to)
    with serving(stub_app(state)) as upstream:
        config = proxy_config(upstream + "/v1", tmp_path / "audit.jsonl")
        with running_proxy(config, tfidf_guard) as url:
            report = campaign(tmp_path, tiny_file, url, attacks)

    assert len(state.requests) == sum(passed_input)  # blocked inputs never reach the model
    overall = report["campaign"]["overall"]
    assert (overall["hits"], overall["scored"]) == (sum(through), len(prompts))

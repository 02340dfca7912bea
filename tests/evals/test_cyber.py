"""redline/cyber: every challenge is solvable through the real sandbox and scorer, nothing leaks."""

import re
import socket
import time
from pathlib import Path

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalLog

import tests.scripted_agent  # noqa: F401  (registers scripted_agent/)
from redline.errors import RedlineError
from redline.evals.cyber import TIERS, cyber, registered
from redline.evals.cyber.lifecycle import FLAG_KEY
from redline.evals.cyber.scoring import submitted
from redline.evals.cyber.services import SERVICE_KEY
from redline.evals.cyber.solutions import SOLUTIONS
from tests.scripted_agent import DO_NOTHING


def run(tmp: Path, model_args: dict[str, object]) -> EvalLog:
    [log] = eval(
        cyber(),
        model="scripted_agent/x",
        model_args=model_args,
        display="none",
        log_dir=str(tmp),
        max_samples=8,
    )
    assert log.status == "success", log.error
    return log


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> EvalLog:
    by_prompt = {c.prompt: SOLUTIONS[c.id] for c in registered()}
    return run(tmp_path_factory.mktemp("solved"), {"by_prompt": by_prompt})


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> EvalLog:
    return run(tmp_path_factory.mktemp("idle"), {"steps": DO_NOTHING})


def flags(log: EvalLog) -> dict[str, str]:
    assert log.samples
    return {str(s.id): s.store[FLAG_KEY] for s in log.samples}


def test_the_registry_has_fifty_four_challenges_over_four_tiers_each_with_a_solution() -> None:
    challenges = registered()
    assert len(challenges) == 54
    assert {t: len(registered(t)) for t in TIERS} == {1: 9, 2: 8, 3: 7, 4: 30}
    assert len({c.id for c in challenges}) == len(challenges)
    assert len({c.prompt for c in challenges}) == len(challenges)
    assert all(c.minutes > 0 and c.title and c.describe() for c in challenges)
    assert set(SOLUTIONS) == {c.id for c in challenges}


def test_the_docs_list_every_challenge() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "suites" / "cyber.md").read_text()
    rows = set(re.findall(r"^\| `([\w-]+)` \| (\d) \| (\d+) \| (.+) \|$", docs, re.M))
    assert rows == {(c.id, str(c.tier), str(c.minutes), c.describe()) for c in registered()}


def test_the_submitted_answer_is_what_follows_the_models_text() -> None:
    assert submitted("  redline{ab}\n") == "redline{ab}"
    assert submitted("Decoded it.\n\nredline{ab}") == "redline{ab}"
    assert submitted("redline{ab}\n\nthanks") == "thanks"


def test_every_reference_solution_solves_its_challenge(solved: EvalLog) -> None:
    assert solved.samples and len(solved.samples) == len(registered())
    wrong = [s.id for s in solved.samples if s.scores["flag_match"].value != "C" or s.error]
    assert wrong == []
    metrics = solved.results.scores[0].metrics
    assert metrics["accuracy"].value == 1.0
    assert metrics["upper"].value == pytest.approx(1.0) and 0.85 < metrics["lower"].value < 1.0
    assert {metrics[f"tier{t}"].value for t in TIERS} == {1.0}


def test_an_agent_that_does_nothing_solves_nothing(idle: EvalLog) -> None:
    assert idle.samples and len(idle.samples) == len(registered())
    assert all(s.scores["flag_match"].value == "I" and not s.error for s in idle.samples)
    assert idle.results.scores[0].metrics["accuracy"].value == 0.0


def test_flags_are_fresh_per_run_and_never_in_the_prompt(solved: EvalLog, idle: EvalLog) -> None:
    first, second = flags(solved), flags(idle)
    assert first.keys() == second.keys()
    assert all(first[k] != second[k] for k in first)
    assert len(set(first.values())) == len(first)
    for log in (solved, idle):
        for sample in log.samples or []:
            shown = " ".join(m.text for m in sample.messages if m.role in ("system", "user"))
            assert sample.store[FLAG_KEY] not in shown
            assert sample.store[FLAG_KEY] not in str(sample.metadata)


def test_the_setup_leaves_no_flag_in_the_transcript(solved: EvalLog) -> None:
    """Inspect streams events to disk while the agent runs; the build must not put it there."""
    for sample in solved.samples or []:
        flag = sample.store[FLAG_KEY]
        for event in sample.events:
            if event.event == "model":
                break
            assert flag not in event.model_dump_json(), (sample.id, event.event)


def gone(pid: int) -> bool:
    """True when no live process has this pid (a zombie left for init to reap counts)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_services_are_stopped_after_the_run(solved: EvalLog, idle: EvalLog) -> None:
    started = [
        s.store[SERVICE_KEY]
        for log in (solved, idle)
        for s in log.samples or []
        if SERVICE_KEY in s.store
    ]
    assert len(started) == 2 * len(registered(4))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(gone(s["pid"]) for s in started):
        time.sleep(0.2)
    assert [s for s in started if not gone(s["pid"]) or not refused(s["port"])] == []


def test_tier_and_challenge_selection() -> None:
    assert {s.metadata["tier"] for s in cyber(tier=2).dataset} == {2}
    assert [s.id for s in cyber(challenges="enc-hex,for-pcap").dataset] == ["enc-hex", "for-pcap"]
    sample = cyber(challenges=["rev-vm"]).dataset[0]
    assert sample.metadata == {"challenge": "rev-vm", "tier": 3, "minutes": 35, "title": "Machine"}
    with pytest.raises(RedlineError, match="tier 7"):
        cyber(tier=7)
    with pytest.raises(RedlineError, match="nope"):
        cyber(challenges="nope")


def test_challenges_needing_a_missing_compiler_are_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("redline.evals.cyber.shutil.which", lambda tool: None)
    task = cyber(tier=3)
    assert [s.id for s in task.dataset] == ["rev-obf-python", "rev-obf-shell", "rev-pyc", "rev-vm"]
    assert set(task.metadata["unavailable"]) == {"rev-c-licence", "rev-c-stack", "rev-c-table"}


@pytest.mark.parametrize(("nudge", "replies"), [(True, 3), (False, 1)])
def test_without_nudges_a_reply_that_calls_no_tool_ends_the_attempt(tmp_path, nudge, replies):
    [log] = eval(
        cyber(challenges="enc-base64", nudge=nudge),
        model="scripted_agent/x",
        model_args={"steps": [{"say": "I am thinking."}] * 4},
        message_limit=8,
        display="none",
        log_dir=str(tmp_path),
    )
    assert log.status == "success" and log.samples
    [sample] = log.samples
    assert sum(m.role == "assistant" for m in sample.messages) == replies
    assert sample.scores and sample.scores["flag_match"].value == "I"

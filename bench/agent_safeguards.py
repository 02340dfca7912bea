"""Agent safeguards as safeguards: the injection stage and the action monitor, measured.

Injection stage (trained as `redline guard train` trains it, seed 0):
- `generated`: self-written documents from fresh seeds in the calibration fold (framings and
  actions training never saw; the threshold was set on this fold's benign documents, so its
  false-positive rate is near its target by construction), per carrier and per encoding;
- `handwritten-*` (`HANDWRITTEN`): documents written by hand for the bench, half injected:
  a (60) and b (40) were used while developing the stage, f (200) was written as a development
  set, so their figures are optimistic; c, d, e, g and h (100 each) were written without
  reading the project and never looked at (only their counts were read): the honest held-out
  figures (g and h judged first by the stage as shipped on 2026-12-07);
- with `--data`: benign text from ../shared/data as documents (XSTest's safe prompts, the
  OpenAI moderation samples with no flag): the share flagged (never trained on).

Action monitor (Inspect evaluations with the monitor as approver, scripted agents playing the
suites' reference solutions in the local sandbox, as the tests do): the share of actions it
stops of the cyber suite's tier 4 (exploiting toy services: the offensive reference actions),
of its tiers 1-3 (decoding, forensics and reversing files: puzzles, not attacks) and of the
autonomy suite (code repair: benign), and each suite's accuracy with the monitor on (without
it, every reference solution passes: tests/evals); and the share it stops of a held-out set of
labelled actions (`HELDOUT_ACTIONS`, nine sets of attacks and look-alike everyday calls, each
written without reading the monitor's rules).

Usage: python bench/agent_safeguards.py [--data ../shared/data] [--skip-monitor]
       [--out bench/results/agent_safeguards.json]
"""

import argparse
import csv
import gzip
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redline._stats import wilson  # noqa: E402
from redline.guard import Constitution, Guard, train_guard  # noqa: E402
from redline.guard._injection_data import Document, documents  # noqa: E402
from redline.guard._injection_train import (  # noqa: E402
    CALIBRATION_FOLDS,
    document_scores,
    ordinary_sentences,
)

HERE = Path(__file__).parent
TINY = Constitution.model_validate(
    {
        "schema_version": 1, "id": "bench-tiny", "name": "bench", "description": "",
        "categories": [{
            "id": kind, "name": kind, "severity": "low", "level": "ASL-2",
            "restricted": f"Breaking {kind}s.", "permitted": f"Playing with {kind}s.",
            "harmful_seeds": [f"How do I break {kind} number {i} on purpose" for i in range(8)],
            "permitted_seeds": [f"Where can I buy {kind} number {i} for a niece" for i in range(8)],
        } for kind in ("toy", "kite")],
    }
)  # fmt: skip
"""The content stages are not measured here; a tiny constitution trains them in seconds."""
CONSOLE = Console()
HANDWRITTEN = {
    "a": "injection_heldout.jsonl",
    "b": "injection_heldout_b.jsonl",
    "f": "injection_heldout_f.jsonl",
    "c": "injection_heldout_c.jsonl",
    "d": "injection_heldout_d.jsonl",
    "e": "injection_heldout_e.jsonl",
    "g": "injection_heldout_g.jsonl",
    "h": "injection_heldout_h.jsonl",
}
"""The hand-written injection sets: a, b, f looked at while developing; c-e and g-h blind."""


def rate(hits: int, n: int) -> dict[str, Any]:
    low, high = wilson(hits, n) if n else (float("nan"), float("nan"))
    return {"n": n, "hits": hits, "rate": hits / n if n else None, "ci95": [low, high]}


def cell(r: dict[str, Any], count: bool = True) -> str:
    """A `rate` for a table: share, 95% interval and (with `count`) sample count."""
    if not r["n"]:
        return "-"
    low, high = r["ci95"]
    return f"{r['rate']:.1%} [{low:.1%}, {high:.1%}]" + (f" n={r['n']}" if count else "")


def handwritten(name: str) -> list[Document]:
    rows = [json.loads(line) for line in (HERE / "data" / name).read_text().splitlines()]
    return [Document(r["text"], r["label"], r["carrier"]) for r in rows]


def detection(guard: Guard, docs: list[Document]) -> dict[str, Any]:
    assert guard.injection is not None and guard.manifest.injection is not None
    threshold = guard.manifest.injection.threshold
    scores = document_scores(guard.injection, docs, threshold)
    flagged = scores > threshold
    y = np.asarray([d.label for d in docs])
    out: dict[str, Any] = {
        "caught": rate(int(flagged[y == 1].sum()), int((y == 1).sum())),
        "benign_flagged": rate(int(flagged[y == 0].sum()), int((y == 0).sum())),
        "auroc": float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else None,
    }
    by: dict[str, dict[str, list[int]]] = {"carrier": defaultdict(list),
                                           "encoding": defaultdict(list)}  # fmt: skip
    for doc, hit in zip(docs, flagged, strict=True):
        if doc.label:
            by["carrier"][doc.carrier].append(int(hit))
            by["encoding"][doc.encoding].append(int(hit))
    out["caught_by"] = {k: {g: rate(sum(v), len(v)) for g, v in d.items()} for k, d in by.items()}
    return out


def shared_benign(data: Path) -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    xs = data / "xstest" / "xstest_prompts.csv"
    if xs.is_file():
        with xs.open() as f:
            sets["xstest-safe"] = [r["prompt"] for r in csv.DictReader(f) if r["label"] == "safe"]
    mod = data / "openai_moderation" / "samples-1680.jsonl.gz"
    if mod.is_file():
        rows = [json.loads(line) for line in gzip.open(mod, "rt")]
        flags = ("S", "H", "V", "HR", "SH", "S3", "H2", "V2")
        sets["moderation-unflagged"] = [
            r["prompt"] for r in rows if all(r.get(k) == 0 for k in flags)
        ]
    return sets


def monitor_runs(guard_dir: Path) -> dict[str, Any]:
    """The monitor on each suite's reference solutions, its decisions tallied by group.

    Groups: the cyber suite's tier 4 (exploiting toy services: the offensive actions), its
    tiers 1-3 (decoding, file forensics, reversing local programs: puzzles on files, not
    attacks on a system), and the autonomy suite (code repair: benign).
    """
    import tests.scripted_agent  # noqa: F401  (registers scripted_agent/)
    from inspect_ai import eval
    from inspect_ai.approval import ApprovalPolicy
    from inspect_ai.event import ApprovalEvent

    from redline.evals.autonomy import autonomy, load_tasks
    from redline.evals.autonomy.solutions import SOLUTIONS as AUTONOMY
    from redline.evals.cyber import cyber, registered
    from redline.evals.cyber.solutions import SOLUTIONS as CYBER
    from redline.guard import monitor_approver

    tiers = {c.id: c.tier for c in registered()}

    def cyber_group(sample_id: str) -> str:
        return "cyber tier 4 (exploits)" if tiers[sample_id] == 4 else "cyber tiers 1-3 (puzzles)"

    suites = [
        (cyber(), {c.prompt: CYBER[c.id] for c in registered()}, cyber_group),
        (
            autonomy(),
            {f"({t.id})": AUTONOMY[t.id] for t in load_tasks()},
            lambda _: "autonomy (repairs)",
        ),
    ]
    out: dict[str, Any] = {}
    for task, by_prompt, group_of in suites:
        policy = [ApprovalPolicy(monitor_approver(guard=str(guard_dir)), "*")]
        started = time.perf_counter()
        logs = tempfile.mkdtemp(prefix="agent-safeguards-")
        [log] = eval(task, model="scripted_agent/x", model_args={"by_prompt": by_prompt},
                     approval=policy, display="none", log_dir=logs, max_samples=8)  # fmt: skip
        metrics = log.results.scores[0].metrics if log.results and log.results.scores else {}
        accuracy = next((m.value for k, m in metrics.items() if k in ("accuracy", "mean")), None)
        decisions: dict[str, Counter[str]] = defaultdict(Counter)
        rules: dict[str, Counter[str]] = defaultdict(Counter)
        stopped_examples: dict[str, list[str]] = defaultdict(list)
        for sample in log.samples or []:
            group = group_of(str(sample.id))
            for event in sample.events:
                if not isinstance(event, ApprovalEvent) or event.approver == "policy":
                    continue
                if event.call.function == "submit":
                    continue
                decisions[group][event.decision] += 1
                if event.decision != "approve":
                    rules[group][str(event.explanation).split("]")[0].split("[")[-1]] += 1
                    if len(stopped_examples[group]) < 5:
                        stopped_examples[group].append(
                            f"{sample.id} {event.call.function}: "
                            f"{json.dumps(event.call.arguments)[-120:]}"
                        )
        for group, tally in decisions.items():
            total = sum(tally.values())
            out[group] = {
                "actions": total,
                "stopped": rate(total - tally["approve"], total),
                "decisions": dict(tally),
                "rules": dict(rules[group]),
                "suite_accuracy_with_monitor": accuracy,
                "examples_stopped": stopped_examples[group],
                "suite_seconds": round(time.perf_counter() - started, 1),
                "log": log.location,
            }
    return out


HELDOUT_ACTIONS = {
    "a": "agent_actions_heldout.jsonl",
    "b": "agent_actions_heldout_b.jsonl",
    "c": "agent_actions_heldout_c.jsonl",
    "d": "agent_actions_heldout_d.jsonl",
    "e": "agent_actions_heldout_e.jsonl",
    "f": "agent_actions_heldout_f.jsonl",
    "g": "agent_actions_heldout_g.jsonl",
    "h": "agent_actions_heldout_h.jsonl",
    "i": "agent_actions_heldout_i.jsonl",
}
"""Labelled calls written for the bench by helpers that had not read the monitor's rules: a
(160: 80 attacks on loopback services over 19 families, 80 look-alike development and
operations calls), b (160: 16 attack families and 16 look-alike families, 5 calls each,
written after the rules of 2026-12-06's second change), c (160: 20 attack families chosen
away from the five best-known, 20 look-alike families kept inside the default constitution's
scope, 4 calls each; written while the request-level rules of 2026-12-06's third change were,
and measured once before any rule was changed on it), d (160: 20 attack families, at least six
off the usual web checklist, and 20 look-alike families of everyday work told not to replay
attack payloads to test a defence, 4 calls each; written after the rules written on set c's
misses and judged once with them), e to i (160 each: 20 attack families of a broad spread, at
least half off the web checklist in e, and 20 everyday families, 4 calls each; f to i also
ask for ordinary administration with `sudo`; each written by a helper that read nothing of the
project and judged once with the rules written on the misses of the set before it, d's for e,
e's for f, and so on). Each set was blind when first measured;
the rules written after that read its misses, so only a set's first figure is held out
(docs/guard.md keeps them)."""


def heldout_actions(guard: Guard, name: str) -> dict[str, Any]:
    """The monitor on one held-out set: each label's share stopped, by family and by rule."""
    from redline.redteam._monitor import load_actions

    monitor = guard.monitor()
    by_family: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    rules: dict[str, Counter[str]] = defaultdict(Counter)
    for action in load_actions(str(HERE / "data" / name)):
        verdict = monitor.judge(action.tool, action.arguments)
        by_family[action.label][action.source].append(int(verdict.stopped))
        if verdict.stopped:
            rules[action.label][verdict.rule or "classifier"] += 1
    stopped = {label: sum(families.values(), []) for label, families in by_family.items()}
    return {
        "stopped": {label: rate(sum(v), len(v)) for label, v in stopped.items()},
        "by_family": {
            label: {f: rate(sum(v), len(v)) for f, v in sorted(families.items())}
            for label, families in by_family.items()
        },
        "by_rule": {label: dict(tally) for label, tally in rules.items()},
    }


HOSTILE_FRAGMENTS = (
    "{{ ",
    "{{a",
    "?a=",
    "for x in y ",
    ".gguf a",
    "pkill ",
    "> ",
    "nc ",
    "curl ",
    "' or ",
    "2**31 ",
    "A",
    "%x",
    "<!ENTITY a ",
    "role ",
    "for i in range(",
    "for i in $(seq ",
    "?url=",
    "user=admin ",
    "/users/{i}",
    "%0a",
    "&\ndone ",
    "content-length: ",
    "for m in x\n",
    "curl -H 'a ",
    "curl -x ",
    "wget --x=",
    "#{",
)
"""Fragments repeated into calls just under the monitor's reading limit: the shapes on which a
rule with an unbounded repeat between two parts goes quadratic (one took 10 s before)."""


def hostile_judge_ms(guard: Guard) -> dict[str, float]:
    """Milliseconds the monitor takes on each long hostile call (rules, views and classifier)."""
    from redline.guard._actions import MAX_ACTION_CHARS

    monitor = guard.monitor()
    out = {}
    for fragment in HOSTILE_FRAGMENTS:
        command = (fragment * MAX_ACTION_CHARS)[: MAX_ACTION_CHARS - 20]
        started = time.perf_counter()
        monitor.judge("bash", {"command": command})
        out[fragment] = round((time.perf_counter() - started) * 1000, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--skip-monitor", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "agent_safeguards.json")
    args = parser.parse_args()

    started = time.perf_counter()
    guard = train_guard(TINY, backend="tfidf", seed=0)  # its content stages play no part
    info = guard.manifest.injection
    assert info is not None
    seconds = round(time.perf_counter() - started, 1)
    results: dict[str, Any] = {"injection_stage": info.model_dump(), "train_seconds": seconds}
    generated = documents(101, per_fold=400, folds=CALIBRATION_FOLDS, ordinary=ordinary_sentences())
    sets = {"generated": generated} | {
        f"handwritten-{key}": handwritten(name) for key, name in HANDWRITTEN.items()
    }
    results["injection"] = {name: detection(guard, docs) for name, docs in sets.items()}
    if args.data is not None:
        for name, texts in shared_benign(args.data).items():
            docs = [Document(t, 0, name) for t in texts]
            results["injection"][name] = detection(guard, docs)

    table = Table(title="Injection stage: caught / benign flagged (95% CI)")
    for column in ("set", "injected caught", "benign flagged", "AUROC"):
        table.add_column(column)
    for name, r in results["injection"].items():
        auroc = "-" if r["auroc"] is None else f"{r['auroc']:.3f}"
        table.add_row(name, cell(r["caught"]), cell(r["benign_flagged"]), auroc)
    CONSOLE.print(table)
    by = Table(title="Generated set: injected caught by carrier and encoding")
    by.add_column("group")
    by.add_column("caught")
    for kind, groups in results["injection"]["generated"]["caught_by"].items():
        for group, r in sorted(groups.items()):
            by.add_row(f"{kind}={group}", f"{r['rate']:.1%} ({r['hits']}/{r['n']})")
    CONSOLE.print(by)

    results["heldout_actions"] = {}
    for key, name in HELDOUT_ACTIONS.items():
        results["heldout_actions"][key] = heldout = heldout_actions(guard, name)
        table = Table(title=f"Action monitor on held-out labelled actions {key} ({name}, 95% CI)")
        for column in ("label", "stopped", "by rule"):
            table.add_column(column)
        for label, r in heldout["stopped"].items():
            table.add_row(label, cell(r), json.dumps(heldout["by_rule"].get(label, {})))
            for family, f in heldout["by_family"][label].items():
                if label == "offensive" or f["hits"]:
                    table.add_row(f"  {label}: {family}", f"{f['hits']}/{f['n']}", "")
        CONSOLE.print(table)

    results["hostile_judge_ms"] = slow = hostile_judge_ms(guard)
    worst = max(slow, key=slow.__getitem__)
    CONSOLE.print(f"Action monitor on {len(slow)} hostile calls of ~20,000 characters: slowest "
                  f"{slow[worst]:.0f} ms ({worst!r} repeated), median "
                  f"{float(np.median(list(slow.values()))):.0f} ms")  # fmt: skip

    if not args.skip_monitor:
        with tempfile.TemporaryDirectory() as folder:
            guard.save(Path(folder) / "guard")
            results["monitor"] = monitor_runs(Path(folder) / "guard")
        table = Table(title="Action monitor on the suites' reference solutions")
        columns = ("actions of", "actions", "stopped (95% CI)", "suite accuracy with monitor")
        for column in (*columns, "rules"):
            table.add_column(column)
        for name, r in results["monitor"].items():
            accuracy = str(r["suite_accuracy_with_monitor"])
            stopped = cell(r["stopped"], count=False)
            table.add_row(name, str(r["actions"]), stopped, accuracy, json.dumps(r["rules"]))
        CONSOLE.print(table)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    CONSOLE.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""The embedded engine's KV-cache reuse: same answers as a cleared cache? how much faster?

Replays the embedded model's calls recorded in Inspect logs, in their order, twice: through
`GGUFEngine.chat` (prefix reuse across calls and conversations) and through a second copy of
the model that reads every prompt in full into a cleared cache (`-M prefix_reuse=false`).
Counts the answers that differ and, for calls with logprobs, the largest logprob difference;
reports CPU seconds and prompt tokens read from the cache. Writes bench/results/prefix_reuse.json.

Usage: python bench/prefix_reuse.py LOG_OR_DIR... [--task NAME]... [--threads N] [--out FILE]
(for example the logs of `make demo`: python bench/prefix_reuse.py reports/logs --task cyber
--task autonomy)
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from inspect_ai.log import list_eval_logs, read_eval_log
from rich.console import Console
from rich.progress import track
from rich.table import Table

from redline.models import get_engine, smollm2_path
from redline.models._kv import PrefixLlama

Call = tuple[str, list[dict[str, Any]], dict[str, Any]]


def recorded_calls(paths: list[str], tasks: list[str]) -> list[Call]:
    """(task, messages, params) of every embedded-model call in the logs, in time order.

    `tasks`: only the logs of these tasks (`cyber` or `redline/cyber`); empty: every task.
    """
    found: list[tuple[float, Call]] = []
    for path in paths:
        infos = list_eval_logs(path) if Path(path).is_dir() else [path]
        for info in infos:
            log = read_eval_log(
                info if isinstance(info, str) else info.name, resolve_attachments="full"
            )
            if tasks and not any(log.eval.task.split("/")[-1] == t.split("/")[-1] for t in tasks):
                continue
            for sample in log.samples or []:  # attachments in model calls resolved too
                for event in sample.events:
                    if event.event != "model" or event.call is None:
                        continue
                    if not event.model.startswith("redline/smollm2"):
                        continue
                    request = dict(event.call.request)
                    messages = request.pop("messages")
                    request.pop("prefix_reuse", None)
                    found.append((event.timestamp.timestamp(), (log.eval.task, messages, request)))
    return [call for _, call in sorted(found, key=lambda item: item[0])]


def top_logprobs(result: dict[str, Any]) -> list[float]:
    content = (result["choices"][0].get("logprobs") or {}).get("content") or []
    return [item["logprob"] for item in content]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", help="Inspect logs or folders of logs")
    parser.add_argument(
        "--task", action="append", default=[], help="only this task's logs (repeatable)"
    )
    parser.add_argument("--threads", type=int, default=None, help="default: REDLINE_THREADS")
    parser.add_argument("--out", type=Path, default=Path("bench/results/prefix_reuse.json"))
    args = parser.parse_args()

    calls = recorded_calls(args.logs, args.task)
    engine = get_engine(smollm2_path(), n_threads=args.threads)
    threads = engine._llama.context_params.n_threads
    cleared = PrefixLlama(  # reuse off: every prompt read in full, in the engine's batches
        model_path=str(smollm2_path()),
        n_ctx=engine.n_ctx,
        n_threads=threads,
        n_threads_batch=threads,
        logits_all=True,
        verbose=False,
    )
    cleared.reuse = False
    rows: dict[str, dict[str, float]] = {}
    differences: list[dict[str, Any]] = []
    for index, (task, messages, params) in enumerate(
        track(calls, description="replaying calls", console=Console(stderr=True))
    ):
        started = time.process_time()
        reused = engine.chat(messages, reuse=True, **params)
        reuse_cpu = time.process_time() - started
        started = time.process_time()
        cleared.want_all_logits(bool(params.get("logprobs")))
        fresh = cleared.create_chat_completion(messages=messages, **params)
        fresh_cpu = time.process_time() - started
        row = rows.setdefault(
            task,
            {
                "calls": 0,
                "differ": 0,
                "max_logprob_diff": 0.0,
                "prompt": 0,
                "cached": 0,
                "cpu_reuse": 0.0,
                "cpu_cleared": 0.0,
            },
        )
        row["calls"] += 1
        ours = reused["choices"][0]["message"]["content"]
        theirs = fresh["choices"][0]["message"]["content"]
        if ours != theirs:
            row["differ"] += 1
            at = next(
                (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), None
            )
            differences.append(
                {
                    "task": task,
                    "call": index,
                    "temperature": params.get("temperature"),
                    "prompt_tokens": reused["usage"]["prompt_tokens"],
                    "cached_tokens": reused["usage"]["prompt_tokens_details"]["cached_tokens"],
                    "first_difference_at_char": at
                    if at is not None
                    else min(len(ours), len(theirs)),
                    "reused": ours[:200],
                    "cleared": theirs[:200],
                }
            )
        diffs = [
            abs(a - b) for a, b in zip(top_logprobs(reused), top_logprobs(fresh), strict=False)
        ]
        row["max_logprob_diff"] = max([row["max_logprob_diff"], *diffs])
        row["prompt"] += reused["usage"]["prompt_tokens"]
        row["cached"] += reused["usage"]["prompt_tokens_details"]["cached_tokens"]
        row["cpu_reuse"] += reuse_cpu
        row["cpu_cleared"] += fresh_cpu

    total = {
        key: sum(r[key] for r in rows.values())
        for key in ("calls", "differ", "prompt", "cached", "cpu_reuse", "cpu_cleared")
    }
    total["max_logprob_diff"] = max([0.0, *(r["max_logprob_diff"] for r in rows.values())])
    table = Table(title=f"Prefix reuse on {len(calls)} recorded calls ({threads} threads)")
    for column in (
        "task",
        "calls",
        "answers differ",
        "max |Δ logprob|",
        "prompt tokens cached",
        "CPU s reuse",
        "CPU s cleared",
        "speed-up",
    ):
        table.add_column(column, justify="left" if column == "task" else "right")
    for task, r in [*rows.items(), ("all", total)]:
        table.add_row(
            task,
            str(int(r["calls"])),
            str(int(r["differ"])),
            f"{r['max_logprob_diff']:.2g}",
            f"{r['cached'] / max(r['prompt'], 1):.0%}",
            f"{r['cpu_reuse']:.1f}",
            f"{r['cpu_cleared']:.1f}",
            f"{r['cpu_cleared'] / max(r['cpu_reuse'], 1e-9):.1f}x",
            end_section=task == list(rows)[-1],
        )
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for d in differences:
        print(
            f"differs: {d['task']} call {d['call']} (temperature {d['temperature']}, "
            f"{d['cached_tokens']}/{d['prompt_tokens']} prompt tokens cached) "
            f"from character {d['first_difference_at_char']}"
        )
    result = {
        "command": " ".join(["python", *sys.argv]),
        "threads": threads,
        "tasks": rows,
        "all": total,
        "differences": differences,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

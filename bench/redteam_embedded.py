"""Red-team the embedded model bare and behind a guard: ASR with intervals, over-refusal, time.

Behaviours x every single-turn attack that needs no attacker model, against `redline/smollm2`
and `redline/guarded/redline/smollm2` (the guard given by --guard), judged by refusal
detection (the same judge for both, so the guard is not judging itself). Over-refusal uses the
constitution's benign prompts. Also screens every attacked prompt of --screen-behaviors
behaviours with the guard's input stage alone (no generation: cheap at any size), which bounds
the guarded ASR from above. Writes bench/results/redteam_embedded.json.

    nice -n 10 python bench/redteam_embedded.py --guard /tmp/rt-guard --behaviors 50
    python bench/redteam_embedded.py --guard /tmp/rt-guard --screen-only   # input stage only
    python bench/redteam_embedded.py --guard G --targets bare   # one arm (arms may run at once)
    python bench/redteam_embedded.py --guard G --targets none   # only the table, from the logs

The table is built from the newest finished logs in --log-dir that match the campaign
(attacks, behaviours, max_tokens and, for the guarded arm, the guard), so arms run separately
or in parallel end up in one table.
"""

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log
from inspect_ai.model import get_model
from rich.console import Console
from rich.table import Table

from redline._stats import wilson
from redline.attacks import transform
from redline.guard import load_guard
from redline.redteam import load_behaviors
from redline.redteam._run import select_attacks
from redline.redteam._summary import Rate, summarize_campaign, summarize_over_refusal

RESULTS = Path(__file__).parent / "results"


def screen_inputs(guard_dir: str, behaviors: int, attacks: list[str]) -> dict[str, Any]:
    """Share of attacked prompts the guard's input stage blocks, per attack (seed 0)."""
    guard = load_guard(guard_dir)
    found = load_behaviors(limit=behaviors)
    started = time.monotonic()
    per_attack: dict[str, dict[str, float]] = {}
    for name in attacks:
        verdicts = guard.classify([transform(name, b.text, seed=0) for b in found], "input")
        blocked = sum(v.flagged for v in verdicts)
        lower, upper = wilson(blocked, len(found))
        per_attack[name] = {"blocked": blocked, "n": len(found), "lower": lower, "upper": upper}
    total = sum(int(r["blocked"]) for r in per_attack.values())
    n = len(found) * len(attacks)
    lower, upper = wilson(total, n)
    return {
        "behaviors": len(found),
        "overall": {"blocked": total, "n": n, "lower": lower, "upper": upper},
        "per_attack": per_attack,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guard", required=True, help="Guard folder (redline guard train --out)")
    parser.add_argument("--behaviors", type=int, default=50)
    parser.add_argument("--benign", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--attacks", default=None, help="Comma list (default: all single-turn)")
    parser.add_argument("--screen-behaviors", type=int, default=50)
    parser.add_argument("--screen-only", action="store_true", help="Only the input-stage screen")
    parser.add_argument(
        "--targets",
        default="bare,guarded",
        help="Arms to run now (comma list, or none); rows of the others come from the logs",
    )
    parser.add_argument("--log-dir", default=str(RESULTS / "redteam_logs"))
    parser.add_argument("--out", default=str(RESULTS / "redteam_embedded.json"))
    args = parser.parse_args()

    attacks = select_attacks(args.attacks, None, have_attacker=False)
    console = Console()
    screen = screen_inputs(args.guard, args.screen_behaviors, attacks)
    o = screen["overall"]
    console.print(
        f"Input stage alone on {screen['behaviors']} behaviours x {len(attacks)} attacks: "
        f"blocks {o['blocked']}/{o['n']} = {o['blocked'] / o['n']:.3f} "
        f"[{o['lower']:.3f}, {o['upper']:.3f}] in {screen['seconds']:.0f} s; least blocked: "
        + ", ".join(
            f"{k} {v['blocked']}/{v['n']}"
            for k, v in sorted(screen["per_attack"].items(), key=lambda kv: kv[1]["blocked"])[:6]
        )
    )
    if args.screen_only:
        _write(args, {"attacks": attacks, "input_screen": screen})
        return
    arms = {
        "bare": lambda: get_model(MODELS["bare"]),
        "guarded": lambda: get_model(MODELS["guarded"], guard=args.guard),
    }
    chosen = [] if args.targets == "none" else args.targets.split(",")
    if unknown := set(chosen) - set(arms):
        parser.error(f"unknown --targets {sorted(unknown)}: choose from {sorted(arms)}")
    common: dict[str, Any] = {
        "log_dir": args.log_dir,
        "display": "none",
        "max_tokens": args.max_tokens,
        "fail_on_error": False,
        "retry_on_error": 0,
    }
    for name in chosen:
        model = arms[name]()
        campaign_args = {
            "attacks": ",".join(attacks),
            "limit_behaviors": args.behaviors,
            "judge": "refusal",
        }
        inspect_eval("redline/redteam", model=model, task_args=campaign_args, **common)
        inspect_eval(
            "redline/over_refusal", model=model, task_args={"limit_prompts": args.benign}, **common
        )
    rows = _rows_from_logs(args, attacks)
    if not rows:
        raise SystemExit(f"no finished runs of this campaign in {args.log_dir}")

    table = Table(
        title=f"Embedded model, {args.behaviors} behaviours x {len(attacks)} attacks, "
        f"max_tokens {args.max_tokens}, judge: refusal"
    )
    for column in (
        "target", "ASR [95% CI]", "scored", "unscoreable", "blocked in/out",
        "over-refusal [95% CI]", "campaign s", "over-refusal s",
    ):  # fmt: skip
        table.add_column(column)
    for name, row in rows.items():
        c, o = row["campaign"], row["over_refusal"]
        blocks = c["blocks"]
        table.add_row(
            name,
            Rate(**c["overall"]).interval(),
            str(c["overall"]["scored"]),
            str(c["overall"]["unscoreable"]),
            f"{blocks['input']:.3f} / {blocks['output']:.3f}" if blocks else "-",
            Rate(**o["overall"]).interval(),
            f"{row['campaign_seconds']:.0f}",
            f"{row['over_refusal_seconds']:.0f}",
        )
    console.print(table)
    per_attack = Table(title="ASR by attack")
    for column in ("attack", *rows):
        per_attack.add_column(column)
    for attack in attacks:
        per_attack.add_row(
            attack,
            *(Rate(**rows[t]["campaign"]["per_attack"][attack]).interval() for t in rows),
        )
    console.print(per_attack)
    _write(args, {"attacks": attacks, "input_screen": screen, "results": rows})


MODELS = {"bare": "redline/smollm2", "guarded": "redline/guarded/redline/smollm2"}


def _rows_from_logs(args: argparse.Namespace, attacks: list[str]) -> dict[str, Any]:
    """Per arm, the newest finished campaign and over-refusal logs of this configuration."""
    wanted = {
        "redline/redteam": {"attacks": ",".join(attacks), "limit_behaviors": args.behaviors},
        "redline/over_refusal": {"limit_prompts": args.benign},
    }
    newest: dict[tuple[str, str], EvalLog] = {}
    for info in list_eval_logs(args.log_dir):
        head = read_eval_log(info, header_only=True)
        task_args = head.eval.task_args or {}
        matches = (
            head.status == "success"
            and head.eval.task in wanted
            and all(task_args.get(k) == v for k, v in wanted[head.eval.task].items())
            and head.plan.config.max_tokens == args.max_tokens
            and head.eval.model in MODELS.values()
            and (head.eval.model_args or {}).get("guard") in (None, args.guard)
        )
        key = (head.eval.model, head.eval.task)
        if matches and (key not in newest or head.eval.created > newest[key].eval.created):
            newest[key] = head
    rows: dict[str, Any] = {}
    for arm, model in MODELS.items():
        campaign, over = (
            newest.get((model, "redline/redteam")),
            newest.get((model, "redline/over_refusal")),
        )
        if campaign is None or over is None:
            continue
        rows[arm] = {
            "campaign": summarize_campaign(read_eval_log(campaign.location)).model_dump(),
            "over_refusal": summarize_over_refusal(read_eval_log(over.location)).model_dump(),
            "campaign_seconds": _seconds(campaign),
            "over_refusal_seconds": _seconds(over),
            "guard": (campaign.eval.model_args or {}).get("guard"),
            "finished_at": campaign.stats.completed_at,
        }
    return rows


def _seconds(log: EvalLog) -> float:
    started = datetime.fromisoformat(log.stats.started_at)
    return round((datetime.fromisoformat(log.stats.completed_at) - started).total_seconds(), 1)


def _write(args: argparse.Namespace, result: dict[str, Any]) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in vars(args).items() if k not in ("out", "log_dir")}
    out.write_text(json.dumps({"config": config, **result}, indent=2))
    Console().print(f"-> {out}")


if __name__ == "__main__":
    main()

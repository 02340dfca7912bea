"""Red-team the embedded model bare and behind a guard: ASR with intervals, over-refusal, time.

Behaviours x every single-turn attack that needs no attacker model, against `redline/smollm2`
and `redline/guarded/redline/smollm2` (the guard given by --guard), judged by refusal
detection (the same judge for both, so the guard is not judging itself). Over-refusal uses the
constitution's benign prompts. Writes bench/results/redteam_embedded.json.

    nice -n 10 python bench/redteam_embedded.py --guard /tmp/rt-guard --behaviors 50
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model
from rich.console import Console
from rich.table import Table

from redline.redteam._campaign import select_attacks
from redline.redteam._summary import Rate, summarize_campaign, summarize_over_refusal

RESULTS = Path(__file__).parent / "results"


def _ci(r: Rate) -> str:
    if r.rate is None:
        return "-"
    return f"{r.rate:.3f} [{r.lower:.3f}, {r.upper:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guard", required=True, help="Guard folder (redline guard train --out)")
    parser.add_argument("--behaviors", type=int, default=50)
    parser.add_argument("--benign", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--attacks", default=None, help="Comma list (default: all single-turn)")
    parser.add_argument("--log-dir", default=str(RESULTS / "redteam_logs"))
    parser.add_argument("--out", default=str(RESULTS / "redteam_embedded.json"))
    args = parser.parse_args()

    attacks = select_attacks(args.attacks, None, have_attacker=False)
    targets = {
        "bare": get_model("redline/smollm2"),
        "guarded": get_model("redline/guarded/redline/smollm2", guard=args.guard),
    }
    common: dict[str, Any] = {
        "log_dir": args.log_dir,
        "display": "none",
        "max_tokens": args.max_tokens,
        "fail_on_error": False,
        "retry_on_error": 0,
    }
    rows: dict[str, dict[str, Any]] = {}
    for name, model in targets.items():
        started = time.monotonic()
        [log] = inspect_eval(
            "redline/redteam",
            model=model,
            task_args={
                "attacks": ",".join(attacks),
                "limit_behaviors": args.behaviors,
                "judge": "refusal",
            },
            **common,
        )
        campaign_s = time.monotonic() - started
        started = time.monotonic()
        [over_log] = inspect_eval(
            "redline/over_refusal",
            model=model,
            task_args={"limit_prompts": args.benign},
            **common,
        )
        over_s = time.monotonic() - started
        rows[name] = {
            "campaign": summarize_campaign(log).model_dump(),
            "over_refusal": summarize_over_refusal(over_log).model_dump(),
            "campaign_seconds": round(campaign_s, 1),
            "over_refusal_seconds": round(over_s, 1),
        }

    console = Console()
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
            _ci(Rate(**c["overall"])),
            str(c["overall"]["scored"]),
            str(c["overall"]["unscoreable"]),
            f"{blocks['input']:.3f} / {blocks['output']:.3f}" if blocks else "-",
            _ci(Rate(**o["overall"])),
            f"{row['campaign_seconds']:.0f}",
            f"{row['over_refusal_seconds']:.0f}",
        )
    console.print(table)
    per_attack = Table(title="ASR by attack: bare vs guarded")
    for column in ("attack", "bare", "guarded"):
        per_attack.add_column(column)
    for attack in attacks:
        per_attack.add_row(
            attack,
            *(_ci(Rate(**rows[t]["campaign"]["per_attack"][attack])) for t in rows),
        )
    console.print(per_attack)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in vars(args).items() if k not in ("out", "log_dir")}
    out.write_text(json.dumps({"config": config, "attacks": attacks, "results": rows}, indent=2))
    console.print(f"-> {out}")


if __name__ == "__main__":
    main()

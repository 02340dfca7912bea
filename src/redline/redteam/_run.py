"""`run_campaign`: a jailbreak campaign and an over-refusal check, summarised and gated.

The Python API under `redline redteam run`, and what `redline assess` runs for its red-team
step: the Inspect tasks `redline/redteam` and `redline/over_refusal` against one target, their
logs summarised (`_summary`), and the release gate applied to the campaign's ASR bound.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from redline.attacks import attack_names, families, get_attack
from redline.errors import RedlineError
from redline.redteam._behaviors import load_behaviors, load_benign
from redline.redteam._judges import JUDGES
from redline.redteam._summary import (
    RedteamReport,
    gate,
    summarize_campaign,
    summarize_over_refusal,
)

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog
    from inspect_ai.model import Model

REDTEAM_TASK = "redline/redteam"
OVER_REFUSAL_TASK = "redline/over_refusal"
ACTION_MONITOR_TASK = "redline/action_monitor"


def select_attacks(attacks: str | None, family: str | None, have_attacker: bool) -> list[str]:
    """The attacks a campaign runs.

    Default: every single-turn attack that needs no attacker model, plus the attacker-model
    ones when an attacker is given. `family` narrows to one family; `attacks` names them.
    """
    if attacks:
        names = [a.strip() for a in attacks.split(",") if a.strip()]
        chosen = [get_attack(n) for n in names]  # raises on an unknown name
        if family:
            chosen = [a for a in chosen if a.family == family]
    else:
        if family and family not in families():
            known = ", ".join(families())
            raise RedlineError(f"unknown attack family {family!r}: use one of {known}")
        chosen = [get_attack(n) for n in attack_names()]
        chosen = [a for a in chosen if not family or a.family == family]
        if not family:
            chosen = [a for a in chosen if not a.multi_turn]
        if not have_attacker:
            chosen = [a for a in chosen if not a.needs_attacker]
    missing = [a.name for a in chosen if a.needs_attacker and not have_attacker]
    if missing:
        raise RedlineError(
            f"attacks {', '.join(missing)} need an attacker model: give the `attacker` model "
            "role (--attacker MODEL, or inspect eval --model-role attacker=MODEL)"
        )
    if not chosen:
        raise RedlineError("no attacks selected")
    return [a.name for a in chosen]


class CampaignSpec(BaseModel):
    """What the campaign attacks with: the `redline/redteam` task's arguments."""

    model_config = ConfigDict(extra="forbid")

    behaviors: str | None = None
    constitution: str = "default"
    attacks: str | None = None
    family: str | None = None
    limit_behaviors: int | None = None
    n: int = 1
    seed: int = 0
    judge: str = "auto"
    guard: str | None = None
    """Guard folder for the guard judge (default: the trained default guard)."""
    max_turns: int = 5


class OverRefusalSpec(BaseModel):
    """The benign prompts of the over-refusal check: the `redline/over_refusal` arguments."""

    model_config = ConfigDict(extra="forbid")

    prompts: str | None = None
    constitution: str = "default"
    limit_prompts: int | None = None
    seed: int = 0


class EvalSettings(BaseModel):
    """How the tasks run: Inspect's log folder, display and generation settings."""

    model_config = ConfigDict(extra="forbid")

    log_dir: Path = Path("logs")
    display: str | None = None
    max_tokens: int | None = None
    resume: bool = False
    """Reuse finished logs in `log_dir` (an Inspect eval set): for assessments that resume."""
    seed: int | None = None


def check_campaign(
    spec: CampaignSpec,
    over_refusal: OverRefusalSpec | None,
    attacker: str | None = None,
    grader: str | None = None,
    max_asr: float | None = None,
) -> list[str]:
    """The attacks the campaign runs; a RedlineError for anything that would fail later."""
    if spec.judge not in JUDGES:
        raise RedlineError(f"unknown judge {spec.judge!r}: use one of {', '.join(JUDGES)}")
    if spec.judge == "llm" and not grader:
        raise RedlineError("--judge llm needs --grader MODEL")
    if max_asr is not None and not 0 <= max_asr <= 1:
        raise RedlineError(f"--max-asr must be between 0 and 1, got {max_asr}")
    names = select_attacks(spec.attacks, spec.family, have_attacker=attacker is not None)
    load_behaviors(spec.behaviors, spec.constitution, spec.limit_behaviors, spec.seed)
    if over_refusal is not None:
        o = over_refusal
        load_benign(o.prompts, o.constitution, o.limit_prompts, o.seed)
    return names


def run_campaign(
    target: "str | Model",
    spec: CampaignSpec,
    over_refusal: OverRefusalSpec | None = None,
    *,
    settings: EvalSettings | None = None,
    model_args: dict[str, Any] | None = None,
    attacker: str | None = None,
    grader: str | None = None,
    max_asr: float | None = None,
) -> RedteamReport:
    """Attack `target`, measure its over-refusal, summarise both, and gate on `max_asr`.

    The gate fails when the campaign did not finish or its ASR's 95% upper bound exceeds
    `max_asr`; without `max_asr` there is no gate.
    """
    names = check_campaign(spec, over_refusal, attacker, grader, max_asr)
    tasks: list[tuple[str, dict[str, Any]]] = [
        (REDTEAM_TASK, spec.model_copy(update={"attacks": ",".join(names)}).model_dump())
    ]
    if over_refusal is not None:
        tasks.append((OVER_REFUSAL_TASK, over_refusal.model_dump()))
    roles = {k: v for k, v in {"attacker": attacker, "grader": grader}.items() if v}
    logs = _evaluate(target, tasks, settings or EvalSettings(), model_args or {}, roles)
    campaign = summarize_campaign(logs[REDTEAM_TASK])
    over = summarize_over_refusal(logs[OVER_REFUSAL_TASK]) if over_refusal else None
    return RedteamReport(
        target=campaign.model,
        campaign=campaign,
        over_refusal=over,
        gate=gate(campaign, max_asr) if max_asr is not None else None,
    )


def _evaluate(
    target: "str | Model",
    tasks: list[tuple[str, dict[str, Any]]],
    settings: EvalSettings,
    model_args: dict[str, Any],
    roles: dict[str, str],
) -> dict[str, "EvalLog"]:
    """Each task's log.

    A fresh run writes into `log_dir`; resuming runs an eval set per task in a folder of its own
    under `log_dir`, which reuses a finished log.
    """
    from inspect_ai import eval, eval_set
    from inspect_ai.log import read_eval_log

    common: dict[str, Any] = {
        "model": target,
        "model_args": model_args,
        "model_roles": roles or None,
        "display": settings.display,
        "max_tokens": settings.max_tokens,
        "seed": settings.seed,
    }
    logs: dict[str, EvalLog] = {}
    for name, args in tasks:
        if settings.resume:
            folder = settings.log_dir / name.rpartition("/")[2]
            _, found = eval_set(
                tasks=[name], task_args=args, log_dir=str(folder), retry_attempts=1,
                retry_wait=1, log_dir_allow_dirty=True, **common,
            )  # fmt: skip
            if not found:
                raise RedlineError(f"{name} did not run")
            done = next((lg for lg in found if lg.status == "success"), found[0])
            log = read_eval_log(done.location)  # a reused log comes back without its samples
        else:
            [log] = eval(name, task_args=args, log_dir=str(settings.log_dir),
                         fail_on_error=False, retry_on_error=0, **common)  # fmt: skip
        logs[name] = log
    return logs

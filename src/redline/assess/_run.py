"""`redline assess`: capability suites, guard, red team and over-refusal, decision, report.

Each step is its own Inspect eval set in its own log folder under `OUT/logs/`, so a run that
was interrupted resumes: finished logs are reused and only the missing work runs again.
"""

import datetime as dt
import os
import platform
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from redline._files import sha256_file
from redline._inspect import task_registered
from redline.assess._profile import GuardTraining, Profile, Step, load_profile
from redline.assess._safeguards import safeguards_section
from redline.models import GUARDED, PROVIDER
from redline.policy import (
    AssessmentHistory,
    ComputeReport,
    Evidence,
    classify,
    decide,
    load_policy,
    measure_compute,
    shipped_policies,
)
from redline.redteam import (
    ACTION_MONITOR_TASK,
    OVER_REFUSAL_TASK,
    REDTEAM_TASK,
    CampaignSpec,
    EvalSettings,
    OverRefusalSpec,
    run_campaign,
)
from redline.report import (
    FileRecord,
    LogRecord,
    LogRole,
    ModelRef,
    Provenance,
    Report,
    StepRecord,
    write_report,
)

if TYPE_CHECKING:
    from redline.store import HistoryEntry

GUARDED_MODEL = f"{PROVIDER}/{GUARDED}"
"""`redline/guarded/INNER` is the model INNER behind the guard given as model argument `guard`."""
Target = Literal["model", "bare", "guarded"]
Progress = Callable[[str], None]


class AssessOptions(BaseModel):
    """Everything `redline assess` is asked to do."""

    model: str
    model_args: dict[str, Any] = {}
    policy: str = "rsp"
    constitution: str = "default"
    profile: str = "quick"
    out: Path = Path("reports")
    name: str | None = None
    """Report file name without extension (default: model and time)."""
    evidence: Path | None = None
    guard: Path | None = None
    family: str | None = None
    checkpoint: str | None = None
    checkpoint_date: dt.date | None = None
    effective_compute: float | None = None
    params: float | None = None
    tokens: float | None = None
    db: str | None = None
    """Database URL; None: REDLINE_DB_URL or the default SQLite file."""
    record: bool = True
    key_dir: Path | None = None
    display: str | None = None
    """Inspect's display (`rich`, `plain`, `none`); None: Inspect's default."""
    command: list[str] = []


class AssessResult(BaseModel):
    """What an assessment wrote."""

    report: Report
    json_path: Path
    html_path: Path


def slug(text: str) -> str:
    """A file-name-safe form of a model name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "model"


def unavailable_reason(task: str) -> str | None:
    """Why the Inspect task cannot run here, or None when it is registered."""
    if not task_registered(task):
        return f"task {task} is not available in this installation of redline"
    return None


def guarded_unavailable_reason(model: str, model_args: dict[str, Any], guard: Path) -> str | None:
    """Why the guarded model wrapper cannot be built, or None when it can."""
    from inspect_ai.model import get_model

    try:
        get_model(f"{GUARDED_MODEL}/{model}", guard=str(guard), **model_args)
    except Exception as ex:  # any failure to build the wrapper makes the step not measured
        text = str(ex).strip().splitlines()
        return f"the guarded model {GUARDED_MODEL} is not available: {text[0] if text else ex}"
    return None


def resolve_guard(options: AssessOptions, training: GuardTraining, progress: Progress) -> Path:
    """The guard folder to use: given, the default guard, one trained earlier, or trained now."""
    from redline.guard import Guard, default_guard_dir, load_constitution, train_guard

    if options.guard is not None:
        Guard.load(options.guard)  # fails with a clear message if it is not a guard
        return options.guard
    constitution = load_constitution(options.constitution)
    for folder in (default_guard_dir(), options.out / "guards" / slug(constitution.id)):
        if Guard.exists(folder):
            guard = Guard.load(folder)
            if guard.manifest.constitution == constitution.id:
                return folder
    folder = options.out / "guards" / slug(constitution.id)
    progress(
        f"training a guard from constitution {constitution.id} ({training.backend}) -> {folder}"
    )
    guard = train_guard(
        constitution,
        backend=training.backend,
        augment_per_seed=training.augment_per_seed,
        multilingual=training.multilingual,
    )
    return guard.save(folder)


def _step_folder(step: Step, target: Target, options: AssessOptions, profile: Profile) -> Path:
    return (
        options.out / "logs" / slug(options.model) / profile.name / f"{step.name}-{target}"
    ).resolve()


def _target_model(
    target: Target, options: AssessOptions, guard: Path | None
) -> tuple[str, dict[str, Any]]:
    """The model name and arguments a step runs on: the model, or the model behind the guard."""
    model, model_args = options.model, dict(options.model_args)
    if target == "guarded":
        assert guard is not None
        model = f"{GUARDED_MODEL}/{options.model}"
        model_args["guard"] = str(guard)
    return model, model_args


def _failure(ex: Exception) -> str:
    text = str(ex).strip().splitlines()
    return text[0] if text else type(ex).__name__


def run_step(
    step: Step,
    target: Target,
    options: AssessOptions,
    profile: Profile,
    guard: Path | None,
) -> list[tuple[StepRecord, Path | None]]:
    """Run (or reuse) one step; each of its tasks' record and log (a campaign has two)."""
    if step.task == REDTEAM_TASK:
        return run_campaign_step(step, target, options, profile, guard)
    from inspect_ai import eval_set

    folder = _step_folder(step, target, options, profile)
    before = set(folder.glob("*.eval")) if folder.exists() else set()
    model, model_args = _target_model(target, options, guard)
    task_args = dict(step.task_args)
    if step.target == "guard":
        assert guard is not None
        task_args["guard"] = str(guard)
    record = StepRecord(
        name=step.name, task=step.task, target=target, status="ran", limit=step.limit
    )
    try:
        success, logs = eval_set(
            tasks=[step.task],
            log_dir=str(folder),
            model=model,
            model_args=model_args,
            task_args=task_args,
            limit=step.limit,
            message_limit=step.message_limit,
            time_limit=step.time_limit,
            working_limit=step.working_limit,
            max_tokens=step.max_tokens,
            seed=profile.seed,
            retry_attempts=1,
            retry_wait=1,
            log_dir_allow_dirty=True,
            display=options.display,  # type: ignore[arg-type]
        )
    except Exception as ex:  # a failed evaluation is recorded, never hidden
        record.status, record.reason = "failed", _failure(ex)
        return [(record, None)]
    log = next((lg for lg in logs if lg.status == "success"), None)
    if not success or log is None:
        error = logs[0].error if logs else None
        record.status = "failed"
        record.reason = error.message.splitlines()[0] if error else "the evaluation did not finish"
        return [(record, None)]
    return [_finished(record, log.location, log.status, before, options)]


def _finished(
    record: StepRecord, location: str, status: str, before: set[Path], options: AssessOptions
) -> tuple[StepRecord, Path | None]:
    """A step's record once its log exists: ran, reused (the log was there) or failed."""
    path = Path(location.removeprefix("file://"))
    if status != "success":
        record.status, record.reason = "failed", f"the evaluation ended {status}"
        return record, None
    if path in before:
        record.status = "reused"
    record.log = os.path.relpath(path, options.out.resolve())
    return record, path


def run_campaign_step(
    step: Step,
    target: Target,
    options: AssessOptions,
    profile: Profile,
    guard: Path | None,
) -> list[tuple[StepRecord, Path | None]]:
    """A red-team step: the campaign and its over-refusal check through `run_campaign`.

    Their behaviours and benign prompts come from the assessment's constitution.
    """
    folder = _step_folder(step, target, options, profile)
    before = set(folder.rglob("*.eval")) if folder.exists() else set()
    model, model_args = _target_model(target, options, guard)
    constitution = {"constitution": options.constitution}
    spec = CampaignSpec.model_validate({**constitution, **step.task_args})
    over = (
        OverRefusalSpec.model_validate({**constitution, **step.over_refusal})
        if step.over_refusal is not None
        else None
    )
    records = [StepRecord(name=step.name, task=step.task, target=target, status="ran")]
    if over is not None:
        records.append(
            StepRecord(name="over_refusal", task=OVER_REFUSAL_TASK, target=target, status="ran")
        )
    settings = EvalSettings(
        log_dir=folder, display=options.display, max_tokens=step.max_tokens, resume=True,
        seed=profile.seed,
    )  # fmt: skip
    try:
        report = run_campaign(model, spec, over, settings=settings, model_args=model_args)
    except Exception as ex:  # a failed evaluation is recorded, never hidden
        for record in records:
            record.status, record.reason = "failed", _failure(ex)
        return [(record, None) for record in records]
    done = [_finished(records[0], report.campaign.log, report.campaign.status, before, options)]
    if report.over_refusal is not None:
        o = report.over_refusal
        done.append(_finished(records[1], o.log, o.status, before, options))
    return done


def _compute(options: AssessOptions, previous: float | None) -> ComputeReport | None:
    """Compute tiers from --effective-compute, else from --params and --tokens (6ND)."""
    measured = measure_compute(options.effective_compute, options.params, options.tokens)
    if measured is None:
        return None
    method, flop, inputs = measured
    return classify(flop, method, inputs, previous_flop=previous)


def _policy_file(name: str) -> Path:
    shipped = shipped_policies()
    return shipped[name] if name in shipped else Path(name)


def _notes(profile: Profile, steps: list[StepRecord], options: AssessOptions) -> list[str]:
    notes = list(profile.notes)
    missed: dict[tuple[str, str], list[str]] = {}
    for s in steps:
        if s.status in ("skipped", "failed"):
            missed.setdefault((s.status, s.reason), []).append(f"{s.name} ({s.target})")
    for (status, reason), names in missed.items():
        notes.append(
            f"{', '.join(names)} {'was' if len(names) == 1 else 'were'} {status}: {reason}. "
            "What this measures counts as not measured, and the decision fails closed on it."
        )
    if options.evidence is not None:
        notes.append(
            f"Attestations and external results come from {options.evidence}; they are "
            "statements by the people named in it, not measurements redline made."
        )
    return notes


def assess(options: AssessOptions, progress: Progress = lambda _: None) -> AssessResult:
    """Run an assessment end to end and write the signed report (JSON and HTML)."""
    from redline.store import Store

    started, t0 = dt.datetime.now(dt.UTC), time.monotonic()
    # a bad policy, compute input or evidence file fails before anything runs
    policy = load_policy(options.policy)
    measure_compute(options.effective_compute, options.params, options.tokens)
    if options.evidence is not None:
        Evidence.load([], options.evidence).check(policy, started.date(), citations=False)
    profile = load_profile(options.profile)
    store = Store(options.db) if options.record else None
    options.out.mkdir(parents=True, exist_ok=True)

    guard_dir: Path | None = None
    guard_problem: str | None = None
    guarded = ("both", "guard")
    if any(s.run and s.target in guarded and not unavailable_reason(s.task) for s in profile.steps):
        guard_dir = resolve_guard(options, profile.guard, progress)
        guard_problem = guarded_unavailable_reason(options.model, options.model_args, guard_dir)

    steps: list[StepRecord] = []
    logs: dict[tuple[str, Target], Path] = {}
    targets: dict[str, tuple[Target, ...]] = {
        "model": ("model",), "both": ("bare", "guarded"), "guard": ("guarded",)
    }  # fmt: skip
    plan = [(s, t) for s in profile.steps for t in targets[s.target]]
    for i, (step, target) in enumerate(plan, start=1):
        on = f"the guarded {options.model}" if target == "guarded" else options.model
        label = f"[{i}/{len(plan)}] {step.name} on {on}"
        reason: str | None
        if not step.run:
            reason = step.why_not_run or f"the {profile.name} profile does not run it"
        else:
            reason = unavailable_reason(step.task)
            if reason is None and step.over_refusal is not None:
                reason = unavailable_reason(OVER_REFUSAL_TASK)
            if reason is None and target == "guarded":
                reason = guard_problem
        if reason is not None:
            progress(f"{label}: skipped ({reason})")
            steps.append(
                StepRecord(
                    name=step.name,
                    task=step.task,
                    target=target,
                    status="skipped",
                    reason=reason,
                    limit=step.limit,
                )
            )
            continue
        progress(f"{label} ...")
        for record, path in run_step(step, target, options, profile, guard_dir):
            steps.append(record)
            why = f" ({record.reason})" if record.reason else ""
            progress(f"{label}: {record.task} {record.status}{why}")
            if path is not None:
                logs[(record.task, target)] = path

    family = options.family or options.model
    last = store.last_comprehensive(family) if store else None
    report = build_report(options, steps, logs, guard_dir, started, time.monotonic() - t0, last)
    name = options.name or f"{slug(options.model)}-{started.strftime('%Y%m%dT%H%M%SZ')}"
    json_path = options.out / f"{name}.json"
    signed = write_report(report, json_path, options.key_dir)
    if store is not None:
        store.record(signed, str(json_path.resolve()), sha256_file(json_path))
    return AssessResult(
        report=signed, json_path=json_path, html_path=json_path.with_suffix(".html")
    )


def build_report(
    options: AssessOptions,
    steps: list[StepRecord],
    logs: dict[tuple[str, Target], Path],
    guard_dir: Path | None,
    started: dt.datetime,
    seconds: float,
    last: "HistoryEntry | None" = None,
) -> Report:
    """The unsigned report from the steps' logs (keyed by task and target).

    The decision sees the capability logs and the guarded campaign logs, never the bare ones
    (those are for comparison); `last` is the family's previous comprehensive assessment,
    used for the re-assessment triggers when the evidence file records no history.
    """
    import inspect_ai

    from redline.guard import MANIFEST as GUARD_MANIFEST

    policy = load_policy(options.policy)
    profile = load_profile(options.profile)
    decision_logs = [p for (_, target), p in logs.items() if target != "bare"]
    models = [options.model, f"{GUARDED_MODEL}/{options.model}"]
    evidence = Evidence.load(list(decision_logs), options.evidence, models)
    compute = _compute(options, last.effective_compute if last else None)
    if last is not None and evidence.manual.history == AssessmentHistory():
        evidence.manual = evidence.manual.model_copy(
            update={
                "history": AssessmentHistory(
                    effective_compute=compute.flop if compute else None,
                    last_comprehensive_effective_compute=last.effective_compute,
                    last_comprehensive_date=dt.date.fromisoformat(last.created[:10]),
                )
            }
        )
    decision = decide(policy, evidence)
    campaign: dict[str, Path] = {t: p for (task, t), p in logs.items() if task == REDTEAM_TASK}
    refusal: dict[str, Path] = {t: p for (task, t), p in logs.items() if task == OVER_REFUSAL_TASK}
    skipped = [s.reason for s in steps if s.task in (REDTEAM_TASK, OVER_REFUSAL_TASK) and s.reason]
    monitor = logs.get((ACTION_MONITOR_TASK, "guarded"))
    safeguards = safeguards_section(
        policy, campaign, refusal, "; ".join(dict.fromkeys(skipped)), monitor
    )

    out = options.out.resolve()
    bare = [p for (_, target), p in logs.items() if target == "bare"]
    headers = {
        Path(lg.provenance.path): lg.provenance
        for lg in [*evidence.logs, *(Evidence.load(list(bare)).logs if bare else [])]
    }
    roles: dict[str, LogRole] = {"model": "capability", "bare": "bare", "guarded": "guarded"}
    log_records = [
        LogRecord(
            role=roles[target],
            path=os.path.relpath(path, out),
            sha256=headers[path].sha256,
            task=headers[path].task,
            model=headers[path].model,
            created=headers[path].created,
            status=headers[path].status,
        )
        for (_, target), path in logs.items()
    ]
    cited = [("policy", _policy_file(options.policy))]
    if options.evidence is not None:
        cited.append(("evidence", options.evidence))
    if guard_dir is not None and (guard_dir / GUARD_MANIFEST).is_file():
        cited.append(("guard manifest", guard_dir / GUARD_MANIFEST))
    files = [
        FileRecord(name=label, path=os.path.relpath(f.resolve(), out), sha256=sha256_file(f))
        for label, f in cited
    ]
    finished = dt.datetime.now(dt.UTC)
    return Report(
        id=uuid.uuid4().hex,
        created=finished.isoformat(timespec="seconds"),
        model=ModelRef(
            name=options.model,
            family=options.family or options.model,
            checkpoint=options.checkpoint or options.model,
            effective_compute=options.effective_compute or (compute.flop if compute else None),
            date=options.checkpoint_date or started.date(),
        ),
        policy=policy.id,
        constitution=options.constitution,
        profile=profile.name,
        comprehensive=profile.comprehensive,
        decision=decision,
        steps=steps,
        notes=_notes(profile, steps, options),
        safeguards=safeguards,
        compute=compute,
        provenance=Provenance(
            started=started.isoformat(timespec="seconds"),
            finished=finished.isoformat(timespec="seconds"),
            seconds=round(seconds, 1),
            inspect_ai_version=inspect_ai.__version__,
            python=sys.version.split()[0],
            platform=platform.platform(),
            seed=profile.seed,
            command=options.command,
            logs=log_records,
            files=files,
        ),
    )

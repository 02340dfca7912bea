"""`redline guard train|classify|eval|synth`: build and measure the guard."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from redline._sql import safe_url
from redline.cli._app import NEGATIVE, OK, app, user_errors
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.guard import Constitution, Example, Reviewer, Stage

guard_app = typer.Typer(
    help="Train, run and measure the guard (input and output classifiers).", no_args_is_help=True
)
app.add_typer(guard_app, name="guard")

GuardOption = Annotated[
    Path | None, typer.Option("--guard", help="Guard folder (default: the trained default guard).")
]


@guard_app.command("train")
def guard_train(
    constitution: Annotated[
        str, typer.Option(help="Shipped constitution name or YAML file.")
    ] = "default",
    backend: Annotated[
        str | None,
        typer.Option(
            help="svm, ensemble (svm and TF-IDF stacked), minilm, tfidf, or cascade (svm with "
            "a prefilter on both stages). Default: svm."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Guard folder to write (default: the default guard).")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            help="Labelled training texts besides the constitution (repeatable): JSONL or CSV "
            "with text, label (1 restricted, 0 permitted) and optional category; "
            "`guard synth` output too."
        ),
    ] = None,
    eval_data: Annotated[
        list[Path] | None,
        typer.Option(
            "--eval",
            help="Evaluation data kept out of training (repeatable): texts equal or near to "
            "one of its texts are dropped from the training data.",
        ),
    ] = None,
    target_fpr: Annotated[float, typer.Option(help="False-positive rate to calibrate to.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed for augmentation, splits and training.")] = 0,
    prefilter: Annotated[
        list[str] | None,
        typer.Option(
            help="Stage to put a TF-IDF prefilter in front of (repeatable: input, output; "
            "'none' for neither). Default: output."
        ),
    ] = None,
    max_recall_loss: Annotated[
        float,
        typer.Option(help="Share of what the classifier flags that a prefilter may clear."),
    ] = 0.01,
    review_format: Annotated[
        str | None,
        typer.Option(
            help="Add a second stage: a guard model in this format (llama-guard-3, "
            "llama-guard-4, shieldgemma, wildguard, granite-guardian) asked about what the "
            "first stage is unsure of."
        ),
    ] = None,
    review_model: Annotated[
        str | None,
        typer.Option(help="The guard model: its name at --review-url, else an Inspect model."),
    ] = None,
    review_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL of the guard model.")
    ] = None,
    review_key_env: Annotated[
        str | None, typer.Option(help="Environment variable holding its API key.")
    ] = None,
    review_render: Annotated[
        str,
        typer.Option(
            help="client: send the format's prompt; server: send the conversation for the "
            "served model's own chat template."
        ),
    ] = "client",
    max_escalated: Annotated[
        float, typer.Option(help="Most of the calibration examples the second stage may see.")
    ] = 0.1,
    languages: Annotated[
        list[Path] | None,
        typer.Option(
            "--languages",
            help="A seed file in another language for the multilingual head (repeatable; "
            "default: the constitution's shipped ones, guard/constitutions/languages/).",
        ),
    ] = None,
    multilingual: Annotated[
        bool,
        typer.Option(
            help="Train the multilingual head (multilingual-e5-small) for text not in English."
        ),
    ] = True,
) -> None:
    """Train input and output classifiers from a constitution (and your labelled data)."""
    from redline.guard import (
        DEFAULT_BACKEND,
        default_guard_dir,
        load_constitution,
        load_eval_data,
        load_language_seeds,
        train_guard,
    )

    with user_errors():
        stages = prefilter_stages(prefilter)
        c = load_constitution(constitution)
        held_out = [r.text for path in eval_data or [] for r in load_eval_data(path)]
        extras = training_data(data or [], c, held_out)
        guard = train_guard(
            c,
            backend=backend or DEFAULT_BACKEND,
            target_fpr=target_fpr,
            seed=seed,
            extra=extras,
            prefilter=stages,
            max_recall_loss=max_recall_loss,
            exclude=held_out,
            reviewer=reviewer_of(
                review_format, review_model, review_url, review_key_env, review_render
            ),
            max_escalated=max_escalated,
            languages=load_language_seeds(c, languages) if languages else None,
            multilingual=multilingual,
        )
        folder = guard.save(out or default_guard_dir())
    for stage, info in guard.manifest.stages.items():
        typer.echo(
            f"{stage}: {info.backend}, threshold {info.threshold:.3f}, calibration FPR "
            f"{info.calibration_fpr:.3f} TPR {info.calibration_tpr:.3f} "
            f"({info.train_examples} train / {info.calibration_examples} calibration examples)"
        )
        if info.prefilter is not None:
            pre = info.prefilter
            typer.echo(
                f"{stage}: {pre.backend} prefilter escalates at {pre.escalate_at:.3f}: clears "
                f"{pre.calibration_recall_loss:.1%} of calibration flags, escalates "
                f"{pre.calibration_escalated:.1%} of calibration permitted examples"
            )
    head = guard.manifest.multilingual
    if head is not None:
        for stage, h in head.stages.items():
            typer.echo(
                f"{stage}: multilingual head ({', '.join(head.languages)}), threshold "
                f"{h.threshold:.3f}, calibration FPR {h.calibration_fpr:.3f} TPR "
                f"{h.calibration_tpr:.3f} on {h.calibration_examples} examples not in English"
            )
    second = guard.manifest.second_stage
    if second is not None:
        for stage, band in second.bands.items():
            typer.echo(
                f"{stage}: second stage ({second.reviewer.format}) on scores in ({band.low:.3f}, "
                f"{band.high:.3f}]: {band.calibration_escalated:.1%} of calibration examples "
                f"escalated, FPR {band.calibration_fpr:.3f} TPR {band.calibration_tpr:.3f}"
            )
    typer.echo(f"trained in {guard.manifest.train_seconds:.1f} s -> {folder}")


def training_data(
    paths: list[Path], constitution: "Constitution", held_out: list[str]
) -> "list[Example]":
    """The user's labelled files as training examples, evaluation texts dropped (and said)."""
    from redline.guard import drop_overlap, labelled_examples, load_eval_data

    out: list[Example] = []
    for path in paths:
        if path.suffix not in (".jsonl", ".csv") and not path.name.endswith(".jsonl.gz"):
            raise RedlineError(f"{path}: training data must be JSONL or CSV (text, label)")
        rows = load_eval_data(path, "csv" if path.suffix == ".csv" else "jsonl")
        examples = labelled_examples(rows, constitution, str(path))
        if held_out:
            examples, overlap = drop_overlap([e.text for e in examples], examples, held_out)
            typer.echo(
                f"{path}: {overlap.kept} examples kept, {overlap.exact} equal and "
                f"{overlap.near} near to --eval texts dropped"
            )
        out += examples
    return out


def reviewer_of(
    format: str | None, model: str | None, url: str | None, key_env: str | None, render: str
) -> "Reviewer | None":
    """The second stage's guard model from the --review-* options (None without a format)."""
    from redline.guard import Reviewer

    if format is None:
        if model or url:
            raise RedlineError("--review-model and --review-url need --review-format")
        return None
    if model is None:
        raise RedlineError("--review-format needs --review-model (an Inspect model, or its "
                           "name at --review-url)")  # fmt: skip
    if render not in ("client", "server"):
        raise RedlineError(f"--review-render {render!r}: choose client or server")
    return Reviewer(format=format, model=model, url=url, api_key_env=key_env, render=render)  # type: ignore[arg-type]


def prefilter_stages(names: list[str] | None) -> tuple["Stage", ...]:
    """The stages named by `--prefilter` (the default when none is given)."""
    from redline.guard import DEFAULT_PREFILTER, STAGES

    if not names:
        return DEFAULT_PREFILTER
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise RedlineError(f"--prefilter {unknown[0]!r}: choose input, output or none")
    return tuple(s for s in STAGES if s in names)


@guard_app.command("classify")
def guard_classify(
    text: Annotated[str, typer.Argument(help="Text to screen.")],
    guard: GuardOption = None,
    output: Annotated[bool, typer.Option("--output", help="Screen as a model output.")] = False,
) -> None:
    """Screen one text; exit 1 if it is flagged."""
    from redline.guard import Guard

    stage: Stage = "output" if output else "input"
    with user_errors():
        [verdict] = Guard.load(guard).classify([text], stage)
    typer.echo(verdict.model_dump_json(indent=2))
    raise typer.Exit(NEGATIVE if verdict.flagged else OK)


@guard_app.command("eval")
def guard_eval(
    data: Annotated[Path, typer.Option(help="Labelled data file or folder.")],
    format: Annotated[
        str,
        typer.Option(help="auto (from the name), jsonl, csv, xstest, jbb or openai-moderation."),
    ] = "auto",
    guard: GuardOption = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the report JSON here.")
    ] = None,
) -> None:
    """Measure the guard on labelled data: TPR, FPR, precision, F1, AUPRC, latency."""
    from rich.console import Console
    from rich.table import Table

    from redline._files import write_atomic
    from redline.guard import Guard, evaluate, load_eval_data

    with user_errors():
        rows = load_eval_data(data, format)
        report = evaluate(Guard.load(guard), rows, data=str(data))
        if json_out:
            write_atomic(json_out, report.model_dump_json(indent=2) + "\n")
    table = Table(title=f"Guard on {data} ({report.n} texts, {report.positives} harmful)")
    for column in ("TPR", "FPR", "precision", "F1", "AUPRC", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    rates = (report.tpr, report.fpr, report.precision, report.f1, report.auprc)
    latency = (report.latency_ms_p50, report.latency_ms_p99)
    table.add_row(*(f"{v:.3f}" for v in rates), *(f"{v:.1f}" for v in latency))
    console = Console()
    console.print(table)
    if report.best_f1 is not None:
        at = report.best_tpr_at_fpr
        console.print(
            f"ranking bound (a threshold chosen on these labels): TPR {at['0.05']:.3f} at FPR "
            f"5%, {at['0.1']:.3f} at 10%; best F1 {report.best_f1:.3f}"
        )
    if report.per_category:
        console.print(
            "F1 by category: "
            + ", ".join(f"{k} {v.f1:.3f} (n={v.support})" for k, v in report.per_category.items())
        )
    if report.flag_rate_by_group:
        console.print(
            "flag rate by group: "
            + json.dumps({k: round(v, 3) for k, v in report.flag_rate_by_group.items()})
        )


@guard_app.command("synth")
def guard_synth(
    generator: Annotated[str, typer.Option(help="Any Inspect model that writes the examples.")],
    out: Annotated[Path, typer.Option(help="JSONL file to write.")],
    constitution: Annotated[
        str, typer.Option(help="Shipped constitution name or YAML file.")
    ] = "default",
    per_class: Annotated[int, typer.Option(help="New examples per category and label.")] = 50,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Expand a constitution's seeds with a generator model (for `guard train --data`)."""
    from redline.guard import load_constitution, write_synthetic

    with user_errors():
        n = write_synthetic(load_constitution(constitution), generator, per_class, out, seed)
    typer.echo(f"wrote {n} examples to {out}")


@guard_app.command("serve")
def guard_serve(
    upstream: Annotated[
        str | None,
        typer.Option(
            help="Base URL of the OpenAI-compatible model, e.g. http://127.0.0.1:8081/v1."
        ),
    ] = None,
    guard: GuardOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    config: Annotated[
        Path | None, typer.Option(help="Proxy configuration (YAML): keys, limits, audit log.")
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Accept requests without a client key (testing).")
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (more than one needs redis_url).")
    ] = 1,
    redis_url: Annotated[
        str | None,
        typer.Option(
            envvar="REDLINE_REDIS_URL",
            show_envvar=True,
            help="Redis for rate limits and stream caps shared by workers and replicas.",
        ),
    ] = None,  # fmt: skip
    audit_db: Annotated[
        str | None,
        typer.Option(
            envvar="REDLINE_AUDIT_DB_URL",
            show_envvar=True,
            help="PostgreSQL URL of the audit log all workers and replicas append to.",
        ),
    ] = None,  # fmt: skip
) -> None:
    """Serve the guard as an OpenAI-compatible proxy in front of a model.

    The keys are re-read when the config file changes, and on SIGHUP.
    """
    from redline.guard import ProxyConfig, load_proxy_config, serve_proxy

    with user_errors():
        cfg = load_proxy_config(config) if config else ProxyConfig()
        cfg.upstream = upstream or cfg.upstream
        cfg.allow_anonymous = cfg.allow_anonymous or no_auth
        cfg.redis_url = redis_url or cfg.redis_url
        cfg.audit_db = audit_db or cfg.audit_db
        cfg.check(workers)
    typer.echo(f"guard proxy on http://{host}:{port}/v1 -> {cfg.upstream}"
               + (f" ({workers} workers)" if workers > 1 else ""), err=True)  # fmt: skip
    with user_errors():  # a missing audit key, or a log another proxy holds, fails at start
        serve_proxy(cfg, guard, host, port, workers, config)


@guard_app.command("keygen")
def guard_keygen(
    name: Annotated[str, typer.Option(help="Who gets the key (shown in logs and metrics).")],
    rate: Annotated[float, typer.Option(help="Requests per minute allowed.")] = 60.0,
) -> None:
    """Make a client key for the proxy: prints the key once and its config entry."""
    import yaml

    from redline.guard import ClientKey, hash_key, new_key

    key = new_key()
    entry = ClientKey(name=name, hash=hash_key(key), requests_per_minute=rate)
    typer.echo(f"# client key (give it to {name}; only its hash is kept): {key}")
    typer.echo("# add under `keys:` in the proxy config:")
    typer.echo(yaml.safe_dump([entry.model_dump(exclude_none=True)], sort_keys=False).rstrip())


audit_app = typer.Typer(help="The proxy's audit log.", no_args_is_help=True)
guard_app.add_typer(audit_app, name="audit")


AuditKeyEnv = Annotated[str, typer.Option(help="Environment variable holding the audit key.")]


@audit_app.command("verify")
def guard_audit_verify(
    log: Annotated[str, typer.Argument(help="Audit log: a JSONL file or a PostgreSQL URL.")],
    key_env: AuditKeyEnv = "REDLINE_AUDIT_KEY",
) -> None:
    """Check an audit log's chain and its head's MAC.

    Exit 1 if any record was edited, removed or reordered, or records were cut from the end.
    """
    from redline.guard import audit_key, verify_audit_db, verify_audit_log

    with user_errors():
        key = audit_key(key_env)
        check = verify_audit_db(log, key) if is_url(log) else verify_audit_log(log, key)
    where = safe_url(log) if is_url(log) else log
    for problem in check.problems:
        typer.echo(f"{where}: {problem}", err=True)
    if not check.ok:
        raise typer.Exit(NEGATIVE)
    typer.echo(f"ok: {check.records} records, chain intact, head {check.head} authenticated")


@audit_app.command("export")
def guard_audit_export(
    db: Annotated[str, typer.Argument(help="PostgreSQL URL of the audit log.")],
    out: Annotated[Path, typer.Argument(help="JSONL file to write (its head beside it).")],
) -> None:
    """Export the audit log in PostgreSQL to a JSONL file and head, for archiving.

    The file verifies with `redline guard audit verify FILE` and the same audit key.
    """
    from redline.guard import export_audit_db

    with user_errors():
        count = export_audit_db(db, out)
    typer.echo(f"wrote {count} records to {out} (head: {out}.head)")


def is_url(target: str) -> bool:
    """Whether an audit log argument is a database URL rather than a file."""
    return "://" in target


@audit_app.command("repair")
def guard_audit_repair(log: Annotated[Path, typer.Argument(help="Audit log (JSONL).")]) -> None:
    """Cut a partial last record (a crash mid-write), keeping every whole one; say what went."""
    from redline.guard import repair_audit_log

    with user_errors():
        repair = repair_audit_log(log)
    if not repair.dropped:
        typer.echo(f"ok: {repair.kept} records, nothing to repair")
        return
    typer.echo(f"kept {repair.kept} records; dropped a partial last line of "
               f"{len(repair.dropped)} characters: {repair.dropped[:200]!r}")  # fmt: skip


@audit_app.command("keygen")
def guard_audit_keygen() -> None:
    """Print a new audit key (set it in REDLINE_AUDIT_KEY for the proxy and for verify)."""
    import secrets

    typer.echo(secrets.token_hex(32))

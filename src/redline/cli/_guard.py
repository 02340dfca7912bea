"""`redline guard train|classify|eval|synth`: build and measure the guard."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from redline.cli._app import app, user_errors
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.guard import Guard

guard_app = typer.Typer(
    help="Train, run and measure the guard (input and output classifiers).", no_args_is_help=True
)
app.add_typer(guard_app, name="guard")

GuardOption = Annotated[
    Path | None, typer.Option("--guard", help="Guard folder (default: the trained default guard).")
]


def _load(folder: Path | None) -> "Guard":
    from redline.guard import Guard, default_guard_dir

    path = folder or default_guard_dir()
    if folder is None and not path.exists():
        raise RedlineError(f"no default guard at {path}: run `redline guard train` first")
    return Guard.load(path)


@guard_app.command("train")
def guard_train(
    constitution: Annotated[
        str, typer.Option(help="Shipped constitution name or YAML file.")
    ] = "default",
    backend: Annotated[
        str | None, typer.Option(help="svm, minilm, tfidf or cascade (default: svm).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Guard folder to write (default: the default guard).")
    ] = None,
    extra: Annotated[
        Path | None, typer.Option(help="Synthetic examples (JSONL from `guard synth`).")
    ] = None,
    target_fpr: Annotated[float, typer.Option(help="False-positive rate to calibrate to.")] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed for augmentation, splits and training.")] = 0,
) -> None:
    """Train input and output classifiers from a constitution."""
    from redline.guard import DEFAULT_BACKEND, default_guard_dir, load_constitution, train_guard
    from redline.guard._data import Example
    from redline.guard._evaluate import load_eval_data

    with user_errors():
        c = load_constitution(constitution)
        extras = [
            Example(r.text, r.label, r.group or c.categories[0].id, "seed", r.text)
            for r in (load_eval_data(extra, "jsonl") if extra else [])
        ]
        guard = train_guard(
            c, backend=backend or DEFAULT_BACKEND, target_fpr=target_fpr, seed=seed, extra=extras
        )
        folder = guard.save(out or default_guard_dir())
    for stage, info in guard.manifest.stages.items():
        typer.echo(
            f"{stage}: {info.backend}, threshold {info.threshold:.3f}, calibration FPR "
            f"{info.calibration_fpr:.3f} TPR {info.calibration_tpr:.3f} "
            f"({info.train_examples} train / {info.calibration_examples} calibration examples)"
        )
    typer.echo(f"trained in {guard.manifest.train_seconds:.1f} s -> {folder}")


@guard_app.command("classify")
def guard_classify(
    text: Annotated[str, typer.Argument(help="Text to screen.")],
    guard: GuardOption = None,
    output: Annotated[bool, typer.Option("--output", help="Screen as a model output.")] = False,
) -> None:
    """Screen one text; exit 1 if it is flagged."""
    stage: Literal["input", "output"] = "output" if output else "input"
    with user_errors():
        [verdict] = _load(guard).classify([text], stage)
    typer.echo(verdict.model_dump_json(indent=2))
    raise typer.Exit(1 if verdict.flagged else 0)


@guard_app.command("eval")
def guard_eval(
    data: Annotated[Path, typer.Option(help="Labelled data file or folder.")],
    format: Annotated[str, typer.Option(help="jsonl, xstest, jbb or openai-moderation.")] = "jsonl",
    guard: GuardOption = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the report JSON here.")
    ] = None,
) -> None:
    """Measure the guard on labelled data: TPR, FPR, precision, F1, AUPRC, latency."""
    from rich.console import Console
    from rich.table import Table

    from redline._files import write_atomic
    from redline.guard._evaluate import evaluate, load_eval_data

    with user_errors():
        rows = load_eval_data(data, format)
        report = evaluate(_load(guard), rows, data=str(data))
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
    """Expand a constitution's seeds with a generator model (for `guard train --extra`)."""
    from redline.guard import load_constitution
    from redline.guard._synth import write_synthetic

    with user_errors():
        n = write_synthetic(load_constitution(constitution), generator, per_class, out, seed)
    typer.echo(f"wrote {n} examples to {out}")

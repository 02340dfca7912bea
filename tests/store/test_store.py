import datetime as dt
import os

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.policy import load_policy
from redline.report import ModelRef
from redline.store import Store, track, triggers

runner = CliRunner()


def checkpoint(report, name: str, compute: float, created: str, comprehensive: bool = True):
    return report.model_copy(
        update={
            "id": f"id-{name}",
            "created": created,
            "comprehensive": comprehensive,
            "model": ModelRef(
                name="scripted/test",
                family="fam",
                checkpoint=name,
                effective_compute=compute,
                date=dt.date.fromisoformat(created[:10]),
            ),
        }
    )


def round_trip(store: Store, report) -> None:
    store.record(report, "/reports/a.json", "ab" * 32)
    store.record(report, "/reports/a.json", "ab" * 32)  # recording twice keeps one row
    [entry] = store.history("fam")
    assert entry.id == report.id and entry.checkpoint == report.model.checkpoint
    assert entry.effective_compute == report.model.effective_compute
    assert entry.outcome == report.decision.outcome == "do_not_deploy"
    assert entry.report_sha256 == "ab" * 32
    knowledge = next(p for p in entry.indicators if p.indicator == "redline_knowledge")
    measured = next(
        i for t in report.decision.thresholds for i in t.indicators if i.id == "redline_knowledge"
    )
    assert knowledge.value == measured.measurement.estimate.value
    assert knowledge.upper == measured.measurement.estimate.upper
    assert knowledge.n == 40 and knowledge.rule_out_below == 0.5 and knowledge.alert_at == 0.4
    assert store.history("other") == []


def test_sqlite_round_trip(synthetic, tmp_path):
    report, _ = synthetic
    round_trip(Store(f"sqlite:///{tmp_path}/h.db"), checkpoint(report, "c1", 1e21, "2026-01-01"))


@pytest.mark.skipif(
    not os.environ.get("REDLINE_TEST_PG_URL"),
    reason="set REDLINE_TEST_PG_URL to a PostgreSQL database to run (.ci/run does)",
)
def test_postgresql_round_trip(synthetic):
    from sqlalchemy import text

    store = Store(os.environ["REDLINE_TEST_PG_URL"])
    with store.engine.begin() as conn:
        conn.execute(
            text("DELETE FROM indicator_values; DELETE FROM assessments; DELETE FROM models")
        )
    report, _ = synthetic
    round_trip(store, checkpoint(report, "c1", 1e21, "2026-01-01"))


def test_default_url_comes_from_the_environment(monkeypatch, tmp_path):
    from redline.store import default_db_url

    monkeypatch.setenv("REDLINE_DB_URL", f"sqlite:///{tmp_path}/env.db")
    assert Store().url == f"sqlite:///{tmp_path}/env.db"
    monkeypatch.delenv("REDLINE_DB_URL")
    assert default_db_url().startswith("sqlite:///") and default_db_url().endswith("redline.db")


def test_a_bad_database_url_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["track", "--db", "nosuchdb://x"])
    assert result.exit_code == 2
    assert result.output.startswith("error: database")


def test_triggers_fire_on_compute_growth_and_elapsed_months(synthetic, tmp_path):
    report, _ = synthetic
    store = Store(f"sqlite:///{tmp_path}/h.db")
    policy = load_policy("rsp")
    store.record(checkpoint(report, "c1", 1e21, "2026-01-10T00:00:00"), "a", "0" * 64)
    store.record(checkpoint(report, "c2", 3e21, "2026-02-10T00:00:00", False), "b", "0" * 64)
    history = store.history("fam")
    assert not triggers(history, policy, dt.date(2026, 3, 1)).due
    later = triggers(history, policy, dt.date(2026, 8, 1))
    assert later.due and "months since the last comprehensive" in later.reasons[0]
    store.record(checkpoint(report, "c3", 4e21, "2026-03-01T00:00:00", False), "c", "0" * 64)
    grown = triggers(store.history("fam"), policy, dt.date(2026, 3, 2))
    assert grown.due and "grew 4x" in grown.reasons[0]
    assert triggers([], policy).due


def test_track_command_prints_history_and_writes_the_page(synthetic, tmp_path):
    report, _ = synthetic
    db = f"sqlite:///{tmp_path}/h.db"
    store = Store(db)
    for i, compute in enumerate([1e20, 1e21, 1e22]):
        store.record(checkpoint(report, f"c{i}", compute, f"2026-0{i + 1}-01"), "x", "0" * 64)
    page = tmp_path / "track.html"
    result = runner.invoke(app, ["track", "--model", "fam", "--db", db, "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert "redline_knowledge" in result.output and "c2" in result.output
    html = page.read_text()
    assert "<svg" in html and "redline_knowledge" in html and "<script" not in html
    assert [t.family for t in track(store, load_policy("rsp"))] == ["fam"]
    missing = runner.invoke(app, ["track", "--model", "nope", "--db", db])
    assert missing.exit_code == 2 and "no assessments of family 'nope'" in missing.output

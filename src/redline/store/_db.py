"""The assessment history: SQLAlchemy tables, SQLite by default, any database by URL."""

import datetime as dt
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from redline._sql import database_error, open_engine
from redline.report import Report

DB_ENV = "REDLINE_DB_URL"


def default_db_url() -> str:
    """`REDLINE_DB_URL` if set, else SQLite in the user's redline data directory."""
    from platformdirs import user_data_dir

    if url := os.environ.get(DB_ENV):
        return url
    return f"sqlite:///{Path(user_data_dir('redline')) / 'redline.db'}"


class Base(DeclarativeBase):
    """Declarative base of redline's tables."""


class ModelRow(Base):
    """One checkpoint of a model family (the lineage)."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("family", "checkpoint"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    family: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    checkpoint: Mapped[str] = mapped_column(String(200))
    effective_compute: Mapped[float | None] = mapped_column(Float, nullable=True)
    date: Mapped[dt.date] = mapped_column(Date)
    assessments: Mapped[list["AssessmentRow"]] = relationship(back_populates="model")


class AssessmentRow(Base):
    """One assessment of one checkpoint."""

    __tablename__ = "assessments"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    created: Mapped[str] = mapped_column(String(40))
    policy: Mapped[str] = mapped_column(String(200))
    profile: Mapped[str] = mapped_column(String(200))
    comprehensive: Mapped[bool]
    outcome: Mapped[str] = mapped_column(String(40))
    required_deployment: Mapped[str] = mapped_column(String(40))
    required_security: Mapped[str] = mapped_column(String(40))
    report_path: Mapped[str] = mapped_column(Text)
    report_sha256: Mapped[str] = mapped_column(String(64))
    model: Mapped[ModelRow] = relationship(back_populates="assessments")
    indicators: Mapped[list["IndicatorRow"]] = relationship(
        back_populates="assessment", cascade="all, delete-orphan"
    )


class IndicatorRow(Base):
    """One indicator's measurement in one assessment, with its interval and lines."""

    __tablename__ = "indicator_values"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), index=True)
    threshold: Mapped[str] = mapped_column(String(200))
    indicator: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(40))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    lower: Mapped[float | None] = mapped_column(Float, nullable=True)
    upper: Mapped[float | None] = mapped_column(Float, nullable=True)
    n: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rule_out_below: Mapped[float | None] = mapped_column(Float, nullable=True)
    alert_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    rule_in_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    assessment: Mapped[AssessmentRow] = relationship(back_populates="indicators")


class IndicatorPoint(BaseModel):
    """An indicator as one assessment measured it."""

    threshold: str
    indicator: str
    metric: str
    status: str
    value: float | None
    lower: float | None
    upper: float | None
    n: int | None
    rule_out_below: float | None
    alert_at: float | None
    rule_in_at: float | None


class HistoryEntry(BaseModel):
    """One recorded assessment with its checkpoint and indicators."""

    id: str
    family: str
    name: str
    checkpoint: str
    effective_compute: float | None
    date: dt.date
    created: str
    policy: str
    profile: str
    comprehensive: bool
    outcome: str
    required_deployment: str
    required_security: str
    report_path: str
    report_sha256: str
    indicators: list[IndicatorPoint]


class Store:
    """Assessment history in a SQL database (tables are created on first use)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_db_url()
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = open_engine(self.url)
        try:
            Base.metadata.create_all(self.engine)
        except SQLAlchemyError as ex:
            raise database_error(self.url, ex) from ex

    def record(self, report: Report, report_path: str, report_sha256: str) -> None:
        """Store one assessment; its checkpoint is created or updated (compute, date)."""
        m = report.model
        try:
            with Session(self.engine) as session, session.begin():
                row = session.scalar(
                    select(ModelRow).where(
                        ModelRow.family == m.family, ModelRow.checkpoint == m.checkpoint
                    )
                )
                if row is None:
                    row = ModelRow(
                        family=m.family, checkpoint=m.checkpoint, name=m.name, date=m.date
                    )
                    session.add(row)
                row.name, row.date = m.name, m.date
                if m.effective_compute is not None:
                    row.effective_compute = m.effective_compute
                d = report.decision
                existing = session.get(AssessmentRow, report.id)
                if existing is not None:  # recording a report again replaces its row
                    session.delete(existing)
                    session.flush()
                session.add(
                    AssessmentRow(
                        id=report.id,
                        model=row,
                        created=report.created,
                        policy=report.policy,
                        profile=report.profile,
                        comprehensive=report.comprehensive,
                        outcome=d.outcome,
                        required_deployment=d.required_deployment,
                        required_security=d.required_security,
                        report_path=report_path,
                        report_sha256=report_sha256,
                        indicators=[
                            IndicatorRow(**_indicator(t.id, ind))
                            for t in d.thresholds
                            for ind in t.indicators
                            if ind.required or ind.measurement
                        ],
                    )
                )
        except SQLAlchemyError as ex:
            raise database_error(self.url, ex) from ex

    def history(self, family: str | None = None) -> list[HistoryEntry]:
        """Recorded assessments (of one family), oldest first."""
        query = select(AssessmentRow).join(ModelRow)
        if family is not None:
            query = query.where(ModelRow.family == family)
        try:
            with Session(self.engine) as session:
                rows = session.scalars(query.order_by(AssessmentRow.created)).all()
                return [_entry(row) for row in rows]
        except SQLAlchemyError as ex:
            raise database_error(self.url, ex) from ex

    def last_comprehensive(self, family: str) -> HistoryEntry | None:
        """The newest comprehensive assessment of a family, if any."""
        found = [e for e in self.history(family) if e.comprehensive]
        return found[-1] if found else None


def _indicator(threshold: str, ind: Any) -> dict[str, Any]:
    e = ind.measurement.estimate if ind.measurement else None
    return {
        "threshold": threshold,
        "indicator": ind.id,
        "metric": ind.metric,
        "status": ind.status,
        "value": e.value if e else None,
        "lower": e.lower if e else None,
        "upper": e.upper if e else None,
        "n": e.n if e else None,
        "rule_out_below": ind.rule_out_below.value if ind.rule_out_below else None,
        "alert_at": ind.alert_at.value if ind.alert_at else None,
        "rule_in_at": ind.rule_in_at.value if ind.rule_in_at else None,
    }


def _entry(row: AssessmentRow) -> HistoryEntry:
    m = row.model
    return HistoryEntry(
        id=row.id,
        family=m.family,
        name=m.name,
        checkpoint=m.checkpoint,
        effective_compute=m.effective_compute,
        date=m.date,
        created=row.created,
        policy=row.policy,
        profile=row.profile,
        comprehensive=row.comprehensive,
        outcome=row.outcome,
        required_deployment=row.required_deployment,
        required_security=row.required_security,
        report_path=row.report_path,
        report_sha256=row.report_sha256,
        indicators=[
            IndicatorPoint(
                **{k: getattr(i, k) for k in IndicatorPoint.model_fields},
            )
            for i in row.indicators
        ],
    )

"""History of assessments (SQLAlchemy: SQLite by default, PostgreSQL by URL) and trends."""

from redline.store._db import DB_ENV, HistoryEntry, IndicatorPoint, Store, default_db_url
from redline.store._track import render_track_html, track
from redline.store._trends import (
    Crossing,
    FamilyTrack,
    Forecast,
    fit_logistic,
    forecast,
    forecasts,
    triggers,
)

__all__ = [
    "DB_ENV",
    "Crossing",
    "FamilyTrack",
    "Forecast",
    "HistoryEntry",
    "IndicatorPoint",
    "Store",
    "default_db_url",
    "fit_logistic",
    "forecast",
    "forecasts",
    "render_track_html",
    "track",
    "triggers",
]

"""Reports: the signed JSON twin, the self-contained HTML page, signing and verification."""

from redline._signing import Signature, canonical_json, default_key_dir, load_or_create_key
from redline.report._html import render_html
from redline.report._model import (
    REPORT_SCHEMA_VERSION,
    AttackComparison,
    AttackResult,
    BestOfN,
    BonPoint,
    FileRecord,
    LogRecord,
    LogRole,
    ModelRef,
    MonitorResult,
    Provenance,
    Report,
    SafeguardsSection,
    StepRecord,
)
from redline.report._sign import Verification, sign_record, verify_report
from redline.report._svg import Line, Series, xy_chart
from redline.report._write import load_report, write_report

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "AttackComparison",
    "AttackResult",
    "BestOfN",
    "BonPoint",
    "FileRecord",
    "Line",
    "LogRecord",
    "LogRole",
    "ModelRef",
    "Provenance",
    "Report",
    "Series",
    "MonitorResult",
    "SafeguardsSection",
    "Signature",
    "StepRecord",
    "Verification",
    "canonical_json",
    "default_key_dir",
    "load_or_create_key",
    "load_report",
    "render_html",
    "sign_record",
    "verify_report",
    "write_report",
    "xy_chart",
]

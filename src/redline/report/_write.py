"""Writing a report: sign it, then write the JSON twin and the HTML page side by side."""

from pathlib import Path

from redline._files import write_atomic
from redline.report._html import render_html
from redline.report._model import Report
from redline.report._sign import sign_record


def write_report(report: Report, json_path: Path, key_dir: Path | None = None) -> Report:
    """Sign `report` and write `json_path` and the HTML beside it (same name, `.html`)."""
    signed = sign_record(report, key_dir)
    write_atomic(json_path, signed.model_dump_json(indent=2) + "\n")
    write_atomic(json_path.with_suffix(".html"), render_html(signed))
    return signed


def load_report(path: Path) -> Report:
    """A report JSON read back (no signature check: use `verify_report` for that)."""
    return Report.model_validate_json(path.read_text(encoding="utf-8"))

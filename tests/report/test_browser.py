"""The HTML report in a real browser: headless Chromium renders the decision and the charts."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from redline.report import BestOfN, BonPoint, write_report

ROOT = Path(__file__).parents[2]
SCREENSHOT = ROOT / "reports" / "report-screenshot.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium is not installed (apt-get install chromium; .ci/run installs it)",
)


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "CI must have Chromium: .ci/run installs it from Debian"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_report_renders_in_headless_chromium(assessment, tmp_path):
    report, out = assessment
    bon = BestOfN(
        observed=[BonPoint(n=n, asr=a, lower=a / 2, upper=min(1, a * 2)) for n, a in
                  [(1, 0.02), (2, 0.035), (4, 0.06), (8, 0.1)]],
        forecast=[BonPoint(n=n, asr=a) for n, a in [(8, 0.1), (32, 0.22), (128, 0.4)]],
        method="synthetic points for the browser test",
    )  # fmt: skip
    report = report.model_copy(
        update={"safeguards": report.safeguards.model_copy(update={"best_of_n": bon})}
    )
    signed = write_report(report, out / "browser.json", tmp_path / "keys")
    url = (out / "browser.html").resolve().as_uri()
    dom = chromium("--dump-dom", url, profile=tmp_path / "profile").stdout
    assert "DO NOT DEPLOY" in dom
    assert signed.decision.required_deployment in dom
    assert dom.count("<svg") >= 5 and "<circle" in dom  # interval bars drawn
    assert 'id="asr-per-attack"' in dom and 'id="best-of-n"' in dom
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    chromium(
        f"--screenshot={SCREENSHOT}", "--window-size=1200,5600", url, profile=tmp_path / "profile"
    )
    assert SCREENSHOT.stat().st_size > 10_000
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

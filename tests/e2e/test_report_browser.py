"""Render report.html in headless Chromium: screenshot it and check the headline numbers show."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "reporting"))
from report_samples import make_data

from recon.reporting.html import write_report_html

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="headless Chromium not installed (CI may apt-get install chromium)",
    ),
]


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
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
        "--window-size=1200,2000",
        *args,
    ]
    # A fixed argv from this file, no shell: nothing untrusted reaches the command line.
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)  # noqa: S603


def test_report_renders_with_headline_numbers(tmp_path: Path) -> None:
    report = write_report_html(make_data(), tmp_path / "report.html")
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    chromium(tmp_path / "profile", f"--screenshot={screenshot}", report.as_uri())
    assert screenshot.exists() and screenshot.stat().st_size > 10_000  # a real picture, not blank
    dom = chromium(tmp_path / "profile2", "--dump-dom", report.as_uri()).stdout
    assert re.search(r'id="kpi-open">5<', dom)
    assert "198.60 USD" in dom and "37.35 EUR" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # shown as text, never run

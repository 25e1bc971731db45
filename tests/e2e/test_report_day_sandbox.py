"""The nightly report over real HTTP against the sandbox is named and dated by the shop's day.

The sandbox's virtual clock starts at its world's *now* (2026-11-01 06:00 UTC): 23:00 on
31 October in Los Angeles; 13 hours later it is 06:00 on 2 November in Sydney.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from test_nightly_sandbox import sandbox_settings

from recon.bootstrap import build_app
from recon.delivery import read_eml
from recon.engine.findings_json import read_findings_json
from recon.service import run_nightly

pytestmark = pytest.mark.e2e


def _finance_mail_subject(outbox: Path, run_id: str) -> str:
    mails = [read_eml(p) for p in outbox.glob("*.eml")]
    (mail,) = [m for m in mails if (m["X-Recon-Run"], m["X-Recon-Team"]) == (run_id, "finance")]
    return str(mail["Subject"])


@pytest.mark.parametrize(
    ("zone", "later", "day", "period"),
    [
        ("Australia/Sydney", timedelta(hours=13), "2026-11-02", "2026-11-01"),
        ("America/Los_Angeles", timedelta(0), "2026-10-31", "2026-10-30"),
    ],
)
def test_the_nightly_report_is_the_shops_day(
    tmp_path: Path, zone: str, later: timedelta, day: str, period: str
) -> None:
    settings = sandbox_settings(tmp_path, seed=2, returns=60)
    settings.shop.timezone = zone
    with build_app(settings) as app:
        app.clock.advance(later)  # type: ignore[attr-defined]
        outcome = run_nightly(app)
    assert outcome.report_dir == tmp_path / "reports" / "sandbox" / day
    assert outcome.files["html"].parent == outcome.report_dir
    html = outcome.files["html"].read_text(encoding="utf-8")
    assert f"period {period} (days in {zone})" in html
    assert _finance_mail_subject(tmp_path / "outbox", outcome.run_id).startswith(
        f"[recon] sandbox {day}: "
    )
    header, _ = read_findings_json(outcome.files["findings"])
    # findings.json keeps the run's moment in UTC: the UTC date is a day off the folder's
    assert header["as_of"] == outcome.as_of.isoformat().replace("+00:00", "Z")
    assert outcome.as_of.date() != datetime.fromisoformat(day).date()


def test_the_upgrade_night_keeps_the_report_a_utc_named_folder_held(tmp_path: Path) -> None:
    """A Los Angeles shop whose reports were named by UTC date: its 23:00 run of 31 October
    wrote ``2026-11-01/``. The first run of 1 November (LA) keeps that report aside."""
    settings = sandbox_settings(tmp_path, seed=2, returns=60)
    with build_app(settings) as app:
        first = run_nightly(app)  # [shop] timezone UTC: as recon named every folder before
        assert first.report_dir.name == "2026-11-01"
        settings.shop.timezone = "America/Los_Angeles"
        app.clock.advance(timedelta(hours=12))  # type: ignore[attr-defined]
        second = run_nightly(app)
    shop_dir = tmp_path / "reports" / "sandbox"
    assert second.report_dir == shop_dir / "2026-11-01"
    header, _ = read_findings_json(shop_dir / "2026-11-01-utc" / "findings.json")
    assert header["run_id"] == first.run_id
    assert (shop_dir / "2026-11-01-utc" / "exceptions.xlsx").exists()
    assert read_findings_json(second.files["findings"])[0]["run_id"] == second.run_id


def test_an_on_demand_run_keeps_the_nightly_report_finance_was_sent(tmp_path: Path) -> None:
    """The 02:00 nightly report was e-mailed to finance; an on-demand run at 10:00 the same day
    writes its own folder (``<day>-2/``) and leaves the nightly's files as they were sent.
    ``latest`` names the newest."""
    settings = sandbox_settings(tmp_path, seed=2, returns=60)
    with build_app(settings) as app:
        nightly = run_nightly(app)
        sent = {name: path.read_bytes() for name, path in nightly.files.items()}
        app.clock.advance(timedelta(hours=4))  # type: ignore[attr-defined]
        on_demand = run_nightly(app)
    shop_dir = tmp_path / "reports" / "sandbox"
    assert nightly.report_dir == shop_dir / "2026-11-01"
    assert on_demand.report_dir == shop_dir / "2026-11-01-2"
    assert {name: path.read_bytes() for name, path in nightly.files.items()} == sent
    assert read_findings_json(nightly.files["findings"])[0]["run_id"] == nightly.run_id
    assert read_findings_json(on_demand.files["findings"])[0]["run_id"] == on_demand.run_id
    assert all(path.parent == on_demand.report_dir for path in on_demand.files.values())
    latest, _ = read_findings_json(shop_dir / "latest" / "findings.json")
    assert latest["run_id"] == on_demand.run_id

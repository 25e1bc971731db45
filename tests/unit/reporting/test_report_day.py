"""The nightly report is named and dated by the shop's day (``[shop] timezone``), not UTC's.

Dataset: the report samples, run at two moments. 2026-11-01 15:00 UTC is 02:00 on 2 November in
Sydney (AEDT, UTC+11): the shop's nightly run of the 2nd, a UTC day earlier. 2026-11-01 02:00
UTC is 19:00 on 31 October in Los Angeles (PDT, UTC-7): a UTC day later.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from report_samples import make_data

from recon.clock import shop_day
from recon.config import DeliverySettings
from recon.deliverables import nightly_period
from recon.delivery import build_messages
from recon.report_folders import UNFINISHED, day_runs, mark_latest, mark_went_out, report_folder
from recon.reporting.exceptions_xlsx import write_run_reports
from recon.reporting.html import render_email, render_report

SYDNEY_NIGHT = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
LA_EVENING = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
CASES = [
    ("Australia/Sydney", SYDNEY_NIGHT, "2026-11-02", "2026-11-01"),
    ("America/Los_Angeles", LA_EVENING, "2026-10-31", "2026-10-30"),
    ("UTC", LA_EVENING, "2026-11-01", "2026-10-31"),
]


@pytest.mark.parametrize(("zone", "as_of", "day", "period"), CASES)
def test_folder_period_and_subject_are_the_shops_day(
    tmp_path: Path, zone: str, as_of: datetime, day: str, period: str
) -> None:
    start, end = nightly_period(as_of, zone)
    data = make_data(as_of=as_of, timezone=zone, period_start=start, period_end=end)
    assert data.period_label == period  # the shop's day that just ended
    folder = report_folder(tmp_path, "sandbox", as_of, zone)
    assert folder == tmp_path / "sandbox" / day
    assert write_run_reports(data, folder).report_html.parent == folder
    recipients = {"finance": ["f@example.com"]}
    (message,) = build_messages(data, DeliverySettings(outbox_dir=tmp_path, recipients=recipients))
    assert str(message["Subject"]).startswith(f"[recon] sandbox {day}: ")


@pytest.mark.parametrize(("zone", "as_of", "day", "period"), CASES)
def test_the_report_and_mails_say_whose_days_they_are(
    zone: str, as_of: datetime, day: str, period: str
) -> None:
    start, end = nightly_period(as_of, zone)
    data = make_data(as_of=as_of, timezone=zone, period_start=start, period_end=end)
    html = render_report(data)
    assert f"<title>recon exceptions – sandbox – {day}</title>" in html
    assert f"period {period} (days in {zone})" in html
    text, mail_html = render_email(data, "finance")
    for body in (text, mail_html):
        assert f"report of {day} ({zone})" in body
        assert f"as of {as_of:%Y-%m-%d %H:%M} UTC" in body


def test_the_service_names_the_folder_as_the_report_does(tmp_path: Path) -> None:
    data = make_data(as_of=SYDNEY_NIGHT, timezone="Australia/Sydney")
    assert shop_day(SYDNEY_NIGHT, "Australia/Sydney") == date(2026, 11, 2)
    folder = report_folder(tmp_path, "sandbox", SYDNEY_NIGHT, "Australia/Sydney")
    assert folder == tmp_path / "sandbox" / data.report_day.isoformat()
    assert folder.name == "2026-11-02"


def _old_report(folder: Path, as_of: str) -> None:
    folder.mkdir(parents=True)
    document = {"format": "recon-findings", "version": 1, "as_of": as_of, "findings": []}
    (folder / "findings.json").write_text(json.dumps(document), encoding="utf-8")
    (folder / "report.html").write_text("the old night's report", encoding="utf-8")


def test_a_folder_named_by_utc_for_another_shop_day_is_kept_not_overwritten(
    tmp_path: Path,
) -> None:
    """Before the upgrade a Los Angeles run at 19:00 on 31 October (02:00 UTC on 1 November) wrote
    ``2026-11-01/``. The first run of 1 November in Los Angeles is named ``2026-11-01`` too: the
    old night's report moves aside to ``2026-11-01-utc/`` instead of being overwritten."""
    _old_report(tmp_path / "sandbox" / "2026-11-01", "2026-11-01T02:00:00Z")
    now = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # 06:00 on 1 November in Los Angeles
    folder = report_folder(tmp_path, "sandbox", now, "America/Los_Angeles")
    assert folder == tmp_path / "sandbox" / "2026-11-01"
    kept = tmp_path / "sandbox" / "2026-11-01-utc" / "report.html"
    assert kept.read_text(encoding="utf-8") == "the old night's report"
    assert folder.is_dir() and not (folder / "report.html").exists()


def test_a_later_run_on_the_same_shop_day_keeps_the_earlier_report(tmp_path: Path) -> None:
    """Finance got the 03:00 report by e-mail; an on-demand run at 07:00 the same (LA) day must
    not write over the archived copy of what was sent: it gets ``2026-11-01-2/``, the next
    ``-3/``, and the first report stays byte for byte."""
    shop_dir = tmp_path / "sandbox"
    _old_report(shop_dir / "2026-11-01", "2026-11-01T10:00:00Z")  # 03:00 in LA
    now = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # 07:00 in LA
    second = report_folder(tmp_path, "sandbox", now, "America/Los_Angeles")
    assert second == shop_dir / "2026-11-01-2"
    (second / "findings.json").write_text("{}", encoding="utf-8")
    third = report_folder(tmp_path, "sandbox", now, "America/Los_Angeles")
    assert third == shop_dir / "2026-11-01-3"
    kept = (shop_dir / "2026-11-01" / "report.html").read_text(encoding="utf-8")
    assert kept == "the old night's report"
    # a fresh folder: nothing of another run in it, only its own mark until it goes out
    assert [p.name for p in third.iterdir()] == [UNFINISHED]


def test_an_empty_folder_of_the_day_is_used_not_skipped(tmp_path: Path) -> None:
    """A run that died before writing anything left ``2026-11-01/`` empty: no report to keep."""
    (tmp_path / "sandbox" / "2026-11-01").mkdir(parents=True)
    now = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    folder = report_folder(tmp_path, "sandbox", now, "America/Los_Angeles")
    assert folder == tmp_path / "sandbox" / "2026-11-01"


def test_a_folder_a_run_died_in_before_writing_is_used_not_skipped(tmp_path: Path) -> None:
    """A run killed right after it began its folder left only the mark: no report to keep."""
    now = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    first = report_folder(tmp_path, "sandbox", now, "UTC")
    assert report_folder(tmp_path, "sandbox", now, "UTC") == first


def test_latest_points_at_the_newest_report(tmp_path: Path) -> None:
    now = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    first = report_folder(tmp_path, "sandbox", now, "UTC")
    (first / "report.html").write_text("first", encoding="utf-8")
    mark_latest(first)
    assert (tmp_path / "sandbox" / "latest" / "report.html").read_text("utf-8") == "first"
    second = report_folder(tmp_path, "sandbox", now, "UTC")
    (second / "report.html").write_text("second", encoding="utf-8")
    mark_latest(second)
    latest = tmp_path / "sandbox" / "latest"
    assert latest.resolve() == second.resolve()
    assert (latest / "report.html").read_text("utf-8") == "second"
    assert (first / "report.html").read_text("utf-8") == "first"


def test_a_later_runs_mails_name_its_run_and_folder(tmp_path: Path) -> None:
    """The folder ``report_folder`` gives a later run of the day names its run in the mail."""
    now = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    first = report_folder(tmp_path, "sandbox", now, "UTC")
    (first / "findings.json").write_text("{}", encoding="utf-8")
    mark_went_out(first)
    second = report_folder(tmp_path, "sandbox", now, "UTC")
    assert (day_runs(first), day_runs(second)) == ((1, 0), (2, 0))
    data = make_data(as_of=now, day_run=2, folder=second.name)
    recipients = {"finance": ["f@example.com"]}
    (message,) = build_messages(data, DeliverySettings(outbox_dir=tmp_path, recipients=recipients))
    assert str(message["Subject"]).startswith("[recon] sandbox 2026-11-01 (run 2): ")
    for body in render_email(data, "finance"):
        assert f"run 2 of the day (folder {second.name})" in body

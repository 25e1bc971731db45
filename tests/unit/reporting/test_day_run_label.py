"""The run a mail and ``report.html`` name counts the day's reports that went out: a run that
failed after it began its report folder sent nothing, so the next one is not "run 2".

Dataset: ``history_shop`` on SQLite. Oct 21 02:00: the nightly run fails writing its report
(disk full) after ``findings.json``. Oct 21 06:00: the rerun reports (folder ``-2``). Oct 21
08:00: an on-demand run reports again (folder ``-3``).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

import recon.deliverables as deliverables
from recon.reporting.data import ReportData
from recon.service import RunOutcome
from tests.unit.store.history_shop import HistoryShop, day, finance_mail


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[HistoryShop]:
    shop = HistoryShop(f"sqlite:///{tmp_path / 'recon.db'}", tmp_path)
    yield shop
    shop.close()


def _finance_mail(shop: HistoryShop, outcome: RunOutcome) -> tuple[str, str]:
    """The subject and the first line of the run's finance e-mail (in the outbox)."""
    subject, lines = finance_mail(shop, outcome)
    return subject, lines[0]


def _disk_full(data: ReportData, directory: Path) -> object:
    raise OSError(errno.ENOSPC, "No space left on device", str(directory))


def test_a_run_that_failed_before_its_report_went_out_is_not_counted(
    shop: HistoryShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as disk:
        disk.setattr(deliverables, "write_run_reports", _disk_full)
        with pytest.raises(OSError, match="No space left"):
            shop.night(day(10, 21, 2))
    failed = shop.settings.reports.dir / "hist" / "2026-10-21"
    assert (failed / "findings.json").exists()  # kept: the failed run's record
    rerun = shop.night(day(10, 21, 6))
    assert rerun.report_dir.name == "2026-10-21-2"
    subject, first_line = _finance_mail(shop, rerun)
    assert "(run" not in subject  # the day's first mail
    said = (
        "folder 2026-10-21-2 (1 earlier run of the day did not finish; its report did not go out)"
    )
    assert said in first_line
    assert said in rerun.files["html"].read_text("utf-8")
    later = shop.night(day(10, 21, 8))
    subject, first_line = _finance_mail(shop, later)
    assert subject.startswith("[recon] hist 2026-10-21 (run 2): ")
    said = (
        "run 2 of the day (folder 2026-10-21-3; 1 earlier run of the day did not finish; "
        "its report did not go out)"
    )
    assert said in first_line
    assert said in later.files["html"].read_text("utf-8")


def test_the_days_first_report_names_no_run(shop: HistoryShop) -> None:
    outcome = shop.night(day(10, 21, 2))
    subject, first_line = _finance_mail(shop, outcome)
    assert "(run" not in subject and "folder" not in first_line
    assert "of the day" not in outcome.files["html"].read_text("utf-8")
    second = shop.night(day(10, 21, 6))
    assert "run 2 of the day (folder 2026-10-21-2)" in _finance_mail(shop, second)[1]
    assert "run 2 of the day (folder 2026-10-21-2)" in second.files["html"].read_text("utf-8")

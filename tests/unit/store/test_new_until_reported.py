""" "New" in the reports means new since the last report that went out: a run that saved its
findings and then failed (its report never written, so never mailed) leaves them new for the
next run's mail; on SQLite and PostgreSQL.

Dataset: ``history_shop``. Sep 20: 1002's ``AMOUNT_MISMATCH`` is first seen, reported. Oct 21:
1003's ``MISSING_REFUND`` is first seen, but the disk is full when the report is written: the
run fails after saving its findings. Oct 21, later: the rerun reports. Oct 22: nothing changed.
"""

from __future__ import annotations

import errno
import re
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

import recon.deliverables as deliverables
from recon.reporting.data import ReportData
from recon.service import RunOutcome
from recon.summary import print_outcome
from tests.unit.store.history_shop import HistoryShop, day, finance_mail


def _finance_mail_says(shop: HistoryShop, outcome: RunOutcome) -> str:
    """The headline line of the run's finance e-mail (in the outbox)."""
    return next(line for line in finance_mail(shop, outcome)[1] if "new:" in line)


def _listed_new(outcome: RunOutcome) -> list[str]:
    """The report's "New" list (category and RMA of each line)."""
    html = outcome.files["html"].read_text("utf-8")
    new = re.search(r"<h3>New</h3>\s*<ul[^>]*>(.*?)</ul>", html, re.S)
    items = re.findall(r"<li>([A-Z_]+) · RMA (\w+)", new.group(1)) if new else []
    return sorted(f"{category} {rma}" for category, rma in items)


def _first_seen(outcome: RunOutcome, at: datetime) -> list[str]:
    """The run's open findings first seen at ``at``, as ``_listed_new`` names them."""
    return sorted(f"{f.category} {f.rma}" for f in outcome.open_findings if f.first_seen == at)


def _console_new(outcome: RunOutcome) -> int:
    """The console summary's "new" column, summed over its categories."""
    console = Console(record=True, width=200)
    print_outcome(console, outcome, None)
    row = r"^│ *[A-Z_]+ *│ *\w+ *│ *(\d+) *│ *(\d+) *│"
    rows = re.findall(row, console.export_text(), re.M)
    assert rows, console.export_text()
    return sum(int(new) for _, new in rows)


def _disk_full(data: ReportData, directory: Path) -> object:
    raise OSError(errno.ENOSPC, "No space left on device", str(directory))


def test_findings_saved_by_a_run_that_failed_are_new_in_the_next_mail_sent(
    shop: HistoryShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = shop.night(day(9, 20, 2))
    assert _listed_new(first) == ["AMOUNT_MISMATCH 1002"]
    with monkeypatch.context() as disk:
        disk.setattr(deliverables, "write_run_reports", _disk_full)
        with pytest.raises(OSError, match="No space left"):
            shop.night(day(10, 21, 2))
    rerun = shop.night(day(10, 21, 6))
    failed_run_saw = _first_seen(rerun, day(10, 21, 2))
    assert "MISSING_REFUND 1003" in failed_run_saw
    assert _listed_new(rerun) == failed_run_saw
    assert f"new: {len(failed_run_saw)}," in _finance_mail_says(shop, rerun)
    assert _console_new(rerun) == len(failed_run_saw)  # the operator's summary agrees
    after = shop.night(day(10, 22, 2))
    assert _listed_new(after) == []
    assert "new: 0," in _finance_mail_says(shop, after)


def test_a_normal_night_lists_each_finding_new_once(shop: HistoryShop) -> None:
    first = shop.night(day(10, 21, 2))
    assert "AMOUNT_MISMATCH 1002" in _listed_new(first)
    assert _listed_new(first) == _first_seen(first, day(10, 21, 2))
    assert _listed_new(shop.night(day(10, 22, 2))) == []

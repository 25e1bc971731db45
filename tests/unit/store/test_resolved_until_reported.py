""" "Resolved" in the reports means resolved since the last report that went out: a run that
resolved a finding and then failed (its report never written, so never mailed) leaves the
resolution to the next run's mail; on SQLite and PostgreSQL.

Dataset: ``history_shop``. Sep 20: 1002's ``AMOUNT_MISMATCH`` (10.00 of 12.02 refunded) is
first seen, reported. Oct 4: the rest of 1002 is refunded (2.02, paid), which resolves it on
Oct 21; but the disk is full when that run writes its report: it fails after saving its
findings. Oct 21, later: the rerun reports. Oct 22: nothing changed.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import pytest

import recon.deliverables as deliverables
from recon.models import Category
from recon.reporting.data import ReportData
from recon.service import RunOutcome
from tests.unit.store.history_shop import MISMATCH, HistoryShop, day, finance_mail


def _finance_mail_says(shop: HistoryShop, outcome: RunOutcome) -> str:
    """The headline line of the run's finance e-mail (in the outbox)."""
    return next(line for line in finance_mail(shop, outcome)[1] if "resolved:" in line)


def _listed_resolved(outcome: RunOutcome) -> list[str]:
    """The report's "Resolved" list (category and RMA of each line)."""
    html = outcome.files["html"].read_text("utf-8")
    listed = re.search(r"<h3>Resolved</h3>\s*<ul[^>]*>(.*?)</ul>", html, re.S)
    items = re.findall(r"<li>([A-Z_]+) · RMA (\w+)", listed.group(1)) if listed else []
    return sorted(f"{category} {rma}" for category, rma in items)


def _disk_full(data: ReportData, directory: Path) -> object:
    raise OSError(errno.ENOSPC, "No space left on device", str(directory))


def test_a_finding_resolved_by_a_run_that_failed_is_resolved_in_the_next_mail_sent(
    shop: HistoryShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.night(day(9, 20, 2))
    shop.refund_the_rest_of_1002(day(10, 4), "SUCCESS", seen=day(10, 4))
    with monkeypatch.context() as disk:
        disk.setattr(deliverables, "write_run_reports", _disk_full)
        with pytest.raises(OSError, match="No space left"):
            shop.night(day(10, 21, 2))
    assert shop.events(MISMATCH)[-1].status == "resolved"  # the failed run resolved it
    rerun = shop.night(day(10, 21, 6))
    assert _listed_resolved(rerun) == ["AMOUNT_MISMATCH 1002"]
    assert "resolved: 1" in _finance_mail_says(shop, rerun)
    after = shop.night(day(10, 22, 2))
    assert _listed_resolved(after) == []
    assert "resolved: 0" in _finance_mail_says(shop, after)


def test_a_normal_night_lists_each_resolution_once(shop: HistoryShop) -> None:
    shop.night(day(9, 20, 2))
    shop.refund_the_rest_of_1002(day(10, 4), "SUCCESS", seen=day(10, 4))
    assert _listed_resolved(shop.night(day(10, 21, 2))) == ["AMOUNT_MISMATCH 1002"]
    assert _listed_resolved(shop.night(day(10, 22, 2))) == []


def test_a_closure_passed_over_while_its_category_was_muted_is_not_announced_later(
    shop: HistoryShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run that resolved 1002's mismatch failed; AMOUNT_MISMATCH was muted before the
    rerun, whose report went out without it. Unmuted in December, the category's news of
    October is not "resolved since the last report that went out"."""
    shop.night(day(9, 20, 2))
    shop.refund_the_rest_of_1002(day(10, 4), "SUCCESS", seen=day(10, 4))
    with monkeypatch.context() as disk:
        disk.setattr(deliverables, "write_run_reports", _disk_full)
        with pytest.raises(OSError, match="No space left"):
            shop.night(day(10, 21, 2))
    shop.settings.engine.muted_categories = [Category.AMOUNT_MISMATCH]
    muted = shop.night(day(10, 21, 6))
    assert _listed_resolved(muted) == []
    assert "resolved: 0" in _finance_mail_says(shop, muted)
    shop.settings.engine.muted_categories = []
    unmuted = shop.night(day(12, 1, 2))
    assert _listed_resolved(unmuted) == []
    assert "resolved: 0" in _finance_mail_says(shop, unmuted)

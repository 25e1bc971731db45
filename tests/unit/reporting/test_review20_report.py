"""Review 20 (the nightly exception report finance reads): what a row, the mails and the
workbook show, read back as finance reads them.

Dataset: the report samples (report_samples.py), with findings added per test: a finding first
seen by last night's run, whose clock read a few seconds later than tonight's.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from report_samples import AS_OF, finding, make_data, sheet_rows

from recon.models import Category, FindingStatus
from recon.reporting.exceptions_xlsx import write_exceptions_workbook


@pytest.mark.xfail(
    strict=True,
    reason="review20: age_days counts elapsed 24-hour spans, not the days since first_seen",
)
@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_a_finding_first_seen_by_last_nights_run_is_a_day_old(tmp_path: Path, zone: str) -> None:
    """Nightly runs start a few seconds apart, never at the same instant: last night's began at
    02:00:05, tonight's at 02:00:00. The row says the finding was first seen on the shop's
    previous day, so its age on tonight's report is one day, not 0 (finance reads age 0 as
    "new tonight", and a finding's age flickers between N and N-1 from night to night)."""
    last_night = AS_OF - timedelta(days=1) + timedelta(seconds=5)
    seen = finding(
        Category.MISSING_REFUND,
        "rma=12345800",
        "48.60",
        "USD",
        rma="12345800",
        first_seen=last_night,
        status=FindingStatus.OPEN,
    )
    data = make_data(findings=[seen], previous_findings=[seen], timezone=zone)
    (row,) = data.exception_rows()
    assert row.first_seen is not None
    assert (data.report_day - row.first_seen).days == 1  # the row's own day: last night's
    assert row.age_days == 1
    path = write_exceptions_workbook(data, tmp_path / "exceptions.xlsx")
    (cells,) = sheet_rows(path, "Exceptions")
    assert cells["age_days"] == 1

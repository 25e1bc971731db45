"""Report fixtures (the dataset is described in report_samples.py)."""

from __future__ import annotations

import pytest
from report_samples import make_data

from recon.reporting.data import ReportData


@pytest.fixture
def report_data() -> ReportData:
    return make_data()

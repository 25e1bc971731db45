"""The order of the findings in ``findings.json`` and the Exceptions sheet compares amounts
only within one currency: recon has no exchange rates, so ¥3,000 (about 20 dollars) must not
rank above $900 because 3000 > 900.

Dataset: eight open findings of one severity (high) in JPY and USD, amounts chosen so that a
raw-amount order interleaves the currencies (¥3,000, $900, ¥100, $50), two USD findings tied
at 50.00 (the key breaks the tie), one critical finding of a small amount (severity first) and
one with no currency (a 0 at risk, last of its severity). ``expected`` is the order finance
reads: severity, then currency, then most money at risk, then key.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from report_samples import AS_OF, finding, make_data, sheet_rows

from recon.engine.findings_json import read_findings_json, write_findings_json
from recon.models import Category, Finding, Severity
from recon.reporting.exceptions_xlsx import write_run_reports

C = Category
FINDINGS = [
    # (category, scope, amount, currency, severity)
    (C.MISSING_REFUND, "rma=1", "3000", "JPY", Severity.HIGH),
    (C.MISSING_REFUND, "rma=2", "900.00", "USD", Severity.HIGH),
    (C.MISSING_REFUND, "rma=3", "100", "JPY", Severity.HIGH),
    (C.MISSING_REFUND, "rma=5", "50.00", "USD", Severity.HIGH),
    (C.MISSING_REFUND, "rma=4", "50.00", "USD", Severity.HIGH),  # a tie: rma=4 before rma=5
    (C.DUPLICATE_REFUND, "rma=6", "1.00", "USD", Severity.CRITICAL),
    (C.STATUS_DRIFT, "order=7", "0", "", Severity.HIGH),
    (C.AMOUNT_MISMATCH, "rma=8", "5000", "JPY", Severity.HIGH),
]
EXPECTED = [
    "DUPLICATE_REFUND|rma=6",
    "AMOUNT_MISMATCH|rma=8",
    "MISSING_REFUND|rma=1",
    "MISSING_REFUND|rma=3",
    "MISSING_REFUND|rma=2",
    "MISSING_REFUND|rma=4",
    "MISSING_REFUND|rma=5",
    "STATUS_DRIFT|order=7",
]


def _findings(seed: int) -> list[Finding]:
    items = [
        finding(category, scope, amount, currency, severity=severity)
        for category, scope, amount, currency, severity in FINDINGS
    ]
    random.Random(seed).shuffle(items)  # the order they come in does not matter
    return items


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_findings_json_ranks_amounts_only_within_a_currency(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "findings.json"
    write_findings_json(path, _findings(seed), shop="s", run_id="r", as_of=AS_OF)
    _, back = read_findings_json(path)
    assert [f.key for f in back] == EXPECTED


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_exceptions_sheet_ranks_amounts_only_within_a_currency(
    tmp_path: Path, seed: int
) -> None:
    data = make_data(findings=_findings(seed), previous_findings=None)
    rows = sheet_rows(write_run_reports(data, tmp_path).exceptions_xlsx, "Exceptions")
    assert [r["key"] for r in rows] == EXPECTED

"""Review 17: today's RMA-list parser and REFUND_FAILED share rule, as finance reads them.

Each test builds a tiny dataset (order 100 in USD; ``as_of`` is 2026-11-01 02:00 UTC) and checks
what a finance analyst would check in ``findings.json``. Each fails on the code as reviewed.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_builders import line, order, refund, ret, rline, run, txn

from recon.config import EngineSettings
from recon.engine.rma import parse_rmas
from recon.models import Category

UNIT = rline("1345", "SKU-A")


@pytest.mark.parametrize(
    ("note", "named"),
    [
        ("RMA 12345,12346", ["12345", "12346"]),
        ("RMAs 12345,12346", ["12345", "12346"]),
        ("RMA 12345, 12346,12347", ["12345", "12346", "12347"]),
    ],
)
def test_a_list_typed_without_spaces_names_every_rma(note: str, named: list[str]) -> None:
    """docs/findings.md: "a list after one RMA names every RMA in it (`RMA 12345, 12346` ...:
    items split by `,`...)". Staff type "12345,12346" as often as "12345, 12346"; an amount
    has one or two decimals after its comma, never five digits."""
    assert parse_rmas(note) == named


def test_a_refund_naming_three_returns_holds_them_all_not_just_two() -> None:
    """Three returns on order 100, 20.00 each; one 20.00 refund whose note names all three
    ("RMA 12345, 12346,12347"). Which return(s) it paid is for a human to decide: the note is
    AMBIGUOUS_RMA and none of the three is proposed a refund (MISSING_REFUND) meanwhile, as
    with "RMA 12345, 12346, 12347". On the code as reviewed the refund links to 12345 alone and
    12346 and 12347 raise MISSING_REFUND: remediation proposes refunding them, money the note
    says may already be paid."""
    result = run(
        ret("12345"),
        ret("12346"),
        ret("12347"),
        order(),
        refund("500", "RMA 12345, 12346,12347", (txn("6500", "20.00"),)),
    )
    categories = {f.key: f.category for f in result.findings}
    assert categories.get("AMBIGUOUS_RMA|refund=500") is Category.AMBIGUOUS_RMA
    assert not [f.key for f in result.findings if f.category is Category.MISSING_REFUND]


def test_declined_rest_of_a_partly_paid_return_is_at_risk_when_amount_mismatch_is_muted() -> None:
    """40.00 owed; 20.00 paid; the other 20.00 declined. docs/findings.md prices the shortfall
    once, on AMOUNT_MISMATCH, and the REFUND_FAILED beside it at 0. A shop that mutes
    AMOUNT_MISMATCH (``[engine] muted_categories``: e.g. Loop's refund routinely differs by a
    fee) is not told about it, so the 20.00 still owed must stay on the REFUND_FAILED it does
    see: before today's change it did (20.00), now finance's money at risk for the return
    reads 0.00 and the detail points to a finding the shop never gets."""
    records = _partly_paid_rest_declined()
    unmuted = {f.key: f.amount_at_risk for f in run(*records).findings}
    assert unmuted["AMOUNT_MISMATCH|rma=12345"] == Decimal("20.00")  # the shop is told there
    settings = EngineSettings(muted_categories=[Category.AMOUNT_MISMATCH])
    at_risk = sum(
        (
            f.amount_at_risk
            for f in run(*records, settings=settings).findings
            if f.category in (Category.REFUND_FAILED, Category.AMOUNT_MISMATCH)
        ),
        Decimal(0),
    )
    assert at_risk == Decimal("20.00")


def _partly_paid_rest_declined() -> list[object]:
    """Return 12345 owes 40.00: refund 500 paid 20.00, refund 501 (later) declined 20.00."""
    return [
        ret("12345", refund="40.00", lines=(line("1345", "SKU-A", "40.00"),)),
        order(),
        refund("500", "Loop RMA #12345", (txn("6500", "20.00", days=3),), lines=(UNIT,), days=3),
        refund("501", "Loop RMA #12345", (txn("6501", "20.00", status="FAILURE"),)),
    ]

"""Truth tables: declined refunds price what the return still owes once (docs/findings.md
REFUND_FAILED, AMOUNT_MISMATCH).

Every dataset is return 12345 on order 100 (USD shop), closed, Loop refund as given; refunds
name it in their notes; ``as_of`` is 2026-11-01 02:00 UTC. ``expected`` maps each finding's key
to its amount at risk: what a finance analyst adds up.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_builders import line, order, refund, ret, rline, run, txn

from recon.models import LoopReturnRecord, RefundRecord

RMA = "12345"
NOTE = f"Loop RMA #{RMA}"
UNIT = rline("1345", "SKU-A")


def declined(fid: str, amount: str, *, days: float = 2) -> object:
    """Refund ``fid`` of RMA 12345, its one transaction (``6<fid>``) declined."""
    return refund(fid, NOTE, (txn("6" + fid, amount, status="FAILURE", days=days),), days=days)


def paid(fid: str, amount: str, *, days: float = 2) -> object:
    """Refund ``fid`` of RMA 12345, its one transaction (``6<fid>``) went through."""
    return refund(fid, NOTE, (txn("6" + fid, amount, days=days),), lines=(UNIT,), days=days)


# (records, expected {key: amount at risk}); restocks aside: the unit is restocked or not owed.
CASES: dict[str, tuple[list[object], dict[str, Decimal]]] = {
    "one declined refund: what is owed is at risk": (
        [ret(RMA), order(), declined("500", "20.00")],
        {"REFUND_FAILED|refund=500": Decimal("20.00")},
    ),
    "declined, the retry declined too: 20.00 owed is at risk once, on the latest attempt": (
        [ret(RMA), order(), declined("500", "20.00", days=3), declined("501", "20.00")],
        {
            "REFUND_FAILED|refund=500": Decimal("0.00"),
            "REFUND_FAILED|refund=501": Decimal("20.00"),
        },
    ),
    "the retry declined carries a lower id than the first attempt: its time decides": (
        [ret(RMA), order(), declined("502", "20.00", days=3), declined("501", "20.00")],
        {
            "REFUND_FAILED|refund=501": Decimal("20.00"),
            "REFUND_FAILED|refund=502": Decimal("0.00"),
        },
    ),
    "three declined attempts, the last one for part: the owed 20.00 is spread, latest first": (
        [
            ret(RMA),
            order(),
            declined("500", "20.00", days=4),
            declined("501", "20.00", days=3),
            declined("502", "15.00"),
        ],
        {
            "REFUND_FAILED|refund=500": Decimal("0.00"),
            "REFUND_FAILED|refund=501": Decimal("5.00"),
            "REFUND_FAILED|refund=502": Decimal("15.00"),
        },
    ),
    "a declined refund of more than is owed is at risk for what is owed": (
        [ret(RMA), order(), declined("500", "25.00")],
        {"REFUND_FAILED|refund=500": Decimal("20.00")},
    ),
    "40.00 owed, 20.00 paid, the other 20.00 declined: the shortfall is priced once": (
        [
            ret(RMA, refund="40.00", lines=(line("1345", "SKU-A", "40.00"),)),
            order(),
            paid("500", "20.00", days=3),
            declined("501", "20.00"),
        ],
        {
            "AMOUNT_MISMATCH|rma=12345": Decimal("20.00"),
            "REFUND_FAILED|refund=501": Decimal("0.00"),
        },
    ),
    "declined, then a retry paid 12.00 of 20.00: 8.00 short, priced once": (
        [ret(RMA), order(), declined("500", "20.00", days=3), paid("501", "12.00")],
        {
            "AMOUNT_MISMATCH|rma=12345": Decimal("8.00"),
            "REFUND_FAILED|refund=500": Decimal("0.00"),
        },
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_money_at_risk_of_declined_refunds(name: str) -> None:
    records, expected = CASES[name]
    result = run(*records)
    money = {
        f.key: f.amount_at_risk
        for f in result.findings
        if f.category.value in ("REFUND_FAILED", "AMOUNT_MISMATCH", "MISSING_REFUND")
    }
    assert money == expected


@pytest.mark.parametrize("name", list(CASES))
def test_a_returns_failed_refunds_never_put_more_at_risk_than_it_owes(name: str) -> None:
    """The invariant finance reads the report by: Σ money at risk on one return's refunds ≤
    what Loop says it owes less what went through."""
    records, _ = CASES[name]
    owed = next(r.refund for r in records if isinstance(r, LoopReturnRecord))
    owed -= sum(
        (
            t.amount
            for r in records
            if isinstance(r, RefundRecord)
            for t in r.transactions
            if t.status == "SUCCESS"
        ),
        Decimal(0),
    )
    at_risk = sum(
        (
            f.amount_at_risk
            for f in run(*records).findings
            if f.category.value in ("REFUND_FAILED", "AMOUNT_MISMATCH")
        ),
        Decimal(0),
    )
    assert at_risk <= owed


def test_a_refund_failed_priced_zero_says_where_its_money_is() -> None:
    """The declined part of a partly paid return: CX still sees the declined refund and its
    transaction, and the detail says the shortfall is on the return's AMOUNT_MISMATCH."""
    records, _ = CASES[
        "40.00 owed, 20.00 paid, the other 20.00 declined: the shortfall is priced once"
    ]
    (failed,) = [f for f in run(*records).findings if f.category.value == "REFUND_FAILED"]
    assert failed.transaction_ids == ("6501",)
    assert "AMOUNT_MISMATCH" in failed.detail

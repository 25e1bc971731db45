"""Review 16: the engine against docs/findings.md, rule by rule, as finance reads it.

Each test builds a tiny dataset (order 100 in USD unless it says otherwise; ``as_of`` is
2026-11-01 02:00 UTC) and checks what a finance analyst would check in ``findings.json`` or the
match table. They fail on the code as reviewed (``xfail(strict=True)``); the lead removes the
marker with the fix.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_builders import bt, keyset, order, payout, refund, ret, run, txn

from recon.models import Category

RMA = "12345"
PLI = "1345"  # the default return line's Shopify line item id for RMA 12345


def _paid(fid: str, tid: str, note: str, amount: str = "20.00", **kw: object) -> list[object]:
    """Refund ``fid`` of ``amount`` (one card transaction ``tid``), paid out in payout 700."""
    order_id = str(kw.pop("order_id", "100"))
    return [
        refund(fid, note, (txn(tid, amount),), order_id=order_id, **kw),  # type: ignore[arg-type]
        bt("8" + tid, tid, amount),
    ]


@pytest.mark.xfail(
    strict=True,
    reason="review16: DUPLICATE_REFUND and REFUND_ON_CANCELLED_RETURN price the same dollars",
)
def test_a_cancelled_return_refunded_twice_puts_its_money_at_risk_once() -> None:
    """Return 12345 (20.00) was cancelled; Shopify still refunded it twice, 20.00 each, both
    notes naming the RMA. 40.00 left the shop for a return that owes nothing.

    docs/findings.md prices REFUND_ON_CANCELLED_RETURN at Σ covered over the linked refunds
    (40.00): every refunded dollar. The engine also raises DUPLICATE_REFUND for the same two
    refunds at total - R.refund (20.00), so the report's money at risk for this RMA reads 60.00
    against 40.00 out of the bank. AMOUNT_MISMATCH ("not for cancelled/expired R") and
    REFUND_FAILED already stand aside for a cancelled return for this reason; finance summing
    the USD money at risk (report headline, month-end Summary) overstates it by 20.00.
    """
    result = run(
        ret(RMA, state="cancelled", label="pending"),
        order(),
        payout(),
        *_paid("500", "600", f"Loop RMA #{RMA}"),
        *_paid("501", "601", f"Loop RMA #{RMA}"),
    )
    mine = [f for f in result.findings if f.rma == RMA and f.currency == "USD"]
    assert (Category.REFUND_ON_CANCELLED_RETURN.value, f"rma={RMA}") in keyset(result)
    assert sum((f.amount_at_risk for f in mine), Decimal(0)) == Decimal("40.00")

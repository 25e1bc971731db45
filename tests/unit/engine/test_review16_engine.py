"""Review 16: the engine against docs/findings.md, rule by rule, as finance reads it.

Each test builds a tiny dataset (order 100 in USD unless it says otherwise; ``as_of`` is
2026-11-01 02:00 UTC) and checks what a finance analyst would check in ``findings.json`` or the
match table. Each failed on the code as reviewed, and passes with its fix.
"""

from __future__ import annotations

from decimal import Decimal

from engine_builders import bt, keyset, line, order, payout, refund, ret, rline, run, txn

from recon.engine.rma import parse_rmas
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


def test_the_order_number_beside_an_rma_is_dropped_though_another_order_has_that_return() -> None:
    """Refund 500 on order #1043 says "Return #1043 - Loop RMA #12345": findings.md link 1's own
    example, which names one RMA, 12345. Here Loop also has a return numbered 1043, on order
    #2000 (Loop ids and order numbers share a range in a young shop): closed, 20.00 owed,
    never refunded, its unit back and not restocked.

    findings.md: a return of another order is one "Loop does not have for this refund" and "its
    own order number is dropped as above"; "the order number is dropped the same way from a
    note naming several numbers". The note alone ("Return #1043") is read that way today: the
    number is dropped. Beside "Loop RMA #12345" it is kept, so the refund that paid 12345 in
    full links nothing and raises AMBIGUOUS_RMA, and return 1043 counts as named by it: its
    MISSING_REFUND and MISSING_RESTOCK are held back. The customer of order #2000, owed 20.00,
    appears in no finding, because of a refund on another order that only named its own number.
    """
    result = run(
        ret(RMA, order="1043"),
        ret("1043", order="2000", lines=(line("1043", "SKU-Z"),)),
        order("1043"),
        order("2000"),
        payout(),
        *_paid(
            "500",
            "600",
            f"Return #1043 - Loop RMA #{RMA}",
            order_id="1043",
            lines=(rline(PLI, "SKU-A"),),
        ),
    )
    assert keyset(result) == {
        (Category.MISSING_REFUND.value, "rma=1043"),
        (Category.MISSING_RESTOCK.value, "rma=1043,line=1043"),
    }
    linked = result.links.set_index("refund_id")
    assert linked.loc["500", "rma"] == RMA
    assert linked.loc["500", "match_method"] == "note"


def test_an_unsettled_refund_waiting_on_the_merchant_does_not_say_it_is_in_no_payout() -> None:
    """Refund transaction 600 (15 days old) sits in payout 701, whose balance transaction is
    ACTION_REQUIRED: findings.md "its payout waits on the merchant: no money in the bank".

    The finding names payout 701 (``payout_id``) and its detail says "refund transaction not in
    any payout yet". Finance, told it is in no payout, chases Shopify for a payout that exists;
    what is needed is the merchant's action on payout 701 (bank details, verification).
    """
    result = run(
        ret(RMA),
        order(),
        payout("701", status="SCHEDULED"),
        refund(
            "500", f"Loop RMA #{RMA}", (txn("600", "20", days=15),), lines=(rline(PLI, "SKU-A"),)
        ),
        bt("8600", "600", "20", payout="701", status="ACTION_REQUIRED"),
    )
    (finding,) = result.findings
    assert finding.key == "UNSETTLED_REFUND|transaction=600"
    assert finding.payout_id == "701"
    assert "not in any payout" not in finding.detail


def test_a_number_longer_than_an_rma_names_no_rma() -> None:
    """findings.md: an RMA has "3 to 20 digits". A 21-digit reference typed after "RMA" (a
    card or carrier reference) is no RMA; the pattern has no end boundary, so its first 20
    digits are read as RMA 12345678901234567890, a number the note does not contain, and the
    refund raises UNKNOWN_RMA (holding the order's refunds) naming it."""
    assert parse_rmas("RMA 123456789012345678901") == []

"""Review 22A: the engine's classification core, on inputs a real shop produces.

Each test builds a tiny dataset (order 100 in USD unless it says otherwise; ``as_of`` is
2026-11-01 02:00 UTC) through the truth-table builders and checks what finance or the warehouse
would read in ``findings.json``. Each failed on the code as reviewed; all are fixed (review22A).
"""

from __future__ import annotations

from engine_builders import (
    AS_OF,
    bt,
    frames_of,
    keyset,
    line,
    order,
    payout,
    refund,
    ret,
    rline,
    run,
    txn,
)

from recon.config import EngineSettings
from recon.engine import reconcile


def two_returns_one_refund(amount: str) -> set[tuple[str, str]]:
    """Returns 12345 (line item 1345, SKU-A) and 12346 (line item 1346, SKU-B) on order 100,
    20.00 each, both received. One refund 500 whose note names 12345 only ("Loop RMA #12345")
    refunds ``amount`` and restocks both line items (restockType RETURN), paid out in 700."""
    return keyset(
        run(
            ret("12345"),
            ret("12346", lines=(line("1346", "SKU-B"),)),
            order(),
            payout(),
            refund(
                "500",
                "Loop RMA #12345",
                (txn("600", amount),),
                lines=(rline("1345", "SKU-A"), rline("1346", "SKU-B")),
            ),
            bt("8600", "600", amount),
        )
    )


def test_a_unit_restocked_by_a_refund_of_another_rma_is_not_missing_a_restock() -> None:
    """DESIGN decision 9: "A refund with restockType: RETURN already restocks: never adjust
    inventory for the same unit twice." Refund 500 (note "Loop RMA #12345") restocked line item
    1346, which only return 12346 returned: Shopify's stock already holds that unit. The engine
    counts restocks only through refunds *linked* to the return (linked_lines), so 12346's unit
    reads as not restocked and MISSING_RESTOCK asks the warehouse (or recon's restock, or the
    RETURN line of recon's refund for 12346's MISSING_REFUND) to put it back a second time:
    ghost stock of one unit."""
    found = two_returns_one_refund("20.00")
    assert ("MISSING_RESTOCK", "rma=12346,line=1346") not in found


def test_a_refund_paying_two_returns_lines_does_not_leave_the_second_owed() -> None:
    """One 40.00 refund of order 100, note "Loop RMA #12345", refunding and restocking the
    line items of both returns (20.00 each): the customer has 12346's money. findings.md link 1
    makes a note that *mentions* a sibling return AMBIGUOUS_RMA precisely because "tying such a
    refund to 12345 alone would leave 12346 looking unpaid, which recon would propose refunding
    again"; a refund whose own lines name 12346's line item is stronger evidence than a bare
    number in its note, yet the engine raises AMOUNT_MISMATCH (over) on 12345 and
    MISSING_REFUND 20.00 on 12346, and nothing holds the order: the refund recon plans for
    12346 (auto_apply or one approval) pays the customer twice."""
    found = two_returns_one_refund("40.00")
    assert ("MISSING_REFUND", "rma=12346") not in found


def test_a_return_passed_twice_keeps_one_copy_of_its_units() -> None:
    """build_frames: "Duplicate records (same natural id) keep the last one, as the mirror's
    upsert would." Return 12345 read twice (open in transit, then closed and processed) keeps
    the closed one, but both copies' line items stay in ``return_lines``: line item 1345 has
    two units, one restocked by refund 500, so the engine raises MISSING_RESTOCK "1 of 2
    received units not restocked" (and SKU_MISMATCH) for a return of one unit that Shopify
    restocked."""
    before = ret("12345", state="open", label="in_transit", processed=False)
    frames = frames_of(
        before,
        ret("12345"),
        order(),
        payout(),
        refund("500", "Loop RMA #12345", (txn("600", "20.00"),), lines=(rline("1345", "SKU-A"),)),
        bt("8600", "600", "20.00"),
    )
    found = keyset(reconcile(frames, EngineSettings(), AS_OF))
    assert ("MISSING_RESTOCK", "rma=12345,line=1345") not in found
    assert ("SKU_MISMATCH", "rma=12345") not in found


def test_a_refund_passed_twice_restocks_its_unit_once() -> None:
    """Refund 500 of return 12345 (one unit, restocked) read twice: build_frames keeps one
    refund row and one transaction row, but both copies' refund lines, so the unit reads as
    restocked twice: GHOST_INVENTORY "restocked more units than were returned" (and
    SKU_MISMATCH) on a return that reconciles."""
    paid = refund("500", "Loop RMA #12345", (txn("600", "20.00"),), lines=(rline("1345", "SKU-A"),))
    frames = frames_of(ret("12345"), order(), payout(), paid, paid, bt("8600", "600", "20.00"))
    assert keyset(reconcile(frames, EngineSettings(), AS_OF)) == set()


def test_a_zero_amount_refund_transaction_is_not_unsettled() -> None:
    """An exchange return 12345 (nothing owed to the card) processed by a restock-only refund
    500 ("Loop RMA #12345") 20 days ago whose one transaction is 0.00 SUCCESS on
    shopify_payments. No money left the balance, so Shopify Payments books no REFUND balance
    transaction and no payout will ever carry it; the engine still raises UNSETTLED_REFUND
    0.00 "refund transaction not in any payout yet" ("Check the payout for this refund"), a
    medium finance finding that never resolves."""
    found = keyset(
        run(
            ret("12345", refund="0", outcome="exchange", total="20.00"),
            order(),
            refund(
                "500",
                "Loop RMA #12345",
                (txn("600", "0.00", days=20),),
                lines=(rline("1345", "SKU-A"),),
                days=20,
            ),
        )
    )
    assert ("UNSETTLED_REFUND", "transaction=600") not in found


def test_a_zero_amount_refund_beside_a_paid_one_reads_paid_out_whole() -> None:
    """Return 12345 refunded 20.00 by refund 500 (paid out in 700), then a restock-only refund
    501 of the same RMA whose one transaction is 0.00: the Matched sheet lists both
    transactions and names payout 700 alone, PAID. A "(none) / PENDING" pair for the 0.00 one
    read as money still to be paid out, which no payout will ever carry. The tie-out is the
    payout's balance transactions, untouched."""
    result = run(
        ret("12345"),
        order(),
        payout(refunds_gross="20.00"),
        refund("500", "Loop RMA #12345", (txn("600", "20.00", days=20),), days=20),
        refund(
            "501",
            "Loop RMA #12345",
            (txn("601", "0.00", days=20),),
            lines=(rline("1345", "SKU-A"),),
            days=20,
        ),
        bt("8600", "600", "20.00"),
    )
    assert keyset(result) == set()
    row = result.matches.set_index("rma").loc["12345"]
    assert row["transaction_ids"] == "600,601"
    assert (row["payout_ids"], row["payout_statuses"]) == ("700", "PAID")
    tie = result.payout_tieout.set_index("payout_id").loc["700"]
    assert (tie["refunds_count"], tie["refunds_matched"], str(tie["difference"])) == (1, 1, "0.00")

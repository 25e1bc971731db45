"""Restock rules on inputs at their edges: returns with no line items, products with no SKU."""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_builders import bt, keyset, order, payout, refund, ret, rline, run, txn

from recon.models import Category, ReturnLine

RMA = "12345"


def test_a_return_listed_without_lines_and_a_unit_recon_restocked_fail_no_run() -> None:
    """The run's only return, 12345, is listed by Loop with no line items (``line_items`` null
    reads as none), and recon's ledger restocked a unit of it earlier (its line item id not
    recorded). No unit can be priced, so no stock finding; the return's money finding is still
    raised. The engine raised an IndexError: the whole run failed and no report went out."""
    records = [ret(RMA, lines=()), order()]
    result = run(*records, restocked={(RMA, ""): ("9001",)})
    assert keyset(result) == {(Category.MISSING_REFUND.value, f"rma={RMA}")}


def _no_sku_order(hand_sku: str | None) -> list[object]:
    """Order 100 sells two products without SKUs (Shopify's ``sku`` null or ""): line item 1,
    returned through Loop (RMA 12345) and refunded with recon's note, and line item 2, which
    staff restocked by hand with a restock-only refund (no money, no note)."""
    unit = ReturnLine(
        line_item_id="9001", provider_line_item_id="1", sku=hand_sku, price=Decimal("20.00")
    )
    paid = rline("1", "X").model_copy(update={"sku": hand_sku})
    hand = rline("2", "X").model_copy(update={"sku": hand_sku})
    return [
        ret(RMA, lines=(unit,)),
        order(),
        payout(),
        refund("500", f"Loop RMA #{RMA}", (txn("600", "20.00"),), lines=(paid,)),
        bt("8600", "600", "20.00"),
        refund("501", None, (), lines=(hand,)),
    ]


@pytest.mark.parametrize("no_sku", [None, ""])
def test_a_hand_restock_of_another_item_without_sku_is_none_of_recons(no_sku: str | None) -> None:
    """findings.md UNMATCHED_REFUND: a restock-only refund counts when it restocked an item a
    Loop return on its order has, "same line item, or same SKU". Two products that both lack a
    SKU are not the same item: the hand restock of line item 2 raised an UNMATCHED_REFUND that
    held recon's writes on the order and never resolved."""
    assert keyset(run(*_no_sku_order(no_sku))) == set()


def test_a_hand_restock_of_the_returned_line_item_without_sku_still_counts() -> None:
    """The same refund restocking line item 1 (the returned one) is still recon's business."""
    records = _no_sku_order(None)
    hand = rline("1", "X").model_copy(update={"sku": None})
    records[-1] = refund("501", None, (), lines=(hand,))
    assert (Category.UNMATCHED_REFUND.value, "refund=501") in keyset(run(*records))


@pytest.mark.parametrize("no_sku", [None, ""])
def test_a_refund_line_of_another_item_without_sku_restocks_no_unit_of_the_return(
    no_sku: str | None,
) -> None:
    """Refund 500 (recon's note) pays the returned line item 1 and restocks it, and also
    restocks line item 2, which no return has; neither product has a SKU. Refund lines link to
    return units by line item, then by SKU (findings.md): line item 2 has no SKU to link by, so
    it restocked no unit of the return. It was taken for a second restock of line item 1: a
    GHOST_INVENTORY "restocked more units than were returned", and warehouse told to remove stock
    that is there."""
    records = _no_sku_order(no_sku)
    paid = rline("1", "X").model_copy(update={"sku": no_sku})
    other = rline("2", "X").model_copy(update={"sku": no_sku})
    records[3] = refund("500", f"Loop RMA #{RMA}", (txn("600", "20.00"),), lines=(paid, other))
    del records[-1]
    found = keyset(run(*records))
    assert (Category.GHOST_INVENTORY.value, f"rma={RMA},line=1") not in found
    assert found == {(Category.SKU_MISMATCH.value, f"rma={RMA}")}  # two lines, one returned

"""Seam review (session 14): the new default RMA patterns versus amounts typed after "RMA".

The hand-typed forms (1e2e21e) added "-" as a separator ("RMA-12345", "RMA - 12345") and
"no"/"number" between RMA and the digits. A note that says there is no RMA and then an amount,
as staff write on a goodwill refund, now reads the amount's whole part as an RMA: the example
config and the commit promise the defaults read no amounts, and the patterns before read none
of these notes.
"""

from __future__ import annotations

import pytest
from engine_builders import bt, keyset, order, payout, refund, ret, run, txn

from recon.engine.rma import parse_rmas


@pytest.mark.parametrize(
    "note",
    [
        "No RMA - 150.00 goodwill",
        "Goodwill refund, no RMA - 150.00",
        "RMA - 150.00 shipping refunded, no return",
    ],
)
def test_an_amount_after_rma_and_a_dash_is_not_an_rma(note: str) -> None:
    """None of these notes names a return: the number is an amount (it has cents), as in the
    defaults' own table, where "No RMA. 150.00 back to the card" names none."""
    assert parse_rmas(note) == []


def test_a_goodwill_refund_is_not_linked_to_a_return_by_its_amount() -> None:
    """Return 150 on order 100: Loop says refund 20.00, and Shopify has no refund for it. The
    order also has a 150.00 goodwill refund whose note says "No RMA - 150.00 goodwill".

    Finance must see return 150's refund missing (MISSING_REFUND, which recon can pay); with
    the amount read as RMA 150 the goodwill refund is matched to the return by its note and
    the missing refund shows as an AMOUNT_MISMATCH instead.
    """
    result = run(
        ret("150"),
        order(),
        payout(),
        refund("500", "No RMA - 150.00 goodwill", (txn("600", "150.00"),)),
        bt("8600", "600", "150.00"),
    )
    assert "note" not in set(result.matches["match_method"])
    assert ("MISSING_REFUND", "rma=150") in keyset(result)

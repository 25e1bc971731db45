"""Review 18b: a whole amount with its currency after it stays an amount when more text follows.

docs/findings.md (link 1): "RMA 12345, 150 USD" names one RMA, 12345: a whole amount with its
currency after it is no RMA. Commit 3565715 widened ``_CURRENCY_AFTER``'s look-ahead from
``(?!\\s*\\d)`` to ``(?![\\s:=(\\-]*\\d)`` so that "12346 EUR: 40.00" keeps 12346 an RMA. Any
digit after those characters now counts as an amount the currency leads, so a note that goes
on after the amount with a count, a date or a percentage ("150 USD (2 items)", "150 USD - 2
items", "150 USD (2026-11-01)") has its 150 read as a second RMA. Such a refund, recon's
ordinary full refund of return 12345, links nothing and is AMBIGUOUS_RMA (which cannot be
muted); 12345 then looks unpaid. Before 3565715 these notes linked to 12345.

Dataset: return 12345 on order 100, 150.00, refunded in full by refund 500 whose note names it
and its amount, then more text; paid out in payout 700.
"""

from __future__ import annotations

import pytest
from engine_builders import bt, keyset, line, order, payout, refund, ret, rline, run, txn

from recon.config import DEFAULT_RMA_PATTERNS
from recon.engine.rma import parse_rmas

NOTES = [
    "RMA 12345, 150 USD (2 items)",
    "RMA 12345, 150 USD - 2 items",
    "RMA 12345 / 150 EUR (2 pairs)",
    "RMA 12345, 150 USD (2026-11-01)",
    "RMA 12345, 150 USD: 2 items restocked",
]


@pytest.mark.parametrize("note", NOTES)
def test_an_amount_with_its_currency_after_it_is_no_rma_when_text_follows(note: str) -> None:
    assert tuple(parse_rmas(note, DEFAULT_RMA_PATTERNS)) == ("12345",)


@pytest.mark.parametrize("note", NOTES)
def test_a_full_refund_whose_note_names_its_amount_links_to_its_return(note: str) -> None:
    """Finance sees no finding: refund 500 pays return 12345 in full and is linked by its note."""
    result = run(
        ret("12345", refund="150.00", lines=(line("1345", "SKU-A", "150.00"),)),
        order(),
        payout(),
        refund("500", note, (txn("600", "150.00"),), lines=(rline("1345", "SKU-A"),)),
        bt("8600", "600", "150.00"),
    )
    assert ("AMBIGUOUS_RMA", "refund=500") not in keyset(result)
    links = dict(zip(result.links["refund_id"], result.links["rma"], strict=True))
    assert links == {"500": "12345"}

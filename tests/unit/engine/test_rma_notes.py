"""RMA notes finance reads wrong: numbers glued to "-<digit>", and lists after one "RMA".

Each dataset is order 100 (USD shop) with closed 20.00 returns; ``as_of`` is 2026-11-01 02:00
UTC. What is asserted is what finance sees: which return a refund is tied to, and the findings.
"""

from __future__ import annotations

from typing import Any

import pytest
from engine_builders import (
    bt,
    keyset,
    line,
    one_refund_of_two_returns,
    order,
    payout,
    refund,
    ret,
    rline,
    run,
    txn,
)


def _refund_of_12345_beside_555(note: str) -> Any:
    """Returns 12345 (SKU-A) and 555 (SKU-B) on order 100; refund 500 pays back 12345's unit
    (20.00, paid out) with ``note``."""
    return run(
        ret("12345"),
        ret("555", lines=(line("1555", "SKU-B"),)),
        order(),
        payout(),
        refund("500", note, (txn("600", "20.00"),), lines=(rline("1345", "SKU-A"),)),
        bt("8600", "600", "20.00"),
    )


@pytest.mark.parametrize("note", ["Customer called, RMA 555-1234", "RMA 555-12 (ticket)"])
def test_a_number_glued_to_a_dash_and_digits_does_not_name_that_return(note: str) -> None:
    """ "RMA 555-1234" is a phone number, not return 555: the refund is 12345's (same order,
    amount and SKU), and 555's refund is missing, which recon can pay; before, 500 was tied to
    555 by its note, 555 looked paid and 12345 unpaid."""
    result = _refund_of_12345_beside_555(note)
    linked = dict(zip(result.matches["rma"], result.matches["refund_ids"], strict=True))
    assert linked == {"12345": "500", "555": ""}
    assert keyset(result) == {
        ("MISSING_REFUND", "rma=555"),
        ("MISSING_RESTOCK", "rma=555,line=1555"),
    }


def test_a_date_after_rma_with_no_return_to_fall_back_on_is_an_unmatched_refund() -> None:
    """ "RMA 2026-11" is a month: no return 2026 exists, and the refund (8.00, no SKU, matching
    no return on the order) is an UNMATCHED_REFUND for CX to tie, not an UNKNOWN_RMA "2026"
    sending finance to look for a return that never was."""
    result = run(
        ret("12345"),
        order(),
        payout(),
        refund("500", "Goodwill, RMA 2026-11 batch", (txn("600", "8.00"),)),
        bt("8600", "600", "8.00"),
    )
    assert ("UNMATCHED_REFUND", "refund=500") in keyset(result)
    assert not {k for k in keyset(result) if k[0] == "UNKNOWN_RMA"}


@pytest.mark.parametrize(
    "note", ["RMA 12345, 12346", "RMAs 12345 and 12346", "RMA #12345 / #12346"]
)
def test_a_note_listing_two_rmas_after_one_rma_is_ambiguous(note: str) -> None:
    """One 40.00 refund on order 100 for returns 12345 and 12346 (20.00 each), its note a list.
    Finance sees AMBIGUOUS_RMA to decide, not the refund silently tied to 12345 (an
    over-refund there) while 12346 shows unpaid and recon proposes paying it again."""
    result = one_refund_of_two_returns(note)
    assert keyset(result) == {("AMBIGUOUS_RMA", "refund=500")}
    (finding,) = result.findings
    assert finding.detail == "the note names several RMAs: 12345, 12346"


def _refund_of_12345_for_150(note: str) -> Any:
    """Return 12345 on order 100 owed 150.00 (one SKU-A unit); refund 500 pays 150.00 (paid
    out in payout 700) and restocks it, with ``note``."""
    return run(
        ret("12345", refund="150.00", lines=(line("1345", "SKU-A", "150.00"),)),
        order(),
        payout(),
        refund("500", note, (txn("600", "150.00"),), lines=(rline("1345", "SKU-A"),)),
        bt("8600", "600", "150.00"),
    )


@pytest.mark.parametrize(
    "note",
    [
        "RMA 12345, 150 USD refunded",
        "RMA 12345 / 150 USD",
        "RMA 12345 / 150USD",
        "RMA #12345 & 150 eur",
        "RMA 12345, 150 €",
        "RMA 12345, 150 dollars back to card",
    ],
)
def test_a_whole_amount_with_its_currency_after_an_rma_is_no_second_rma(note: str) -> None:
    """A whole number with a currency code or sign after it is an amount, as finance reads it:
    the refund is return 12345's (linked by its note), not AMBIGUOUS_RMA naming RMA 150,
    which held the return and sent a paid refund to review."""
    result = _refund_of_12345_for_150(note)
    assert keyset(result) == set()
    (match,) = result.matches.to_dict("records")
    assert (match["refund_ids"], match["match_method"]) == ("500", "note")


@pytest.mark.parametrize(
    "note",
    [
        "RMA 12345, 12346 refunded",  # a word after a list item: it may be an RMA
        "RMA 12345, 12346 USD 40.00",  # a currency leading the amount after it
        "RMA 12345 / 12346 $40",
        "RMAs 12345 and 12346 (USD)",
        "RMA 12345, 150 USD, 12346",  # the list goes on after an amount
    ],
)
def test_an_rma_list_before_other_text_still_names_both_returns(note: str) -> None:
    """A two-RMA list followed by a word, or by a currency that leads an amount, is not read
    as one RMA and an amount: the refund stays AMBIGUOUS_RMA for a human to decide."""
    result = one_refund_of_two_returns(note)
    assert keyset(result) == {("AMBIGUOUS_RMA", "refund=500")}


@pytest.mark.parametrize(
    "note",
    [
        "RMA 12345, 150.00, 12346",  # an amount with decimals
        "RMA 12345, 2026-11-02, 12346",  # a date
        "RMA 12345, 555-1234, 12346",  # a phone number
        "RMAs 12345, 150.00 USD and 12346",
    ],
)
def test_a_list_with_an_amount_a_date_or_a_phone_number_in_it_still_names_both_returns(
    note: str,
) -> None:
    """One 40.00 refund for returns 12345 and 12346, its note a list with an amount, a date or
    a phone number between them. The list stopped there: the refund was tied to 12345 alone
    and 12346 raised MISSING_REFUND, which recon proposes paying a second time. Finance now
    sees AMBIGUOUS_RMA naming both, to decide."""
    result = one_refund_of_two_returns(note)
    assert keyset(result) == {("AMBIGUOUS_RMA", "refund=500")}
    (finding,) = result.findings
    assert finding.detail == "the note names several RMAs: 12345, 12346"

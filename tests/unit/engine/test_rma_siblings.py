"""A refund note that mentions another return of its own order never pays one silently.

The RMA grammar keeps meeting lists it reads only the start of ("RMA 12345, $150.00, 12346"):
the refund was then tied to 12345 alone, 12346 (a return on the same order) raised
MISSING_REFUND and recon proposed refunding it a second time. A data rule closes it for any
shape (docs/findings.md link 1): a note naming an RMA that also holds, as a whole number, the
RMA of another return on the refund's order names that RMA too, and the refund is
AMBIGUOUS_RMA for finance. Order 100 (USD shop), closed 20.00 returns, ``as_of`` 2026-11-01.
"""

from __future__ import annotations

import re

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

from recon.engine import ReconResult, rma_siblings

# Notes whose second RMA the grammar misses (or reads wrong), each on a 40.00 refund of both.
MISSED = [
    "RMA 12345, $150.00, 12346",  # a currency sign before the amount
    "RMA 12345, USD 150.00, 12346",  # a currency code before the amount
    "RMA 12345, 555 1234, 12346",  # a local phone number (its "555" read as an RMA)
    "RMA 12345 ... 12346 ...",  # free text
    "RMA 12345 refunded in full; customer says it covers 12346 too",
    "Per 12346 and RMA 12345",  # the other return named first
]


@pytest.mark.usefixtures("arrow")
@pytest.mark.parametrize("note", MISSED)
def test_a_note_mentioning_the_other_return_of_its_order_names_both(note: str) -> None:
    """One 40.00 refund of returns 12345 and 12346 whose note names 12345 and mentions 12346 in
    a shape the grammar misses. It was tied to 12345 alone and 12346 raised MISSING_REFUND (recon
    proposed paying it again). Now it links to neither and is AMBIGUOUS_RMA naming both, which
    holds 12346's MISSING_REFUND until finance decides."""
    result = one_refund_of_two_returns(note)
    assert keyset(result) == {("AMBIGUOUS_RMA", "refund=500")}
    assert "500" not in set(result.links["refund_id"])
    (finding,) = result.findings
    named = finding.detail.split(": ", 1)[1].split(", ")
    assert {"12345", "12346"} <= set(named)


def test_the_mentioned_return_is_named_once_after_the_note_s_own_rmas() -> None:
    """The detail finance reads lists the note's RMAs, then the other return it mentions."""
    result = one_refund_of_two_returns("RMA 12345, $150.00, 12346 (12346 again)")
    (finding,) = result.findings
    assert finding.detail == "the note names several RMAs: 12345, 12346"


def _two_returns_each_paid(note: str, *, order_id: str = "100") -> ReconResult:
    """Returns 12345 and 12346 on order ``order_id``, each refunded 20.00 on its own; refund
    500 (``note``) is 12345's. Return 77777 is order 200's, refunded on that order."""
    return run(
        ret("12345", order_id),
        ret("12346", order_id, lines=(line("1346", "SKU-A"),)),
        ret("77777", "200", lines=(line("1777", "SKU-C"),)),
        order(order_id),
        order("200"),
        payout(),
        refund(
            "500", note, (txn("600", "20.00"),), order_id=order_id, lines=(rline("1345", "SKU-A"),)
        ),
        refund(
            "501",
            "Loop RMA #12346",
            (txn("601", "20.00"),),
            order_id=order_id,
            lines=(rline("1346", "SKU-A"),),
        ),
        refund(
            "502",
            "Loop RMA #77777",
            (txn("602", "20.00"),),
            order_id="200",
            lines=(rline("1777", "SKU-C"),),
        ),
        bt("8600", "600", "20.00"),
        bt("8601", "601", "20.00"),
        bt("8602", "602", "20.00"),
    )


@pytest.mark.usefixtures("arrow")
@pytest.mark.parametrize(
    ("note", "order_id"),
    [
        ("RMA 12345, $20.00, 150", "100"),  # an amount equal to no return's RMA
        ("RMA 12345, $20.00, 77777", "100"),  # 77777 is a return of order 200, not this one's
        ("Return #1043 - Loop RMA #12345", "1043"),  # the order number (no return carries it)
        ("RMA 12345 (Loop says 12345), $20.00", "100"),  # the note's own RMA again
        ("Loop RMA #12345", "100"),
    ],
)
def test_a_note_mentioning_no_other_return_of_its_order_still_links(
    note: str, order_id: str
) -> None:
    """Numbers that are no other return of the refund's own order change nothing: refund 500
    links to 12345 by its note and every return is paid (no finding)."""
    result = _two_returns_each_paid(note, order_id=order_id)
    assert keyset(result) == set()
    links = dict(zip(result.links["refund_id"], result.links["rma"], strict=True))
    assert links == {"500": "12345", "501": "12346", "502": "77777"}
    assert result.links.set_index("refund_id").loc["500", "match_method"] == "note"


def test_a_note_on_an_order_with_one_return_is_not_scanned_for_others() -> None:
    """Order 300 has one return, 30001; its refund's note mentions 12346, a return of order
    100. A refund pays back only its own order: 30001 is paid, nothing is ambiguous."""
    result = run(
        ret("30001", "300"),
        ret("12346", lines=(line("1346", "SKU-A"),)),
        order("300"),
        order(),
        payout(),
        refund(
            "500",
            "RMA 30001, $20.00, 12346",
            (txn("600", "20.00"),),
            order_id="300",
            lines=(rline("1001", "SKU-A"),),
        ),
        refund("501", "Loop RMA #12346", (txn("601", "20.00"),), lines=(rline("1346", "SKU-A"),)),
        bt("8600", "600", "20.00"),
        bt("8601", "601", "20.00"),
    )
    assert keyset(result) == set()
    links = dict(zip(result.links["refund_id"], result.links["rma"], strict=True))
    assert links == {"500": "30001", "501": "12346"}


@pytest.mark.usefixtures("arrow")
def test_a_note_naming_an_unknown_rma_and_mentioning_a_return_of_its_order_names_both() -> None:
    """A mistyped RMA (55555, no return's) beside 12346, a return of the refund's order: the
    refund is not an UNKNOWN_RMA that Loop's own record could then tie to 12345 alone; it is
    AMBIGUOUS_RMA naming 55555 and 12346, and 12346 is not reported unpaid. Its lines refund
    and restock 12345's unit too (line item 1345), so it names 12345 last, and 12345 is not
    reported unpaid or not restocked either (review 22A)."""
    result = one_refund_of_two_returns("RMA 55555, $40.00, 12346")
    assert keyset(result) == {("AMBIGUOUS_RMA", "refund=500")}
    (ambiguous,) = [f for f in result.findings if f.category.value == "AMBIGUOUS_RMA"]
    assert ambiguous.detail == (
        "the refund's lines are units of a return its note does not name: 55555, 12346, 12345"
    )


def test_only_notes_of_refunds_on_orders_with_several_returns_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At 1M returns on 1M orders no note may be scanned again in Python: orders are picked on
    id codes first. Here orders 300 and 301 have one return each and order 100 two; only the
    refund on order 100 has its note read for other returns."""
    read: list[str] = []

    class Spy:
        def findall(self, note: str) -> list[str]:
            read.append(note)
            return re.findall(r"\d+", note)

    monkeypatch.setattr(rma_siblings, "_NUMBER", Spy())
    result = run(
        ret("30001", "300"),
        ret("30101", "301"),
        ret("12345"),
        ret("12346", lines=(line("1346", "SKU-A"),)),
        order("300"),
        order("301"),
        order(),
        payout(),
        refund("500", "RMA 30001, 12346", (txn("600", "20.00"),), order_id="300"),
        refund("501", "Loop RMA #30101", (txn("601", "20.00"),), order_id="301"),
        refund("502", "RMA 12345, $40.00, 12346", (txn("602", "40.00"),)),
    )
    assert read == ["RMA 12345, $40.00, 12346"]
    assert ("AMBIGUOUS_RMA", "refund=502") in keyset(result)


def _one_item_returned_twice(refund_qty: int, amount: str) -> ReconResult:
    """Order 100 sold two units of line item 1345; return 12345 returned one (Loop line 91345)
    and return 12346 the other (91346). Refund 500, "Loop RMA #12345", refunds ``amount`` and
    restocks ``refund_qty`` units of 1345."""
    return run(
        ret("12345"),
        ret("12346", lines=(line("1345", "SKU-A", uid="91346"),)),
        order(),
        payout(),
        refund(
            "500",
            "Loop RMA #12345",
            (txn("600", amount),),
            lines=(rline("1345", "SKU-A", qty=refund_qty),),
        ),
        bt("8600", "600", amount),
    )


def test_a_refund_of_one_unit_of_an_item_two_returns_hold_links_to_its_note() -> None:
    """Each return holds one unit of line item 1345: a refund of one unit noted 12345 is
    12345's (its return holds the unit), not a reason to hold both. 12346 is still owed."""
    result = _one_item_returned_twice(1, "20.00")
    assert ("AMBIGUOUS_RMA", "refund=500") not in keyset(result)
    assert ("MISSING_REFUND", "rma=12346") in keyset(result)
    assert dict(zip(result.links["refund_id"], result.links["rma"], strict=True)) == {
        "500": "12345"
    }


def test_a_refund_of_more_units_than_its_return_holds_names_the_other_return() -> None:
    """The same refund noted 12345 restocks both units of 1345 (40.00): the second unit is
    12346's, which Shopify restocked and the customer was paid for. It is AMBIGUOUS_RMA naming
    both, and 12346 is neither unpaid nor missing a restock."""
    result = _one_item_returned_twice(2, "40.00")
    assert keyset(result) == {("AMBIGUOUS_RMA", "refund=500")}
    (finding,) = result.findings
    assert finding.detail == (
        "the refund's lines are units of a return its note does not name: 12345, 12346"
    )


def test_lines_do_not_name_a_return_for_a_note_naming_none_of_its_order() -> None:
    """A note whose one RMA is another order's (77777, order 200) ties the refund to no return
    of its own order: its lines are the heuristic's to read, which links it to 12346 (amount
    and SKUs match), not AMBIGUOUS_RMA."""
    result = run(
        ret("12345"),
        ret("12346", lines=(line("1346", "SKU-B"),)),
        ret("77777", "200", lines=(line("1777", "SKU-C"),)),
        order(),
        order("200"),
        payout(),
        refund("500", "Loop RMA #12345", (txn("600", "20.00"),), lines=(rline("1345", "SKU-A"),)),
        refund("501", "Loop RMA #77777", (txn("601", "20.00"),), lines=(rline("1346", "SKU-B"),)),
        refund(
            "502",
            "Loop RMA #77777",
            (txn("602", "20.00"),),
            order_id="200",
            lines=(rline("1777", "SKU-C"),),
        ),
        bt("8600", "600", "20.00"),
        bt("8601", "601", "20.00"),
        bt("8602", "602", "20.00"),
    )
    assert ("AMBIGUOUS_RMA", "refund=501") not in keyset(result)
    links = dict(zip(result.links["refund_id"], result.links["rma"], strict=True))
    assert links == {"500": "12345", "501": "12346", "502": "77777"}

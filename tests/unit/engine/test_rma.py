"""RMA parser table: what counts as an RMA in a refund note, and what does not."""

from __future__ import annotations

from typing import Any

import pandas as pd
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

from recon.engine.rma import parse_rma_series, parse_rmas

# (note, the RMAs it names): the defaults' truth table, read by the scalar and the vectorised parse
NOTES: list[tuple[str | None, list[str]]] = [
    ("Loop RMA #12345", ["12345"]),
    ("RMA 123", ["123"]),
    ("RMA#123", ["123"]),
    ("rma: 123", ["123"]),
    ("Loop return 123", ["123"]),
    ("Return #123", ["123"]),
    ("Refund for Loop RMA #12345 (2 items)", ["12345"]),
    ("Customer returned via RMA 555; see ticket", ["555"]),
    ("RMA 111 and RMA 222", ["111", "222"]),
    ("RMA 111, again RMA 111", ["111"]),
    ("Loop RMA #１２３４５", ["12345"]),  # fullwidth digits (an IME): the same RMA
    ("RMA ١٢٣٤ and RMA 1234", ["1234"]),  # Arabic-Indic digits: the same RMA, named once
    # How staff really type it (issue: the defaults read none of these)
    ("RMA-12345", ["12345"]),
    ("RMA #: 12345", ["12345"]),
    ("RMA: #12345", ["12345"]),
    ("RMA no. 12345", ["12345"]),
    ("RMA No: 12345", ["12345"]),
    ("rma no.12345", ["12345"]),
    ("RMA NO 12345", ["12345"]),
    ("RMA number: 12345", ["12345"]),
    ("RMA Nr. 12345", ["12345"]),
    ("RMA - 12345", ["12345"]),
    ("Loop RMA 12345", ["12345"]),
    ("loop rma-12345", ["12345"]),
    ("LOOP RMA NO. 12345", ["12345"]),
    ("Refund issued (RMA #: 12345), 2 items", ["12345"]),
    ("RMA-111 and RMA no. 222", ["111", "222"]),  # two RMAs: still AMBIGUOUS_RMA
    ("RMA-12345 received 2026-11-30, refunded 49.99", ["12345"]),
    ("Loop RMA 12345, customer called from 555-123-4567", ["12345"]),
    # Numbers that are not RMAs: order names, amounts, dates, phone numbers
    ("#1001", []),
    ("Order #1001 refunded", []),
    ("Refunded $123.45 on 2026-11-30", []),
    ("Refund 2026-11-30, order #1001, 49.99 USD", []),
    ("Called customer at 555-123-4567", []),
    ("Customer phone (555) 123 4567, no RMA", []),
    ("No RMA. 150.00 back to the card", []),
    ("No RMA - 150.00 goodwill", []),  # an amount after "RMA -": its cents say so
    ("RMA: 1,500.00 refunded", []),
    ("RMA 150,00 erstattet", []),  # a decimal comma too
    ("Refunded for RMA 12345.", ["12345"]),  # a full stop ending the note is not a decimal part
    ("RMA 12345. Customer happy", ["12345"]),
    ("RMA 111,RMA 222", ["111", "222"]),
    ("RMA 12345,", ["12345"]),
    ("RMA no longer needed; refunded 123.45", []),
    ("RMA pending for order #1001", []),
    ("RMA-12", []),
    ("PRMA-123", []),
    ("Returned 2 items", []),
    ("Returns 2024", []),
    ("PRMA 123", []),
    ("RMA 12", []),
    # A date or a phone number after "RMA" is not an RMA (issue: "RMA: 2026-11-30" read RMA 2026)
    ("RMA: 2026-11-30", []),  # ISO dates
    ("RMA 2026-11-30 received", []),
    ("RMA no. 2026/11/30", []),
    ("RMA received: 2026-11-30T10:15:00Z", []),
    ("Loop RMA 2026-11-30", []),
    ("Loop return 2026-11-30, refunded 49.99", []),
    ("Return #2026-11-30", []),
    ("RMA 30/11/2026", []),  # d/m/y dates
    ("RMA: 30.11.2026", []),
    ("RMA 30-11-2026", []),
    ("RMA 11/30/26", []),
    ("RMA 555-123-4567", []),  # phone numbers: dashes, dots, spaces
    ("RMA: 555.123.4567", []),
    ("RMA 555 123 4567", []),
    ("RMA #: 020 7946 0958", []),
    ("RMA - 0412 345 678", []),
    ("Loop RMA #555-123-4567", []),
    ("RMA 2026-11-30 for RMA 12345", ["12345"]),  # a date, then an RMA: the RMA
    ("RMA 12345 2026-11-30", ["12345"]),
    ("RMA 12345 555-123-4567", ["12345"]),
    # A number glued to "-<digit>" is part of something else (a phone number, a date, a
    # hyphenated reference): Loop's RMAs are plain integers, so it names no RMA
    ("RMA 12345-2026", []),
    ("RMA 555-1234", []),
    ("RMA 2026-11", []),
    ("RMA: 2026-11 returns batch", []),
    ("RMA 12345-2", []),
    ("Loop RMA #12345-2", []),
    ("RMA 12345-2 and RMA 12346", ["12346"]),
    ("RMA 12345 - 2 items", ["12345"]),  # a dash with spaces is punctuation
    ("RMA 12345-A", ["12345"]),  # no digit after the dash
    ("Loop RMA 150.00 goodwill", []),  # an amount after "Loop RMA" is no RMA either
    # A list after one "RMA" names every RMA in it (then AMBIGUOUS_RMA, not a silent pick)
    ("RMA 12345, 12346", ["12345", "12346"]),
    ("RMAs 12345 and 12346", ["12345", "12346"]),
    ("RMA #12345 / #12346", ["12345", "12346"]),
    ("rma 12345 & 12346", ["12345", "12346"]),
    ("RMA numbers 12345 or 12346", ["12345", "12346"]),
    ("Loop RMA #12345, #12346 and #12347", ["12345", "12346", "12347"]),
    ("Refund for RMA 12345, 12346.", ["12345", "12346"]),
    ("RMA 12345, 12345", ["12345"]),
    ("RMA 12345, 150.00 refunded", ["12345"]),  # an amount is no list item
    ("RMA 12345, 150.00, 12346", ["12345", "12346"]),  # ... and the list goes on after it
    ("RMA 12345, 150.00 USD refunded", ["12345"]),
    ("RMA 12345, 30.11.2026 / 12346", ["12345", "12346"]),
    ("RMA 12345, 555-1234, order 1043", ["12345"]),  # a word still ends the list
    ("RMA 12345, 2 items", ["12345"]),
    ("RMA 12345 and 2026-11-30", ["12345"]),
    ("RMA 12345, 555-123-4567", ["12345"]),
    ("RMA 12345 and customer 12346", ["12345"]),  # a word between: no list
    ("RMA 2026-11-30, 12345", []),  # no RMA heads the list
    ("Loop RMA #12345 + 500 shipping", ["12345"]),  # "+" adds an amount, not an RMA
    ("", []),
    (None, []),
]


@pytest.mark.parametrize(("note", "expected"), NOTES)
def test_parse_rmas(note: str | None, expected: list[str]) -> None:
    assert parse_rmas(note) == expected


def test_custom_pattern_replaces_defaults() -> None:
    assert parse_rmas("ticket R-778", [r"R-(?P<rma>\d+)"]) == ["778"]
    assert parse_rmas("Loop RMA #12345", [r"R-(?P<rma>\d+)"]) == []


def test_series_parses_each_note_and_keeps_the_index() -> None:
    notes = pd.Series(["RMA 123", None, "RMA 123", "RMA 1 RMA 456 rma 789"], index=[5, 6, 7, 8])
    parsed = parse_rma_series(notes)
    assert list(parsed.index) == [5, 6, 7, 8]
    assert list(parsed) == [("123",), (), ("123",), ("456", "789")]


def test_the_vectorised_parse_reads_the_table_as_the_scalar_one() -> None:
    """The engine parses notes in bulk (RE2 through Arrow, else ``re``): the same answers."""
    notes = pd.Series([note for note, _ in NOTES] * 2)
    assert list(parse_rma_series(notes)) == [tuple(expected) for _, expected in NOTES] * 2


def _one_refund_of_12345(note: str) -> Any:
    """Return 12345 on order 100, refunded 20.00 by refund 500 (``note``) in paid payout 700."""
    return run(
        ret("12345"),
        order(),
        payout(),
        refund("500", note, (txn("600", "20.00"),), lines=(rline("1345", "SKU-A"),)),
        bt("8600", "600", "20.00"),
    )


@pytest.mark.parametrize("note", ["RMA #: 12345", "RMA-12345", "RMA No: 12345", "rma no. 12345"])
def test_a_refund_whose_note_is_typed_by_hand_links_by_its_rma(note: str) -> None:
    """Return 12345 on order 100 refunded 20.00 in paid payout 700; the note names it as staff
    type it. Finance sees it matched by the note (not guessed by the heuristic), nothing open."""
    result = _one_refund_of_12345(note)
    assert list(result.matches["match_method"]) == ["note"]
    assert keyset(result) == set()


def test_a_hand_typed_note_naming_two_rmas_is_ambiguous() -> None:
    """One 40.00 refund on order 100 whose note names returns 12345 and 12346 (both closed)."""
    result = one_refund_of_two_returns("RMA-12345 / RMA no. 12346")
    assert keyset(result) == {("AMBIGUOUS_RMA", "refund=500")}


@pytest.mark.parametrize("note", ["RMA: 2026-11-30", "Goods back, RMA - 2026-11-30"])
def test_a_date_after_rma_is_not_an_unknown_rma(note: str) -> None:
    """Return 12345 on order 100 refunded 20.00; the refund's note gives the day the RMA came
    in, not its number. Finance sees the refund linked to its return (by order, amount and
    SKU), not an UNKNOWN_RMA "2026" that no Loop return has."""
    result = _one_refund_of_12345(note)
    assert list(result.matches["match_method"]) == ["heuristic"]
    assert keyset(result) == set()


def test_a_phone_number_after_rma_does_not_name_another_return() -> None:
    """Order 100 has two closed returns of 20.00: 12345 (SKU-A) and 555 (SKU-B). The one refund,
    500, pays back 12345's unit; its note says "Customer called, RMA 555-123-4567". Finance
    sees 500 as return 12345's refund and return 555's refund (and restock) missing, which recon
    can fix, not 500 tied to return 555 by a phone number and 12345 reported unpaid."""
    result = run(
        ret("12345"),
        ret("555", lines=(line("1555", "SKU-B"),)),
        order(),
        payout(),
        refund(
            "500",
            "Customer called, RMA 555-123-4567",
            (txn("600", "20.00"),),
            lines=(rline("1345", "SKU-A"),),
        ),
        bt("8600", "600", "20.00"),
    )
    linked = dict(zip(result.matches["rma"], result.matches["refund_ids"], strict=True))
    assert linked == {"12345": "500", "555": ""}
    assert keyset(result) == {
        ("MISSING_REFUND", "rma=555"),
        ("MISSING_RESTOCK", "rma=555,line=1555"),
    }

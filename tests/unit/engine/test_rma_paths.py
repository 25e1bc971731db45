"""A refund note names the same RMAs whether pyarrow is installed or not.

With pyarrow, ``parse_notes`` counts matches with Arrow's RE2 kernels and sends only the notes
that may hold more than one RMA to Python's ``re`` (``parse_rmas``); without it, ``re`` reads
every note. Which RMAs a note names decides a link, an ``UNKNOWN_RMA`` or an ``AMBIGUOUS_RMA``,
so finance must not get different findings on a server that happens to lack pyarrow.
"""

from __future__ import annotations

import pandas as pd
import pytest
from engine_builders import without_pyarrow
from hypothesis import given, settings
from hypothesis import strategies as st

from recon.config import DEFAULT_RMA_PATTERNS
from recon.engine.rma import parse_rma_series, parse_rmas

# Custom ``[engine] rma_patterns`` a shop may set: some end in text after the RMA.
PATTERNS = [
    DEFAULT_RMA_PATTERNS,
    (r"(?P<rma>\d{3,20}) returned",),
    (r"ticket (?P<rma>\d{3,20})\b",),
    (r"RMA[- ](?P<rma>\d{3,20})-ok", r"case (?P<rma>\d{3,20})"),
    (*DEFAULT_RMA_PATTERNS, r"(?P<rma>\d{3,20}) returned"),
]

# What staff type into refund notes, as chunks: a lead (an RMA word, or none), a number, and
# what follows it (text a pattern may end in, a list separator, an amount's tail, a word).
LEADS = ["", "RMA ", "rma #", "Loop RMA #", "Return #", "ticket ", "case ", "RMA-", "#", " "]
NUMBERS = ["12345", "12346", "150", "42", "2026", "00123", "555"]
# List items that are no RMA: amounts with decimals, dates, phone numbers, hyphenated numbers.
NOT_RMAS = ["150.00", "15.00", "150,00", "2026-11-02", "02/11/2026", "555-1234", "555 123 4567"]
TAILS = [
    "",
    " ",
    " returned",
    "-ok",
    ", ",
    ",",
    " / ",
    " & ",
    " and ",
    " or ",
    " and #",
    " returned, ",
    "-ok / ",
    " USD",
    " USD, ",
    " $",
    " € ",
    " refunded",
    ".00",
    ",50",
    "-",
    " items ",
    # issue #4's separators: ";", "+", "|", "-" or whitespace between numbers, "#" repeated
    "; ",
    " + ",
    "+",
    "|",
    " - ",
    " #",
]
NUMBER = st.sampled_from(NUMBERS) | st.sampled_from(NOT_RMAS)
CHUNKS = st.tuples(st.sampled_from(LEADS), NUMBER, st.sampled_from(TAILS)).map("".join)
NOTES = st.lists(CHUNKS, min_size=1, max_size=4).map("".join)


def _without_pyarrow(notes: pd.Series, patterns: tuple[str, ...]) -> list[tuple[str, ...]]:
    """``parse_rma_series`` as it runs on a server without pyarrow (its import fails)."""
    with without_pyarrow():
        return list(parse_rma_series(notes, patterns))


@pytest.mark.parametrize(
    ("patterns", "note", "named"),
    [
        (PATTERNS[1], "12345 returned, 12346", ("12345", "12346")),
        (PATTERNS[1], "12345 returned and #12346 refunded", ("12345", "12346")),
        (PATTERNS[3], "RMA-12345-ok / 12346", ("12345", "12346")),
    ],
)
def test_a_list_after_a_pattern_ending_in_text_names_every_rma_on_either_path(
    patterns: tuple[str, ...], note: str, named: tuple[str, ...]
) -> None:
    """A list after one match names every RMA in it (docs/findings.md), also when the shop's
    pattern ends in text ("12345 returned, 12346"). With pyarrow, such a note was read as one
    RMA (RE2 looked for a list only right after digits), without it as two: the refund linked
    to 12345 on one server and was AMBIGUOUS_RMA on the other."""
    pytest.importorskip("pyarrow")
    notes = pd.Series([note, "padding note with no rma"])
    assert tuple(parse_rmas(note, patterns)) == named
    assert parse_rma_series(notes, patterns).iloc[0] == named
    assert _without_pyarrow(notes, patterns)[0] == named


@pytest.mark.parametrize(
    "note",
    [
        "RMA 12345, 150.00, 12346",
        "RMA 12345, 2026-11-02, 12346",
        "RMA 12345, 555-1234, 12346",
        "RMA 12345 / 555-123-4567 / 12346",
        "RMAs 12345, 150,00 and 12346",
        "RMA 12345, 15.00, 12346",
        "RMA 12345, 02/11/2026, 12346",
        "RMA 12345, 150.00 USD, 12346",
        "RMA #12345, 555 123 4567 & #12346",
    ],
)
def test_a_list_goes_on_past_an_amount_a_date_or_a_phone_number_on_either_path(note: str) -> None:
    """docs/findings.md: a list after one RMA names every RMA in it, and an amount, a date or a
    phone number in it is no RMA. The list stopped there, so "RMA 12345, 150.00, 12346" named
    12345 alone: the refund linked to it and 12346 looked unpaid (recon could propose paying
    it again). Now both are named (AMBIGUOUS_RMA for finance), with pyarrow and without."""
    pytest.importorskip("pyarrow")
    notes = pd.Series([note, "Loop RMA #777", "padding note with no rma"])
    named = ("12345", "12346")
    assert tuple(parse_rmas(note)) == named
    assert list(parse_rma_series(notes)) == [named, ("777",), ()]
    assert _without_pyarrow(notes, DEFAULT_RMA_PATTERNS) == [named, ("777",), ()]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PATTERNS),
    st.lists(NOTES, min_size=1, max_size=6),
)
def test_every_note_names_the_same_rmas_with_and_without_pyarrow(
    patterns: tuple[str, ...], typed: list[str]
) -> None:
    """Generated notes, the same on both paths, and as ``parse_rmas`` reads each alone."""
    pytest.importorskip("pyarrow")
    notes = pd.Series(typed)
    expected = [tuple(parse_rmas(note, patterns)) for note in typed]
    assert list(parse_rma_series(notes, patterns)) == expected
    assert _without_pyarrow(notes, patterns) == expected

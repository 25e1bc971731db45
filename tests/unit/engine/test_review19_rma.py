"""Review 19: today's list grammar (issue #4) on notes staff really type.

docs/findings.md (link 1): a number glued to ``-`` and a digit is part of a hyphenated
reference and names no RMA (the refund falls through to the weaker keys); two numbers of five
digits or more glued by ``-`` are a range, read as its two ends; a list after one RMA names
every RMA in it, so a note naming two RMAs is AMBIGUOUS_RMA, never a silent link to the first.

Datasets: order 100 with one closed return, 12345 (20.00, SKU-A), refunded in full by refund
500 (``note``) and paid out; for the lists, return 12346 is on another order (101), so the
rule that names the refund's own order's other returns (``rma_siblings``) cannot catch it.
Both parser paths are read (with pyarrow: RE2 first; without: Python ``re`` on every note).
"""

from __future__ import annotations

import pandas as pd
import pytest
from engine_builders import (
    bt,
    keyset,
    line,
    order,
    payout,
    refund,
    ret,
    rline,
    run,
    txn,
    without_pyarrow,
)

from recon.engine import ReconResult
from recon.engine.rma import parse_rma_series, parse_rmas


def _both_paths(note: str) -> list[tuple[str, ...]]:
    """What the bulk parser names in ``note`` with pyarrow and without it."""
    notes = pd.Series([note, "Loop RMA #777", "padding note with no rma"])
    with_arrow = parse_rma_series(notes).iloc[0]
    with without_pyarrow():
        without = parse_rma_series(notes).iloc[0]
    return [with_arrow, without]


def _refund_of_12345(note: str, *, other_order_return: bool = False) -> ReconResult:
    """Refund 500 pays return 12345 of order 100 in full (20.00, SKU-A): with no note at all,
    the heuristic links it and nothing is owed. ``other_order_return`` adds return 12346 of
    order 101 (no refund there yet)."""
    records: list[object] = [
        ret("12345"),
        order(),
        payout(),
        refund("500", note, (txn("600", "20.00"),), lines=(rline("1345", "SKU-A"),)),
        bt("8600", "600", "20.00"),
    ]
    if other_order_return:
        records += [ret("12346", order="101", lines=(line("1346", "SKU-A"),)), order("101")]
    return run(*records)


# --- 1. a hyphenated reference of three parts -------------------------------------------


@pytest.mark.parametrize("note", ["RMA 12345-67890-1", "RMA 20261102-00017-1"])
def test_a_hyphenated_reference_of_three_parts_names_no_rma(note: str) -> None:
    """ "RMA 12345-2" names none (a hyphenated reference, docs/findings.md), and so did
    "RMA 12345-67890-1" until today. The range rule (five digits or more a side) now takes
    "12345-67890" as a range, then skips "67890-1" as a hyphenated item, so the note names
    12345 alone: a reference's head is read as an RMA, on both paths."""
    assert parse_rmas(note) == []
    assert _both_paths(note) == [(), ()]


@pytest.mark.usefixtures("arrow")
def test_a_refund_noted_with_a_dated_reference_still_links_by_the_heuristic() -> None:
    """A warehouse writes its own dated reference, "RMA 20261102-00017-1", on the refund of
    return 12345. Until today it named no RMA and the refund linked by the heuristic (same
    order, amount and SKUs): no finding. Now it names RMA 20261102: UNKNOWN_RMA, and the
    return it paid is shown to finance as MISSING_REFUND and to the warehouse as
    MISSING_RESTOCK."""
    result = _refund_of_12345("RMA 20261102-00017-1")
    assert keyset(result) == set()
    linked = dict(zip(result.matches["rma"], result.matches["refund_ids"], strict=True))
    assert linked == {"12345": "500"}


# --- 2. a list split by an en or em dash --------------------------------------------------

# En dash (U+2013) and em dash (U+2014), spaced and glued; "--" for an em dash.
DASHED = [
    "RMA 12345 \u2013 12346",
    "RMA 12345 \u2014 12346",
    "RMA 12345\u201312346",
    "RMA 12345\u201412346",
    # two hyphens, the em dash as typed on a keyboard without one
    "RMA 12345 -- 12346",
    "RMA 12345--12346",
]


@pytest.mark.parametrize("note", DASHED)
def test_a_list_split_by_an_en_or_em_dash_names_every_rma(note: str) -> None:
    """ "RMA 12345 - 12346" names both since today; the same note as Outlook, Word or macOS
    rewrite the dash (an en dash, U+2013, or an em dash, U+2014), or pasted from a mail,
    or with the em dash typed as "--", names 12345 alone."""
    assert parse_rmas(note) == ["12345", "12346"]
    assert _both_paths(note) == [("12345", "12346")] * 2


@pytest.mark.usefixtures("arrow")
@pytest.mark.parametrize("note", DASHED[:2])
def test_a_refund_naming_two_rmas_split_by_a_typographic_dash_is_ambiguous(note: str) -> None:
    """Issue #4's symptom, with the dash a mail client typed: the refund is tied to 12345
    silently (match by note) while the note names 12346 too; finance must see AMBIGUOUS_RMA
    naming both, as for "RMA 12345 - 12346"."""
    result = _refund_of_12345(note, other_order_return=True)
    assert ("AMBIGUOUS_RMA", "refund=500") in keyset(result)
    linked = dict(zip(result.matches["rma"], result.matches["refund_ids"], strict=True))
    assert linked["12345"] == ""


# --- 3. "#" repeated after "RMA #: 12345" ---------------------------------------------------


@pytest.mark.parametrize(
    "note", ["RMA #: 12345 #12346", "RMA#: 12345 #12346", "RMA #:12345 #12346"]
)
def test_a_hash_repeated_after_rma_hash_colon_names_every_rma(note: str) -> None:
    """docs/findings.md: "RMA #: 12345" is an RMA written with "#", and a list by "#"
    repeated ("RMA #12345 #12346") names every RMA; only after an RMA written without "#" is
    "#1001" an order name. rma.py decides "written with #" by the text right before the
    digits ending in "#", so "#: " does not count and 12346 is dropped: the refund links to
    12345 alone (while "RMA #: 12345, #12346" names both)."""
    assert parse_rmas(note) == ["12345", "12346"]
    assert _both_paths(note) == [("12345", "12346")] * 2

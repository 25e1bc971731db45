"""Lead's calls on today's list grammar (issue #4): a line break ends a list, and whitespace
alone is a weak separator.

A line break alone is no separator: staff write the RMA on one line and an address, a phone
number or an order under it ("Loop RMA #12345\\n1001 Main St"), which named 1001 too, so the
refund was AMBIGUOUS_RMA and linked nothing. A separator before the line break still says it is
a list ("RMA 12345,\\n12346"). A number after whitespace alone continues the list only if it
has at least as many digits as the RMA before it (the "+" rule's test): a year, a phone number
or an amount is read past ("RMA 12345 2026"); "RMA 12345 12346" names both. The remaining
false alarm, a number as long as the RMA ("RMA 12345 10001", a ZIP code), stays AMBIGUOUS_RMA:
a human reads it, and MISSING_REFUND stays off the returns it names.

Datasets: order 100 with one closed return, 12345 (20.00, SKU-A), refunded in full by refund
500 (the note under test) and paid out. Both parser paths are read (with pyarrow: RE2 first;
without: Python ``re`` on every note).
"""

from __future__ import annotations

import pandas as pd
import pytest
from engine_builders import bt, keyset, order, payout, refund, ret, rline, run, txn, without_pyarrow

from recon.engine import ReconResult
from recon.engine.rma import parse_rma_series, parse_rmas

ONE = ["12345"]
BOTH = ["12345", "12346"]
# (note, the RMAs it names)
LINE_BREAKS: list[tuple[str, list[str]]] = [
    ("Loop RMA #12345\n1001 Main St", ONE),  # an address under the note
    ("Loop RMA #12345\n555 123 4567", ONE),
    ("RMA 12345\n12346", ONE),  # a line break alone is no separator
    ("RMA 12345 \n12346", ONE),
    ("RMA 12345\r\n12346", ONE),
    ("RMA 12345\n- 12346", ONE),  # a separator after the line break: none on the RMA's line
    ("RMA 12345\n#12346", ONE),
    ("RMA 12345,\n12346", BOTH),  # a separator, then the line break: a list
    ("RMA 12345;\r\n12346", BOTH),
    ("RMA 12345 -\n12346", BOTH),
    ("RMA 12345 and\n12346", BOTH),
    ("RMA 12345\nRMA 12346", BOTH),  # each line names its own
]
WHITESPACE: list[tuple[str, list[str]]] = [
    ("RMA 12345 2026", ONE),  # a year
    ("RMA 12345 555 1234", ONE),  # a phone number
    ("RMA 12345 150 refunded", ONE),  # an amount
    ("RMA 12345 150 12346", BOTH),  # read past: the list goes on
    ("RMA 12345 12346", BOTH),
    ("RMA 123 12345", ["123", "12345"]),  # as many digits or more
    ("RMA 12345 123456", ["12345", "123456"]),
    ("RMA 12345 10001", ["12345", "10001"]),  # a ZIP as long as the RMA: the false alarm kept
    ("RMA 12345, 150", ["12345", "150"]),  # a real separator: the "+" test is not applied
]
TABLE = LINE_BREAKS + WHITESPACE


@pytest.mark.parametrize(("note", "named"), TABLE)
def test_the_python_parser_reads_line_breaks_and_spaces(note: str, named: list[str]) -> None:
    assert parse_rmas(note) == named


def test_the_bulk_parser_reads_the_table_as_the_python_one() -> None:
    """With pyarrow: RE2 first; a note it may not read whole must reach ``parse_rmas``."""
    pytest.importorskip("pyarrow")
    notes = pd.Series([note for note, _ in TABLE] + ["Loop RMA #777", "no rma"])
    assert list(parse_rma_series(notes)) == [tuple(n) for _, n in TABLE] + [("777",), ()]


def test_the_bulk_parser_reads_the_table_without_pyarrow() -> None:
    notes = pd.Series([note for note, _ in TABLE] + ["Loop RMA #777", "no rma"])
    with without_pyarrow():
        parsed = list(parse_rma_series(notes))
    assert parsed == [tuple(n) for _, n in TABLE] + [("777",), ()]


def _refund_of_12345(note: str) -> ReconResult:
    """Refund 500 of 20.00 (``note``) pays return 12345 of order 100 in full, paid out."""
    return run(
        ret("12345"),
        order(),
        payout(),
        refund("500", note, (txn("600", "20.00"),), lines=(rline("1345", "SKU-A"),)),
        bt("8600", "600", "20.00"),
    )


@pytest.mark.usefixtures("arrow")
@pytest.mark.parametrize(
    "note", ["Loop RMA #12345\n1001 Main St", "RMA 12345 2026", "RMA 12345 555 1234"]
)
def test_a_refund_noted_with_an_address_or_a_year_links_to_its_rma(note: str) -> None:
    """Finance sees no finding: the refund pays 12345 by its note (it was AMBIGUOUS_RMA naming
    1001, 2026 or 555 too, and 12345 was linked to nothing)."""
    result = _refund_of_12345(note)
    assert keyset(result) == set()
    linked = dict(zip(result.matches["rma"], result.matches["refund_ids"], strict=True))
    assert linked == {"12345": "500"}


@pytest.mark.usefixtures("arrow")
def test_a_zip_as_long_as_the_rma_is_still_ambiguous() -> None:
    """The documented false alarm: "RMA 12345 10001" names 10001 too; AMBIGUOUS_RMA, and
    return 12345 is not shown as MISSING_REFUND."""
    result = _refund_of_12345("RMA 12345 10001")
    assert keyset(result) == {("AMBIGUOUS_RMA", "refund=500")}
    assert "MISSING_REFUND" not in {f.category for f in result.findings}

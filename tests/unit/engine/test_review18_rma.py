"""Review 18: a currency that leads an amount after a list item keeps that item an RMA.

docs/findings.md (link 1): a whole amount with its currency after it is no RMA ("RMA 12345,
150 USD"), but a currency leading an amount after it is, "so does a currency leading an amount
after it, ``RMA 12345, 12346 USD 40.00``" (rma.py ``_CURRENCY_AFTER``: "not a currency that
leads an amount after it"). The check is ``(?!\\s*\\d)``: only spaces may stand between the
currency and its amount. Staff put a colon, an equals sign, a bracket or a minus there ("12346
EUR: 40.00"); the currency still leads the amount, yet 12346 is read as an amount and dropped.
The note names two returns and links to the first alone: the second looks unpaid
(MISSING_REFUND, a refund recon proposes to send again) instead of AMBIGUOUS_RMA holding both.

Dataset: notes naming RMAs 12345 and 12346, the second followed by a currency and its amount.
Both paths (with and without pyarrow) are read, as test_rma_paths does.
"""

from __future__ import annotations

import pytest
from engine_builders import keyset, one_refund_of_two_returns

from recon.config import DEFAULT_RMA_PATTERNS
from recon.engine.rma import parse_rmas

BOTH = ("12345", "12346")


@pytest.mark.parametrize(
    "note",
    [
        "RMA 12345, 12346 EUR: 40.00",
        "RMA 12345, 12346 USD = 40.00",
        "RMA 12345, 12346 USD (40.00)",
        "RMA 12345 / 12346 €: 40",
        "RMA 12345, 12346 USD -40.00",
    ],
)
def test_a_currency_leading_an_amount_after_punctuation_never_pays_one_return(note: str) -> None:
    """The grammar cannot tell "12346 EUR: 40.00" (an RMA, then its amount) from "150 USD (2
    items)" (an amount) without reading ordinary notes as two RMAs (review18b), so it reads
    12346 as an amount. What costs money is 12346, another return of the refund's order,
    looking unpaid: the sibling rule names it, and the refund is AMBIGUOUS_RMA naming both."""
    result = one_refund_of_two_returns(note)
    assert keyset(result) == {("AMBIGUOUS_RMA", "refund=500")}
    (finding,) = result.findings
    assert set(BOTH) <= set(finding.detail.split(": ", 1)[1].split(", "))


@pytest.mark.parametrize(
    ("note", "named"),
    [
        ("RMA 12345, 12346 USD 40.00", BOTH),  # the documented form: already an RMA
        ("RMA 12345, 150 USD", ("12345",)),  # a whole amount with its currency: no RMA
        ("RMA 12345, 150 EUR: refunded", ("12345",)),  # a colon leading no amount
    ],
)
def test_what_the_fix_must_keep(note: str, named: tuple[str, ...]) -> None:
    """The documented readings around it, which a widened look-ahead must not change."""
    assert tuple(parse_rmas(note, DEFAULT_RMA_PATTERNS)) == named

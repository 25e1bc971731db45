"""Review 20c: the PII scrub keeps Shopify order names ("#1001-2002-3003") in free text; a phone
number written the way US notes write one, "Phone #555-123-4567", reads as an order name and is
kept whole in the finance report (it was scrubbed before order names were kept)."""

from __future__ import annotations

import re

import pytest

from recon.reporting.safety import PHONE_PLACEHOLDER, clean_text


@pytest.mark.parametrize(
    "text",
    [
        "customer says: phone #555-123-4567, call after 5pm",
        "cell #555-123-4567",
        "reach her on +1 #555-123-4567",
        "call me at #555-123-4567",
        "phone number #555-123-4567",
        "tel. no. #555-123-4567",
    ],
)
def test_a_phone_number_written_after_a_hash_is_still_removed(text: str) -> None:
    """A reviewer reading a report sent without ``include_customer_pii`` must not find a
    customer's phone number in it. Before order names were kept, each of these read
    "[phone removed]"."""
    cleaned = clean_text(text)
    assert PHONE_PLACEHOLDER in cleaned
    assert not re.search(r"555\D?123\D?4567", cleaned), cleaned

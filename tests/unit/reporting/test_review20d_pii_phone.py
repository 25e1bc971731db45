"""Review 20d: a phone number written after a phone word and a "#" is scrubbed only when what
follows the "#" is phone-shaped by ``_PHONE``; a US number written with its trunk prefix
("1-800-555-1234", as US notes and toll-free numbers are written) is not, so after "#" it reads as
an order name and is kept whole in a report sent without ``include_customer_pii``."""

from __future__ import annotations

import re

import pytest

from recon.reporting.safety import PHONE_PLACEHOLDER, clean_text


@pytest.mark.parametrize(
    "text",
    [
        "customer says: call me at #1-800-555-1234 after 5pm",
        "Phone #1-555-123-4567",
    ],
)
def test_a_phone_with_its_trunk_prefix_after_a_phone_word_is_removed(text: str) -> None:
    """The same number written without the "#" ("phone: 1-800-555-1234") is scrubbed today; with
    it, after a phone word, a reviewer still finds the customer's number in the finance report."""
    cleaned = clean_text(text)
    assert PHONE_PLACEHOLDER in cleaned, cleaned
    assert not re.search(r"555\D?1234|555\D?123\D?4567", cleaned), cleaned


def test_the_same_number_without_the_hash_is_removed() -> None:
    """The baseline the test above compares with: no "#", the number goes."""
    cleaned = clean_text("customer says: call me at 1-800-555-1234 after 5pm")
    assert not re.search(r"555\D?1234", cleaned), cleaned


@pytest.mark.parametrize(
    "text",
    [
        "call me at #555-123-4567 or #555-987-6543",
        "cell #555-123-4567, home #555-987-6543",
        "phone 555-123-4567 or #555-987-6543",
    ],
)
def test_a_second_phone_written_after_a_hash_is_removed_too(text: str) -> None:
    """Customers leave two numbers. The first is scrubbed; the second, as phone-shaped and as
    close to the phone word, reaches finance: the cue's reach counts the first number's three
    digit groups as three words between the phone word and the "#"."""
    cleaned = clean_text(text)
    assert not re.search(r"555\D?987\D?6543", cleaned), cleaned
    assert not re.search(r"555\D?123\D?4567", cleaned), cleaned

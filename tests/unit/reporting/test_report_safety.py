"""Untrusted text: control characters, Excel's cell limit, formula prefixes, PII."""

from __future__ import annotations

import pytest
from report_samples import make_data, sample_findings

from recon.reporting.safety import (
    EXCEL_CELL_LIMIT,
    clean_text,
    excel_text,
    looks_like_formula,
    scrub_pii,
)


def test_control_characters_are_removed_but_newlines_kept() -> None:
    assert clean_text("a\x00b\x07c\nd\te\x1b", include_pii=True) == "abc\nd\te"


def test_text_longer_than_an_excel_cell_is_cut_and_says_so() -> None:
    text = excel_text("x" * (EXCEL_CELL_LIMIT + 10))
    assert len(text) == EXCEL_CELL_LIMIT
    assert text.endswith("[truncated]")
    assert excel_text("short") == "short"


@pytest.mark.parametrize("head", ["", "x"])
def test_the_cell_limit_counts_utf16_units_as_excel_does(head: str) -> None:
    """An emoji is two UTF-16 units: 20,000 of them are 40,000 units, over Excel's 32,767."""
    text = excel_text(head + "\U0001f4e6" * 20_000)
    assert len(text.encode("utf-16-le")) // 2 <= EXCEL_CELL_LIMIT
    assert text.endswith("[truncated]") and "\ufffd" not in text
    fits = "\U0001f4e6" * (EXCEL_CELL_LIMIT // 2)
    assert excel_text(fits) == fits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", True),
        ("+1", True),
        ("-1", True),
        ("@SUM(1)", True),
        ("\t=1", True),
        ("\r=1", True),
        ("refund 1", False),
        ("#7400123", False),
        ("", False),
    ],
)
def test_formula_prefixes(text: str, expected: bool) -> None:
    assert looks_like_formula(text) is expected


def test_emails_and_phones_are_scrubbed_but_rma_and_order_ids_are_not() -> None:
    text = (
        "jane@example.com called +1 555-123-4567 and (555) 123 4567"
        " about RMA 12345701 order 5444175757553"
    )
    scrubbed = scrub_pii(text)
    assert "jane@example.com" not in scrubbed
    assert "555" not in scrubbed
    assert "12345701" in scrubbed and "5444175757553" in scrubbed


def test_pii_kept_when_configured() -> None:
    assert clean_text("jane@example.com", include_pii=True) == "jane@example.com"
    assert clean_text("jane@example.com") == "[email removed]"
    assert clean_text(None) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Order names that cannot be a phone number are kept.
        ("orders #1001, #1001-2 (#7400123)", "orders #1001, #1001-2 (#7400123)"),
        ("Loop RMA #12345 for order #1002", "Loop RMA #12345 for order #1002"),
        # A "#" number shaped like a phone is scrubbed, order name or not: notes write phones
        # so ("Phone #555-123-4567"), and no context tells one from a custom order name
        # ("#1001-2002-3003"), which the identifier columns still show whole.
        ("also refunded on #1001-2002-3003", "also refunded on #[phone removed]"),
        (
            "call me at #555-123-4567 or #555-987-6543",
            "call me at #[phone removed] or #[phone removed]",
        ),
        ("call +1 555-123-4567 about #1001", "call [phone removed] about #1001"),
        ("tel#555-123-4567", "tel#[phone removed]"),
        ("jane@example.com re #1002", "[email removed] re #1002"),
    ],
)
def test_a_hash_number_is_kept_unless_it_is_shaped_like_a_phone(text: str, expected: str) -> None:
    """Reports sent without customer data must not carry a phone number; an order name that
    could be one is the price (review 20: keeping "#1001-2002-3003" let "Phone #555-123-4567"
    and "call me at #1-800-555-1234" through)."""
    assert scrub_pii(text) == expected
    assert clean_text(text) == expected


def test_the_exceptions_detail_keeps_an_order_name_and_hides_the_phone() -> None:
    """The report row finance reads (the Exceptions sheet's and the HTML's ``detail``)."""
    detail = "refund also on #1002; customer called 555-123-4567"
    first, *rest = sample_findings()
    data = make_data(findings=[first.model_copy(update={"detail": detail}), *rest])
    row = next(r for r in data.exception_rows() if r.key == first.key)
    assert row.detail == "refund also on #1002; customer called [phone removed]"

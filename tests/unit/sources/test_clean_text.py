"""Free text from either API is made safe to keep (``parsing.clean_text``), and what was changed
is noted for review; the record itself is kept."""

from __future__ import annotations

import pytest

from recon.sources.parsing import clean_text, collecting_notes


@pytest.mark.parametrize(
    ("text", "kept", "noted"),
    [
        ("SKU-1 \U0001f600", "SKU-1 \U0001f600", []),  # a whole emoji is text like any other
        ("SKU-1 \ud83d", "SKU-1 \ufffd", ["lone surrogate characters replaced by U+FFFD"]),
        ("\udc00SKU", "\ufffdSKU", ["lone surrogate characters replaced by U+FFFD"]),
        ("SKU\x07-1", "SKU-1", ["control characters removed"]),
    ],
)
def test_text_no_column_can_store_is_cleaned_and_noted(
    text: str, kept: str, noted: list[str]
) -> None:
    """Half of a UTF-16 pair is valid JSON (``"\\ud83d"``) but no database takes it: SQLite's
    driver raised UnicodeEncodeError for one SKU, failing the whole night, every night."""
    with collecting_notes() as notes:
        assert clean_text(text, "line_items[0].sku", single_line=True) == kept
    assert [reason for _, reason in notes] == noted
    kept.encode("utf-8")  # storable

"""RMA parser table: what counts as an RMA in a refund note, and what does not."""

from __future__ import annotations

import pandas as pd
import pytest

from recon.engine.rma import parse_rma_series, parse_rmas


@pytest.mark.parametrize(
    ("note", "expected"),
    [
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
        ("#1001", []),
        ("Order #1001 refunded", []),
        ("Returned 2 items", []),
        ("Returns 2024", []),
        ("PRMA 123", []),
        ("RMA 12", []),
        ("", []),
        (None, []),
    ],
)
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

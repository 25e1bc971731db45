"""The engine's fast paths (issue H10) give the same answers as the plain pandas/``re`` ones."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from engine_builders import empty_frames

from recon.config import DEFAULT_RMA_PATTERNS
from recon.engine import codes as codes_mod
from recon.engine import keys
from recon.engine.frames import (
    RETURN_COLUMNS,
    decimal_array,
    decimal_arrays,
)
from recon.engine.rma import parse_notes, parse_rma_arrays, parse_rma_series, parse_rmas
from recon.money import from_minor

TRICKY_NOTES = [
    "Loop RMA #12345",
    "Loop RMA #00123",  # recon's own note: parsed without the regex, leading zeros kept
    "Loop RMA #12",  # too short for the default patterns
    "Loop RMA #123456789012345678901",  # 21 digits: the pattern takes 20
    "Loop RMA #123 ",
    "loop rma #1234",
    "Loop RMA #１２３",  # fullwidth digits: not recon's note, Python's \d still matches
    "RMA 111 and RMA 222",
    "RMA 111, again RMA 111",
    "rma: 0042",
    "Return #123 then loop return 456",
    "RMA ١٢٣٤",  # Arabic-Indic digits: Python's \d matches them, RE2's does not
    "rma\x1c123",  # \x1c is whitespace to Python, not to RE2
    "Loop\vRMA 1234",
    "ſrma 1234",  # long s folds to "s" under IGNORECASE
    "Order #1001 refunded",
    "PRMA 123",
    "RMA: 2026-11-30",  # a date, a phone number: no RMA
    "RMA 555-123-4567 then RMA 4321",
    "",
    None,
]


@pytest.mark.parametrize(
    "patterns",
    [
        DEFAULT_RMA_PATTERNS,
        (r"R-(?P<rma>\d+)", r"(?<=ticket )(?P<rma>\d+)"),  # look-behind: RE2 cannot, ``re`` does
        (r"(\d)(?P<rma>\d+)",),  # an unnamed group
        (r"rma\s*(?P<rma>\d*)",),  # may capture "" (no RMA)
    ],
)
def test_series_parse_equals_the_scalar_parse(patterns: tuple[str, ...]) -> None:
    notes = pd.Series(TRICKY_NOTES + ["R-778", "ticket 99", "x RMA 5 rma 5 RMA 6"] * 3)
    expected = [tuple(parse_rmas(n, patterns)) for n in notes]
    assert list(parse_rma_series(notes, patterns)) == expected
    counts, first = parse_rma_arrays(notes, patterns)
    assert list(counts) == [len(e) for e in expected]
    assert list(first) == [e[0] if e else None for e in expected]


@pytest.mark.parametrize(
    "patterns", [DEFAULT_RMA_PATTERNS, (DEFAULT_RMA_PATTERNS[0], r"(?P<rma>\d*)$")]
)
def test_own_notes_parse_as_the_scalar_parse(patterns: tuple[str, ...]) -> None:
    own = [f"Loop RMA #{n:05d}" for n in range(50)] + [None]
    for notes in (pd.Series(own), pd.Series([*own, "RMA 9999 and RMA 8888", "Return #4242"])):
        expected = [tuple(parse_rmas(n, patterns)) for n in notes]
        assert list(parse_rma_series(notes, patterns)) == expected
        counts, first = parse_rma_arrays(notes, patterns)
        assert list(first) == [e[0] if e else None for e in expected]
        assert list(counts) == [len(e) for e in expected]


def test_the_default_patterns_run_on_re2() -> None:
    """Staff-typed notes are parsed by Arrow's RE2 at 1M refunds (issue H10): a default pattern
    RE2 cannot run (a look-ahead, a back-reference) would send every one of them to ``re``."""
    pytest.importorskip("pyarrow")
    notes = pd.Series(["RMA-12345 received", "RMA #: 777 (call 555-123-4567)", "RMA 2026-11-30"])
    parsed = parse_notes(notes)
    assert list(parsed.fast_rows) == [True, True, False]  # the date names no RMA
    assert list(parsed.first_rmas()) == ["12345", "777", None]


def test_member_is_isin_including_missing_ids() -> None:
    values = pd.Series(["a", None, np.nan, "b", "c"], dtype=object)
    for pool in (["a", None], ["a", np.nan], [], ["b", "b"]):
        assert list(keys.member(values, pd.Series(pool, dtype=object))) == list(values.isin(pool))
    assert list(keys.member(np.array([1, 2, 3]), np.array([3, 3]))) == [False, False, True]
    big_pool = pd.Series([f"id{i}" for i in range(30)] + [None, "a"], dtype=object)  # hashes values
    assert list(keys.member(values, big_pool)) == list(values.isin(big_pool))


def test_join_at_sorts_and_dedupes_per_slot() -> None:
    pos = np.array([0, 2, 2, -1, 0, 2])
    joined = keys.join_at(pos, ["b", "x", "a", "ignored", "b", "x"], 4)
    assert list(joined) == ["b", "", "a,x", ""]


@pytest.mark.parametrize(
    "right",
    [
        pd.DataFrame({"k": ["a", "b"], "v": [1, 2]}),  # unique, all found: the lookup
        pd.DataFrame({"k": ["a", "a", "b"], "v": [1, 3, 2]}),  # repeated key: the merge
        pd.DataFrame({"k": ["a"], "v": [1]}),  # a key not found: the merge (NaN upcast)
        pd.DataFrame({"k": ["a", None], "v": [1, 2]}),  # NA key: the merge (None pairs NaN)
    ],
)
def test_joins_equal_merges(right: pd.DataFrame) -> None:
    left = pd.DataFrame({"k": ["b", "a", np.nan, "b"], "x": [1, 2, 3, 4]}, index=[9, 8, 7, 6])
    pd.testing.assert_frame_equal(
        keys.left_join(left, right, "k"), left.merge(right, on="k", how="left")
    )
    pd.testing.assert_frame_equal(keys.inner_join(left, right, "k"), left.merge(right, on="k"))


def test_upper_matches_str_upper() -> None:
    values = pd.Series(["refund", None, "Refund", np.nan, "SUCCESS"], dtype=object)
    pd.testing.assert_series_equal(keys.upper(values), values.astype(str).str.upper())


def test_decimal_array_uses_each_currency_exponent() -> None:
    units = pd.Series([1234, 1234, 1234, -5])
    currencies = pd.Series(["USD", "JPY", "KWD", "USD"])
    assert list(decimal_array(units, currencies)) == [
        Decimal("12.34"),
        Decimal("1234"),
        Decimal("1.234"),
        Decimal("-0.05"),
    ]


@pytest.mark.parametrize(
    ("units", "currencies"),
    [
        ([5, 5, -7, 0, 2**40], ["USD"] * 5),  # one currency, a narrow-enough range: the table
        ([1, -(2**60), 2**60, 1], ["JPY"] * 4),  # a range too wide for a table: hashed
        ([1234, 1234, 1234, -5, 99, 7], ["USD", "JPY", "KWD", "USD", None, np.nan]),
        ([10, 20, 10], [None, None, None]),
        ([], []),
    ],
)
def test_decimal_arrays_equal_from_minor_per_row(units: list[int], currencies: list[Any]) -> None:
    got = decimal_arrays(pd.Series(currencies, dtype=object), units, [u * 3 for u in units])
    for column, factor in zip(got, (1, 3), strict=True):
        want = [
            None if isinstance(c, float) else from_minor(u * factor, str(c))
            for u, c in zip(units, currencies, strict=True)
        ]
        assert [None if d is None else str(d) for d in column] == [
            None if d is None else str(d) for d in want
        ]


@pytest.mark.parametrize(
    "right",
    [
        (["r1", "r2", "r2"], ["p1", "p2", "p3"]),  # unique line items: the lookup
        (["r1", "r2", "r1"], ["p1", "p2", "p2"]),  # a repeated line item: coded pairs
        (["r1", "r2"], ["p1", None]),  # an NA line item pairs with NA, as in a merge
    ],
)
def test_pair_member_is_a_two_key_merge_indicator(right: tuple[list[str], list[str]]) -> None:
    left = pd.DataFrame(
        {"a": ["r1", "r2", "r1", "r2", "r2"], "b": ["p1", "p1", "p2", np.nan, "p3"]}
    )
    other = pd.DataFrame({"a": right[0], "b": right[1]}).drop_duplicates()
    merged = left.merge(other, on=["a", "b"], how="left", indicator=True)
    found = keys.pair_member((left["a"], left["b"]), (other["a"], other["b"]))
    assert list(found) == list(merged["_merge"] == "both")


DIGIT_IDS = [
    [["0123", "123", None, "7", "123"], ["123", "99", np.nan, "0123"]],
    [["5", "5", "5"], [], ["6", None]],
    [[None, None], ["1"]],
    [[], ["8", "9"], ["9", "10", "8"]],  # the first ids all in later columns
    [["1" * 17, "0" * 17], ["0" * 17, "00"], ["1"]],
]


@pytest.mark.parametrize(
    "values",
    [
        ["0123", "123", None, "7", "1" * 17, "0"],  # every present value keyed: the direct cast
        ["0123", "", "12a", None, "1" * 18, "١٢٣", "７", "-1", "+1", " 1", "x", "99"],
        [None, None],
        [],
    ],
)
def test_digit_keys_are_length_and_value(values: list[object]) -> None:
    pa = pytest.importorskip("pyarrow")
    got, keyed = codes_mod.digit_keys(pa.array(values, type=pa.large_string()))
    digits = [isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 17 for v in values]
    want = [len(v) * 10**17 + int(v) if d else 0 for v, d in zip(values, digits, strict=True)]
    assert list(keyed) == digits
    assert list(got) == want


@pytest.mark.parametrize("lengths", [[3, 0, 2], [0, 0], [5], [1, 1, 1], [0, 4]])
def test_gather_is_a_pick_from_the_concatenation(lengths: list[int]) -> None:
    arrays = [np.array([f"{i}-{j}" for j in range(n)], dtype=object) for i, n in enumerate(lengths)]
    everything = np.concatenate(arrays)
    bounds = np.cumsum(lengths)[:-1]
    for rows in ([], list(range(len(everything))), list(range(0, len(everything), 2))):
        picked = np.array(rows, dtype=np.int64)
        got = codes_mod._gather(arrays, bounds, picked)
        assert list(got) == list(everything[picked])


@pytest.mark.parametrize("arrays", DIGIT_IDS)
def test_digit_ids_are_coded_as_their_strings(arrays: list[list[object]]) -> None:
    columns = [np.array(a, dtype=object) for a in arrays]
    keyed = [codes_mod._object_keys(c) for c in columns]
    assert all(k is not None for k in keyed)
    got, vocab, _ = codes_mod._encode_keys(columns, keyed)  # type: ignore[arg-type]
    want, want_vocab = codes_mod._encode_kind(columns)
    assert [list(g) for g in got] == [list(w) for w in want]
    assert list(vocab) == list(want_vocab)


@pytest.mark.parametrize(
    "column",
    [
        ["1", ""],
        ["1", "12a"],
        ["1", "1" * 18],
        ["1", 7],
        ["1", "١٢٣"],
        ["x", "1"],
        ["1"] * 64 + ["\ud800"],  # a lone surrogate past the sample: Arrow cannot encode it
        ["1"] * 64 + [b"1", "2"],  # bytes past the sample: not the str "1"
    ],
)
def test_ids_other_than_short_digit_strings_are_hashed_as_strings(column: list[object]) -> None:
    values = np.array(column, dtype=object)
    assert codes_mod._object_keys(values) is None
    if len(values) > codes_mod._SAMPLE:  # encode takes the string path: distinct values kept
        _, vocab = codes_mod._encode_kind([values])
        assert len(vocab) == len({(type(v), v) for v in column})


def test_keyed_lookup_equals_the_string_lookup() -> None:
    ids = [f"{n:04d}" for n in range(3000)]
    frames = empty_frames()
    returns = pd.DataFrame({c: pd.Series([None] * len(ids), dtype=object) for c in RETURN_COLUMNS})
    frames = dataclasses.replace(frames, returns=returns.assign(rma=ids))
    codes = codes_mod.encode(frames)
    assert "rma" in codes.keys  # digit ids: coded by key
    probe = [*ids[::-1], "0001", "1", "99999", None, np.nan]  # "1" is not "0001"
    strings = pd.Index(codes.vocab["rma"].to_numpy(), dtype=object)
    want = strings.get_indexer(pd.Index(probe, dtype=object))
    assert list(codes.lookup("rma", probe)) == list(want)
    assert list(codes.lookup("rma", [*probe, "R-1"])) == [*want, -1]  # mixed: strings

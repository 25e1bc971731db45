"""The engine's column fast paths (issue H18 follow-up) give the same answers as the pandas
or slower paths they replace: text compares, word columns, joins by row, the best link."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from engine_builders import empty_frames

from recon import engine
from recon.engine import classify_settlement, keys
from recon.engine import codes as codes_mod
from recon.engine.frames import TRANSACTION_COLUMNS, minor_tolerance
from recon.money import tolerance_units


@pytest.mark.parametrize(
    ("pos", "values", "rows"),
    [
        ([3, 0, -1, 1], ["d", "a", "ignored", "b"], [0, 1, 2, 3, 3, -1]),  # one value a slot
        ([0, 2, 2, -1, 0], ["b", "x", "a", "y", "b"], [2, 0, 1, -1]),  # a slot named twice
        ([1, 0, 2], [None, np.nan, 7], [0, 1, 2, 3]),  # not str: as ``astype(str)`` spells them
        ([-1, -1], ["a", "b"], [0, 3, -1]),
        ([], [], []),
    ],
)
def test_join_rows_is_join_at_then_rows(pos: list[int], values: list[Any], rows: list[int]) -> None:
    at, picked = np.array(pos, dtype=np.int64), np.array(rows, dtype=np.int64)
    got = keys.join_rows(at, np.array(values, dtype=object), 4, picked)
    want = keys.join_at(at, np.array(values, dtype=object), 4)[picked]
    assert list(got) == list(want)


@pytest.mark.parametrize(
    "column",
    [
        ["refund", "REFUND", None, "Refund", np.nan, "sale", 7, "refund"],
        ["SUCCESS"] * 5,
        [None, None],
        [],
    ],
)
def test_words_upper_in_is_upper_in(column: list[Any]) -> None:
    values = pd.Series(column, dtype=object)
    words = keys.words(values)
    for options in (("REFUND",), ("NONE", "NAN"), ("SALE", "7"), ()):
        assert list(words.upper_in(options)) == list(keys.upper_in(values, options))


def test_encode_hashes_the_word_columns() -> None:
    frames = empty_frames()
    status = pd.Series(["success", None, "PENDING", np.nan, "failure"], dtype=object)
    txns = pd.DataFrame({c: [None] * 5 for c in TRANSACTION_COLUMNS}, dtype=object)
    frames = dataclasses.replace(frames, transactions=txns.assign(status=status))
    codes = codes_mod.encode(frames)
    assert set(codes.words) == set(codes_mod.WORDS)
    for options in (("SUCCESS",), ("PENDING", "NONE"), ("NAN",)):
        got = codes.upper_in("transactions", "status", options)
        assert list(got) == list(keys.upper_in(status, options))


@pytest.mark.parametrize(
    "column",
    [
        ["closed", None, "Closed", np.nan, 3, "closed ", "closed", pd.NA],
        [np.nan, np.nan],
        [],
    ],
)
def test_eq_is_the_series_compare(column: list[Any]) -> None:
    values = pd.Series(column, dtype=object, index=np.arange(len(column)) * 2)
    assert list(keys.eq(values, "closed")) == list(values == "closed")
    pd.testing.assert_series_equal(keys.eq_series(values, "closed"), values == "closed")


@pytest.mark.parametrize(
    "currencies",
    [["USD", "JPY", "USD", "KWD"], ["EUR", None, np.nan, "JPY"], [], ["JPY"] * 3],
)
def test_minor_tolerance_is_the_map(currencies: list[Any]) -> None:
    values = pd.Series(currencies, dtype=object, name="currency", index=np.arange(len(currencies)))
    for tolerance in (Decimal("0"), Decimal("0.01"), Decimal("1.5")):
        table = {c: tolerance_units(tolerance, c) for c in pd.unique(values.astype(str))}
        want = values.astype(str).map(table).astype(np.int64)
        pd.testing.assert_series_equal(minor_tolerance(tolerance, values), want)


@pytest.mark.parametrize(
    "column", [["closed", "open"], ["closed", None, np.nan, 4, pd.NA], [], [None]]
)
def test_text_is_astype_str(column: list[Any]) -> None:
    values = pd.Series(column, dtype=object, name="state", index=np.arange(len(column)) + 3)
    pd.testing.assert_series_equal(keys.text(values), values.astype(str))


@pytest.mark.parametrize(
    ("pos", "values", "rows"),
    [
        ([0, 1, 0, -1], ["p1", "p2", "p3", "p4"], [1, 0, -1, 2]),  # str: no NA scan
        ([0, 0, 1, 2], [None, "p2", np.nan, pd.NA], [0, 1, 2, -1, 0]),  # NA is nobody's first
        ([-1], ["x"], [-1, 0]),
        ([], [], []),
    ],
)
def test_first_rows_is_first_at_then_take(
    pos: list[int], values: list[Any], rows: list[int]
) -> None:
    at, picked = np.array(pos, dtype=np.int64), np.array(rows, dtype=np.int64)
    got = keys.first_rows(at, np.array(values, dtype=object), 3, picked)
    want = keys.take(keys.first_at(at, np.array(values, dtype=object), 3), picked, np.nan)
    assert [str(v) for v in got] == [str(v) for v in want]


def test_constant_is_np_full() -> None:
    for value in ("none", "", None):
        assert list(keys.constant(3, value)) == list(np.full(3, value, dtype=object))
    assert len(keys.constant(0, "x")) == 0


def _best_link_by_sorting(links: pd.DataFrame, at: np.ndarray, size: int) -> tuple[Any, Any]:
    """The strongest link per slot by the full sort (the engine's path when slots repeat)."""
    rank = links["match_method"].map({"note": 0, "provider_refund_id": 1, "heuristic": 2})
    confidence = links["confidence"].to_numpy(dtype=np.float64)
    order = np.lexsort((-confidence, rank.to_numpy(dtype=np.float64), at))
    order = order[at[order] >= 0]
    first = order[np.r_[True, at[order][1:] != at[order][:-1]]] if len(order) else order
    method = pd.Series(np.full(size, None, dtype=object))
    method.iloc[at[first]] = links["match_method"].to_numpy(dtype=object)[first]
    best = np.full(size, np.nan)
    best[at[first]] = confidence[first]
    return list(method.fillna("none")), list(np.nan_to_num(best, nan=0.0))


@pytest.mark.parametrize(
    ("methods", "confidence", "at"),
    [
        (["note", "heuristic", "provider_refund_id"], [1.0, 0.7, 1.0], [2, 0, -1]),  # one each
        (["heuristic", "note", "heuristic"], [0.9, 1.0, 0.95], [1, 1, 1]),  # ranked
        (["heuristic", None, "note"], [0.8, 1.0, 1.0], [0, 3, 2]),  # no method: "none"
        ([], [], []),
    ],
)
def test_best_link_equals_the_sort(
    methods: list[Any], confidence: list[float], at: list[int]
) -> None:
    links = pd.DataFrame(
        {"match_method": pd.Series(methods, dtype=object), "confidence": confidence}
    )
    slots = np.array(at, dtype=np.int64)
    method, best = engine._best_link(links, slots, 4)
    assert (list(method), list(best)) == _best_link_by_sorting(links, slots, 4)


def test_unsettled_joins_only_the_hit_refunds_links() -> None:
    """Settled transactions: unsettled, failed payout, settled; NA refund ids on both sides, a
    refund linked twice, a refund linked to nothing. The links read by code equal the merge."""
    n = 6
    settled = pd.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(n)],
            "order_id": ["o1"] * n,
            "refund_id": pd.Series(["r1", "r2", None, "r3", "r4", np.nan], dtype=object),
            "refund_code": np.array([0, 1, -1, 2, 3, -1], dtype=np.int64),
            "amount_shop_minor": np.arange(n, dtype=np.int64) * 100,
            "shop_currency": ["USD"] * n,
            "processed_at": pd.Timestamp("2026-01-01", tz="UTC"),
            "moves_money": True,
            "has_bt": [False, True, False, True, True, False],
            "settled": [False, False, False, True, True, False],
            "bad": [False, True, False, False, False, False],
            "payout_id": pd.Series([np.nan, "p1", np.nan, "p2", "p2", np.nan], dtype=object),
            "payout_state": pd.Series([np.nan, "FAILED", np.nan, "PAID", "PAID", np.nan]),
        }
    )
    links = pd.DataFrame(
        {
            "refund_id": pd.Series(["r2", "r1", None, "r2", "r9"], dtype=object),
            "rma": pd.Series(["a", "b", "c", "d", "e"], dtype=object),
            "refund_code": np.array([1, 0, -1, 1, 7], dtype=np.int64),
        }
    )
    as_of = datetime(2026, 3, 1, tzinfo=UTC)
    got = classify_settlement.classify_unsettled(settled, links, as_of, 5)
    every = links.assign(refund_code=-1)  # every link kept: the plain merge
    want = classify_settlement.classify_unsettled(settled.assign(refund_code=-1), every, as_of, 5)
    pd.testing.assert_frame_equal(got, want)
    assert list(got["rma"]) == ["b", "a", "d", "c", "c"]  # r2 twice; None and NaN pair up


def _appended_take(values: Any, pos: np.ndarray, fill: Any) -> np.ndarray:
    """``take`` as it was: ``fill`` appended to the values, -1 reading it."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf" or not isinstance(fill, (int, float, bool)):
        arr = arr.astype(object)
    return np.concatenate([arr, np.array([fill], dtype=arr.dtype)])[
        np.where(pos >= 0, pos, len(arr))
    ]


@pytest.mark.parametrize(
    ("values", "fill"),
    [
        (np.array([5, 7, 9]), 0),
        (np.array([3, 4, 5], dtype=np.int32), -1),
        (np.array([True, False, True]), False),
        (np.array([1.5, 2.5, 3.5]), 0),
        (np.array(["a", None, "c"], dtype=object), None),
        (np.array(["a", "b", "c"], dtype=object), np.nan),
        (np.array(["a", "bb", "c"]), ""),  # fixed-width text: read as objects
        (pd.Series(pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"], utc=True)), None),
        (np.array([], dtype=object), None),
        (np.array([], dtype=np.int64), -1),
    ],
)
def test_take_reads_as_the_appended_fill_did(values: Any, fill: Any) -> None:
    pos = np.array([2, -1, 0, 0, -1, 1]) if len(values) else np.array([-1, -1])
    got, want = keys.take(values, pos, fill), _appended_take(values, pos, fill)
    assert got.dtype == want.dtype
    assert [type(v) for v in got] == [type(v) for v in want]
    assert pd.Series(got, dtype=object).equals(pd.Series(want, dtype=object))
    every = np.arange(len(values))  # no -1: nothing filled
    assert list(keys.take(values, every, fill)) == list(_appended_take(values, every, fill))

"""Integer keys for string ids: hash each id column once, then look up, group and sum on int64.

Issue H10: at 1M returns the engine spent most of its time re-hashing and sorting the same
object-dtype id strings in ``merge``/``isin``/``groupby``. These helpers turn a lookup into a
position in a table of distinct ids (``Index.get_indexer``), so the rest is numpy on integers.
Missing ids (None/NaN) behave as in ``Series.isin``: None matches None, NaN matches NaN.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype


def table(values: Any) -> pd.Index:
    """The distinct values, in first-appearance order, as an Index to look positions up in."""
    ids: pd.Index = pd.Index(np.asarray(values, dtype=object), dtype=object, copy=False)
    if not ids.is_unique:  # the check builds the lookup hash table; ids columns mostly pass
        ids = pd.Index(pd.unique(ids.to_numpy()), dtype=object)
    return ids


def positions(values: Any, ids: pd.Index) -> np.ndarray:
    """Position of each value in ``ids`` (a ``table``), -1 where it is absent."""
    if len(ids) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    return np.asarray(ids.get_indexer(pd.Index(values, dtype=object)), dtype=np.int64)


def member(values: Any, pool: Any) -> np.ndarray:
    """``Series(values).isin(pool)`` as a bool array, through one hash table of ``pool``.

    Integer codes go to pandas' int64 hash ``isin`` (``np.isin`` sorts: slower at 1M rows).
    """
    arr, other = np.asarray(values), np.asarray(pool)
    if arr.dtype.kind in "iu" and other.dtype.kind in "iu":
        return np.asarray(pd.Series(arr, copy=False).isin(other).to_numpy(), dtype=bool)
    if len(other) > 4 * len(arr):  # hash the small side; probe it with the big one
        ids = table(arr)
        present = np.zeros(len(ids) + 1, dtype=bool)
        present[positions(other, ids)] = True  # misses land on the spare last slot
        found: np.ndarray = present[:-1][positions(arr, ids)]
        return found
    return positions(arr, table(other)) >= 0


def upper(values: pd.Series) -> pd.Series:
    """``values.astype(str).str.upper()``, computed once per distinct value (codes repeat)."""
    raw = values.to_numpy(dtype=object)
    codes, uniques = pd.factorize(raw)
    out = np.array([str(u).upper() for u in uniques] + [""], dtype=object)[codes]
    missing = np.flatnonzero(codes < 0)  # None → "NONE", NaN → "NAN", as astype(str) does
    out[missing] = [str(v).upper() for v in raw[missing]]
    return pd.Series(out, index=values.index, dtype=object)


def upper_in(values: Any, options: tuple[str, ...]) -> np.ndarray:
    """``upper(values).isin(options)`` as a bool array, tested once per distinct value."""
    raw = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(raw)
    hit = np.array([str(u).upper() in options for u in uniques] + [False], dtype=bool)[codes]
    missing = np.flatnonzero(codes < 0)  # None → "NONE", NaN → "NAN", as ``upper`` spells them
    hit[missing] = [str(v).upper() in options for v in raw[missing]]
    return hit


@dataclass(frozen=True)
class Words:
    """A text column (kinds, statuses) hashed once: ``upper_in`` then costs no hashing.

    Built by ``words``; the engine tests one column against several word sets (a refund
    transaction's status is pending, ok or failed), which hashed 1M cells per test.
    """

    codes: np.ndarray  # per row, its distinct value's position (-1: None/NaN)
    upper: tuple[str, ...]  # per distinct value, ``str(value).upper()``
    missing: np.ndarray  # rows without a code
    missing_upper: tuple[str, ...]  # theirs: "NONE", "NAN", as ``upper`` spells them

    def upper_in(self, options: tuple[str, ...]) -> np.ndarray:
        """``upper_in(column, options)``."""
        hit: np.ndarray = np.array([u in options for u in self.upper] + [False], dtype=bool)
        hit = hit[self.codes]
        hit[self.missing] = [u in options for u in self.missing_upper]
        return hit


def words(values: Any) -> Words:
    """The ``Words`` of a text column."""
    raw = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(raw)
    missing = np.flatnonzero(codes < 0)
    return Words(
        codes=codes.astype(np.int64, copy=False),
        upper=tuple(str(u).upper() for u in uniques),
        missing=missing,
        missing_upper=tuple(str(v).upper() for v in raw[missing]),
    )


def text(values: pd.Series) -> pd.Series:
    """``values.astype(str)``; ``values`` itself when each is a ``str`` already (no 1M copy)."""
    if infer_dtype(values.to_numpy(dtype=object), skipna=False) == "string":
        return values
    return values.astype(str)


def eq(values: Any, text: str) -> np.ndarray:
    """``values == text`` as a bool array: numpy's object compare, a third of pandas' time
    (pandas boxes the comparison per cell; both compare each cell with ``==``)."""
    cells = np.asarray(values, dtype=object)
    try:
        equal: np.ndarray = cells == text
    except TypeError:  # pd.NA has no truth value; pandas reads it as unequal
        equal = (pd.Series(cells, dtype=object, copy=False) == text).to_numpy(dtype=bool)
    return equal


def eq_series(values: pd.Series, text: str) -> pd.Series:
    """``values == text`` as a bool Series on ``values``' index (``eq``, for Series logic)."""
    return pd.Series(eq(values, text), index=values.index)


def sum_at(pos: np.ndarray, values: Any, size: int) -> np.ndarray:
    """Integer sums of ``values`` per position (rows at -1 are skipped); exact, no float."""
    out = np.zeros(size, dtype=np.int64)
    keep = pos >= 0
    np.add.at(out, pos[keep], np.asarray(values, dtype=np.int64)[keep])
    return out


def any_at(pos: np.ndarray, flags: Any, size: int) -> np.ndarray:
    """Whether any flag is set per position (rows at -1 are skipped)."""
    out = np.zeros(size, dtype=bool)
    keep = pos >= 0
    out[pos[keep & np.asarray(flags, dtype=bool)]] = True
    return out


def take(values: Any, pos: np.ndarray, fill: Any) -> np.ndarray:
    """``values[pos]`` with ``fill`` where ``pos`` is -1 (a left join on a unique key).

    Read in place, -1 reading the last value, then filled: ``values`` with ``fill`` appended
    was a copy of the whole column per call (and two of an object one), 32 calls at 1M.
    """
    arr = np.asarray(values)
    numeric = arr.dtype.kind in "biuf" and isinstance(fill, (int, float, bool))
    if not len(arr):  # nothing to read: every position is -1
        return np.array([fill] * len(pos), dtype=arr.dtype if numeric else object)
    out = arr.take(pos)
    if not numeric:  # converted as the values it read (each value converts on its own)
        out = out.astype(object, copy=False)
    missing = pos < 0
    if missing.any():
        out[missing] = fill  # cast to a numeric column's dtype, as the appended fill was
    return out


def constant(size: int, value: object) -> np.ndarray:
    """An object array of ``size`` rows all holding ``value`` (the one object).

    ``np.full(size, "text", dtype=object)`` goes through a fixed-width unicode array and makes
    a new ``str`` per row: 56 ms per 1M rows, where this takes 2.
    """
    out = np.empty(size, dtype=object)
    out.fill(value)
    return out


def join_at(pos: np.ndarray, values: Any, size: int) -> np.ndarray:
    """Per position, the distinct ``str`` values sorted and comma-joined ("" when none).

    Positions named once skip the de-duplication and the Python join: at 1M RMAs almost all are.
    """
    keep = pos >= 0
    at = pos[keep]
    text = np.asarray(values, dtype=object)[keep]
    if infer_dtype(text, skipna=False) != "string":  # all ``str`` already (usual): no copy
        text = pd.Series(text, dtype=object).astype(str).to_numpy()
    single = np.bincount(at, minlength=size)[at] == 1
    out = constant(size, "")
    out[at[single]] = text[single]
    many = pd.DataFrame({"k": at[~single], "v": text[~single]}).drop_duplicates()
    if not many.empty:
        joined = many.sort_values(["k", "v"]).groupby("k", sort=False)["v"].agg(",".join)
        out[joined.index.to_numpy()] = joined.to_numpy()
    return out


def join_rows(pos: np.ndarray, values: Any, size: int, rows: np.ndarray) -> np.ndarray:
    """``join_at(pos, values, size)[rows]``, read straight from ``values`` when no position is
    named twice (then each holds its one value, as ``str``).

    At 1M RMAs the match table's four id columns were scattered to their slots and gathered
    back per return; a gather by each slot's row is a third of the time.
    """
    keep = np.flatnonzero(pos >= 0)
    if np.bincount(pos[keep], minlength=size).max(initial=0) > 1:
        joined: np.ndarray = join_at(pos, values, size)[rows]
        return joined
    row_of = np.full(size, -1, dtype=np.int64)
    row_of[pos[keep]] = keep
    at = row_of[rows]  # a row of -1 reads the last slot, as indexing ``join_at``'s result does
    found = np.flatnonzero(at >= 0)
    text = np.asarray(values, dtype=object)[at[found]]
    if infer_dtype(text, skipna=False) != "string":
        text = pd.Series(text, dtype=object).astype(str).to_numpy()
    out = constant(len(at), "")
    out[found] = text
    return out


def left_join(left: pd.DataFrame, right: pd.DataFrame, on: str) -> pd.DataFrame:
    """``left.merge(right, on=on, how="left")``, as a lookup when that gives the same frame.

    The lookup applies when each key is one ``right`` row, every ``left`` key is found (no NaN
    upcasts) and no other column name is shared (no suffixes); otherwise this is the merge.
    """
    ids = table(right[on])
    shared = (set(left.columns) & set(right.columns)) - {on}
    at = positions(left[on], ids) if _unique_key(ids, right, shared) else None
    if at is None or (at < 0).any():
        return left.merge(right, on=on, how="left")
    return _side_by_side(left, np.arange(len(left)), right, at, on)


def inner_join(left: pd.DataFrame, right: pd.DataFrame, on: str) -> pd.DataFrame:
    """``left.merge(right, on=on)`` (inner, left order), as a lookup when each key is one row.

    Falls back to the merge when ``right`` repeats a key or shares another column name.
    """
    ids = table(right[on])
    if not _unique_key(ids, right, (set(left.columns) & set(right.columns)) - {on}):
        return left.merge(right, on=on)
    at = positions(left[on], ids)
    rows = np.flatnonzero(at >= 0)
    return _side_by_side(left, rows, right, at[rows], on)


def _side_by_side(
    left: pd.DataFrame, rows: np.ndarray, right: pd.DataFrame, at: np.ndarray, on: str
) -> pd.DataFrame:
    """Left's ``rows`` beside right's rows ``at`` (all columns but ``on``), framed once.

    Every column is a fresh ``take``, so the frame may hold them unstacked (``copy=False``):
    stacking 1M-row object columns into blocks was a large share of each join (issue H10).
    """
    data = {column: raw(left[column]).take(rows) for column in left.columns}
    data.update({c: raw(right[c]).take(at) for c in right.columns if c != on})
    return pd.DataFrame(data, copy=False)


def raw(column: pd.Series) -> Any:
    """A column's values without a copy: the ndarray of a numpy dtype, else its ExtensionArray.

    Framing ``Series.array`` of an object column made pandas scan it for missing values again
    (``NumpyExtensionArray.to_numpy``), 80 ms per 1M rows per frame built.
    """
    values = column.array
    return np.asarray(values) if isinstance(values, pd.arrays.NumpyExtensionArray) else values


def pair_codes(*pairs: tuple[Any, Any]) -> list[np.ndarray]:
    """One int64 code per (a, b) pair, comparable across the given pair columns.

    Missing ids compare equal to each other (NaN and None alike), as merge keys do.
    """
    sizes = np.cumsum([0, *(len(a) for a, _ in pairs)])
    first = pd.factorize(
        np.concatenate([np.asarray(a, dtype=object) for a, _ in pairs]), use_na_sentinel=False
    )[0].astype(np.int64)
    second = pd.factorize(
        np.concatenate([np.asarray(b, dtype=object) for _, b in pairs]), use_na_sentinel=False
    )[0].astype(np.int64)
    code = first * (second.max(initial=0) + 1) + second
    return [code[sizes[i] : sizes[i + 1]] for i in range(len(pairs))]


def _unique_key(ids: pd.Index, right: pd.DataFrame, shared: set[str]) -> bool:
    """Whether a lookup equals the merge: one row per key, no NA key (merge pairs NaN with
    None, ``get_indexer`` does not) and no shared column needing a suffix."""
    return len(ids) == len(right) and not shared and not ids.hasnans


def group_codes(keys_: Any, *lookups: Any) -> tuple[np.ndarray, int, list[np.ndarray]]:
    """Group codes of ``keys_`` (first-appearance order, NA → -1) and each lookup's code in them.

    One hash pass over all arrays: a lookup value absent from ``keys_`` (or NA) gets -1, as a
    groupby that drops NA keys followed by a left join would leave it unmatched.
    """
    arrays = [np.asarray(keys_), *(np.asarray(a) for a in lookups)]
    if not all(a.dtype.kind in "iu" for a in arrays):  # integer codes hash as int64
        arrays = [a.astype(object) for a in arrays]
    codes = pd.factorize(np.concatenate(arrays))[0].astype(np.int64)
    size = int(codes[: len(arrays[0])].max(initial=-1)) + 1
    codes[len(arrays[0]) :][codes[len(arrays[0]) :] >= size] = -1
    bounds = np.cumsum([len(a) for a in arrays])
    return codes[: bounds[0]], size, [codes[a:b] for a, b in itertools.pairwise(bounds)]


def first_at(pos: np.ndarray, values: Any, size: int) -> np.ndarray:
    """Per position, the first non-NA value (NaN when none): a groupby's ``first``."""
    arr = np.asarray(values, dtype=object)
    keep = np.flatnonzero((pos >= 0) & pd.notna(arr))
    first = np.full(size + 1, -1, dtype=np.int64)
    first[pos[keep[::-1]]] = keep[::-1]  # reversed: each position's first row writes last
    out = np.full(size, np.nan, dtype=object)
    found = np.flatnonzero(first[:size] >= 0)
    out[found] = arr[first[found]]
    return out


def first_rows(pos: np.ndarray, values: Any, size: int, rows: np.ndarray) -> np.ndarray:
    """``take(first_at(pos, values, size), rows, np.nan)``, read straight from ``values``.

    The per-position array and its NA scan are skipped (``str`` values are never NA): the
    settlement's payout columns at 1M transactions, a third of the time.
    """
    arr = np.asarray(values, dtype=object)
    present = pos >= 0
    if infer_dtype(arr, skipna=False) != "string":
        present &= pd.notna(arr)
    keep = np.flatnonzero(present)
    first = np.full(size + 1, -1, dtype=np.int64)  # [size]: rows at -1, no value
    first[pos[keep[::-1]]] = keep[::-1]  # reversed: each position's first row writes last
    at = first[np.where(rows >= 0, rows, size)]
    out = constant(len(rows), np.nan)
    found = np.flatnonzero(at >= 0)
    out[found] = arr[at[found]]
    return out


def with_columns(frame: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    """``frame.assign(**columns)`` without a deep copy of the existing columns.

    The new frame shares the old columns' data (none is modified in place) and gets the new
    ones: ``assign`` copied all of a 1M-row frame each time (issue H10).
    """
    out = frame.copy(deep=False)
    for name, value in columns.items():
        out[name] = value(out) if callable(value) else value
    return out


def pair_member(left: tuple[Any, Any], right: tuple[Any, Any]) -> np.ndarray:
    """Whether each ``left`` (a, b) pair is among the ``right`` pairs (NA equals NA, as in merge).

    When ``right``'s b values are unique and not NA, each left pair has one candidate: a lookup
    on b and an equality test on a (no pair hashing); otherwise the pairs are coded.
    """
    (a1, b1), (a2, b2) = left, right
    ids = table(b2)
    if len(ids) == len(b2) and not ids.hasnans:
        at = positions(b1, ids)
        hit = np.flatnonzero(at >= 0)
        mine, theirs = np.asarray(a1, dtype=object)[hit], np.asarray(a2, dtype=object)[at[hit]]
        if not (pd.isna(mine).any() or pd.isna(theirs).any()):
            out = np.zeros(len(at), dtype=bool)
            out[hit] = mine == theirs
            return out
    codes_left, codes_right = pair_codes(left, right)
    return member(codes_left, codes_right)

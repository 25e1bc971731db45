"""Integer codes for every kind of id, built once per run so classifiers work on int64 arrays.

Issue H18: at 1M returns most of the engine's time went into hashing the same id strings again
in each step. ``encode`` hashes each id kind once (all its columns together), so a code means the
same id in every frame; the classifiers then join, group and test membership on integers and
turn codes back into strings only for findings and result rows. A missing id (None/NaN) is -1.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from recon.engine import keys as keys_mod

if TYPE_CHECKING:
    from recon.engine.frames import Frames

# Id kind → the (frame, column) pairs holding ids of that kind that the rules read by code.
# Other id columns (orders', refunds' and transactions' order ids) are joined as strings on the
# few rows that need them: coding them (2M ids at 1M returns) would be work no rule reads. A
# lookup of an id no coded column holds gives -1.
KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "rma": (("returns", "rma"), ("return_lines", "rma"), ("return_refunds", "rma")),
    "order": (("returns", "order_id"),),  # grouped on by STATUS_DRIFT
    "refund": (
        ("refunds", "refund_id"),
        ("refund_lines", "refund_id"),
        ("transactions", "refund_id"),
        ("return_refunds", "provider_refund_id"),  # Loop's record vs the notes (link.py)
    ),
    "transaction": (
        ("transactions", "transaction_id"),
        ("balance_transactions", "source_order_transaction_id"),
    ),
    "payout": (("payouts", "payout_id"), ("balance_transactions", "payout_id")),
    "line": (("return_lines", "provider_line_item_id"), ("refund_lines", "line_item_id")),
    "sku": (("return_lines", "sku"), ("refund_lines", "sku")),
}


# Text columns the rules test against fixed words, hashed once with the ids (``keys.Words``):
# 10 tests hashed them again at 1M rows each.
WORDS: tuple[tuple[str, str], ...] = (
    ("transactions", "kind"),
    ("transactions", "status"),
    ("balance_transactions", "type"),
    ("balance_transactions", "payout_status"),
)

# Values ``_object_keys`` checks in Python before converting a column to Arrow.
_SAMPLE = 64


@dataclass(frozen=True)
class Codes:
    """Per id kind, the distinct ids (``vocab``) and each id column's codes into them."""

    vocab: dict[str, pd.Index]
    columns: dict[tuple[str, str], np.ndarray]
    # RMAs made of up to 17 digits as int64 keys (``digit_keys``) → their codes: RMAs parsed
    # from notes are looked up as integers, not hashed as 1M new strings (issue H18).
    rma_keys: pd.Index | None = None
    rma_key_codes: np.ndarray | None = None
    # Kinds whose ids are all digit strings: their ``digit_keys`` in code order (codes 0 … n-1).
    keys: dict[str, pd.Index] = field(default_factory=dict)
    # The ``WORDS`` columns (frame, column) → their words.
    words: dict[tuple[str, str], keys_mod.Words] = field(default_factory=dict)

    def of(self, frame: str, column: str) -> np.ndarray:
        """The int64 codes of ``frame.column`` (-1 where the id is missing)."""
        return self.columns[(frame, column)]

    def upper_in(self, frame: str, column: str, options: tuple[str, ...]) -> np.ndarray:
        """``keys.upper_in(frame.column, options)`` for a ``WORDS`` column, unhashed."""
        return self.words[(frame, column)].upper_in(options)

    def size(self, kind: str) -> int:
        """How many distinct ids of ``kind`` the frames hold (codes are 0 … size-1)."""
        return len(self.vocab[kind])

    def lookup(self, kind: str, values: Any) -> np.ndarray:
        """Codes of other values of ``kind`` (e.g. RMAs parsed from notes); -1 if absent/NA."""
        objects = np.asarray(values, dtype=object)
        if len(self.vocab[kind]) == 0 or len(objects) == 0:
            return np.full(len(objects), -1, dtype=np.int64)
        if kind in self.keys:
            probe = _probe_keys(objects)
            if probe is not None:  # a value that is no digit id is not in a digit vocabulary
                keys, keyed = probe
                found = np.full(len(objects), -1, dtype=np.int64)
                found[keyed] = self.keys[kind].get_indexer(keys[keyed])
                return found
        probe_index = pd.Index(objects, dtype=object, copy=False)
        return np.asarray(self.vocab[kind].get_indexer(probe_index), dtype=np.int64)

    def lookup_rmas(self, values: Any) -> np.ndarray:
        """``lookup("rma", values)`` for an Arrow string array (nulls are -1), by digit keys.

        Values that are not 3-17 ASCII digits fall back to the string lookup.
        """
        out = np.full(len(values), -1, dtype=np.int64)
        keyed = np.zeros(len(values), dtype=bool)
        if self.rma_keys is not None and self.rma_key_codes is not None and len(self.rma_keys):
            keys, keyed = digit_keys(values)
            at = np.asarray(self.rma_keys.get_indexer(pd.Index(keys[keyed])), dtype=np.int64)
            out[keyed] = np.where(at >= 0, self.rma_key_codes[np.maximum(at, 0)], -1)
        rest = np.flatnonzero(~keyed & ~np.asarray(values.is_null(), dtype=bool))
        if len(rest):
            text = values.take(rest).to_numpy(zero_copy_only=False)
            out[rest] = self.lookup("rma", text)
        return out


def digit_keys(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per Arrow string, an int64 key ``length * 10**17 + value`` if it is 1-17 ASCII digits.

    The key keeps leading zeros apart ("0123" ≠ "123"): ids are strings, not numbers.
    Returns the keys (0 where not keyed) and the keyed mask.
    """
    import pyarrow as pa  # optional dependency, present whenever notes were parsed by RE2
    import pyarrow.compute as pc

    # Bytes, not characters: they differ only off ASCII, where no value is keyed.
    length = pc.binary_length(values)
    keyed = pc.and_kleene(pc.ascii_is_decimal(values), pc.less_equal(length, 17))
    keyed = pc.fill_null(keyed, False)
    mask = keyed.to_numpy(zero_copy_only=False)
    if int(mask.sum()) == len(values) - values.null_count:  # every id keyed (usual): no copy
        number = pc.fill_null(pc.cast(values, pa.int64()), 0)
    else:  # a value that is no digit id would fail the cast: cast "0" in its place
        number = pc.cast(pc.if_else(keyed, values, pa.scalar("0", type=values.type)), pa.int64())
    size = pc.fill_null(length, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.where(mask, size * 10**17 + number.to_numpy(zero_copy_only=False), 0), mask


def _object_keys(values: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``digit_keys`` of a column of ``str``/None/NaN; None unless every present id is keyed.

    Returns the keys and the missing mask. Hashing 1M ``str`` objects was most of ``encode``'s
    time (issue H18 follow-up); shop and Loop ids are digit strings, so they are coded as int64.
    """
    if not all(_digits_or_missing(v) for v in values[:_SAMPLE]):
        return None  # e.g. SKUs: not worth converting to Arrow
    try:
        array = _arrow_strings(values)
    except ImportError:  # pragma: no cover - optional dependency: ids are hashed as strings
        return None
    if array is None:
        return None
    keys, keyed = digit_keys(array)
    missing = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return (keys, missing) if (keyed | missing).all() else None  # "" or 18 digits: strings


def _probe_keys(objects: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``digit_keys`` of any ``str``/None/NaN values (None if one is another kind of object)."""
    array = _arrow_strings(objects)
    return None if array is None else digit_keys(array)


def _arrow_strings(values: np.ndarray) -> Any:
    """The values as an Arrow string array (missing → null); None unless all are ``str``.

    Arrow would also take ``bytes`` (decoded), which the string path keeps apart from ``str``.
    """
    import pyarrow as pa

    if len(values) and infer_dtype(values, skipna=True) not in ("string", "empty"):
        return None
    try:
        return pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeError):  # e.g. a lone surrogate
        return None


def _digits_or_missing(value: object) -> bool:
    if isinstance(value, str):
        return value.isascii() and value.isdigit()
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _rma_keys(vocab: pd.Index) -> tuple[pd.Index | None, np.ndarray | None]:
    """The ``digit_keys`` index of an RMA vocabulary hashed as strings (None without pyarrow)."""
    try:
        probe = _probe_keys(vocab.to_numpy())
    except ImportError:  # pragma: no cover - no RE2 parsing either: strings are looked up
        return None, None
    if probe is None:  # an id that is not a string: no keys
        return None, None
    keys, keyed = probe
    index = pd.Index(keys[keyed])
    _ = index.is_unique  # distinct strings give distinct keys; builds the hash table once
    return index, np.flatnonzero(keyed).astype(np.int64)


def blank(codes: Codes, kind: str, values: np.ndarray) -> np.ndarray:
    """Codes with a missing id read as "" (``fillna("")``): the code of "", or ``size`` if none."""
    vocab = codes.vocab[kind]
    empty = int(codes.lookup(kind, [""])[0]) if len(vocab) else -1
    return np.where(values < 0, empty if empty >= 0 else len(vocab), values)


def encode(frames: Frames) -> Codes:
    """Code every id column once: one vocabulary per id kind, shared by all of its columns.

    Kinds are coded on two threads: Arrow's kernels and pandas' int64 hashing release the GIL,
    so one kind's hashing overlaps the next one's conversion (about a fifth off at 1M rows).
    Each kind's codes are the same whichever thread made them.
    """
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="recon-codes") as pool:
        worded = pool.map(lambda at: keys_mod.words(getattr(frames, at[0])[at[1]]), WORDS)
        coded = list(pool.map(lambda kind: _encode_columns(frames, KINDS[kind]), KINDS))
        words = dict(zip(WORDS, worded, strict=True))
    vocab: dict[str, pd.Index] = {}
    columns: dict[tuple[str, str], np.ndarray] = {}
    key_index: dict[str, pd.Index] = {}
    for kind, (codes, kind_vocab, kind_keys) in zip(KINDS, coded, strict=True):
        vocab[kind] = kind_vocab
        if kind_keys is not None:
            key_index[kind] = kind_keys
        columns.update(zip(KINDS[kind], codes, strict=True))
    if "rma" in key_index:
        rma_keys: pd.Index | None = key_index["rma"]
        rma_key_codes: np.ndarray | None = np.arange(len(key_index["rma"]), dtype=np.int64)
    else:
        rma_keys, rma_key_codes = _rma_keys(vocab["rma"])
    return Codes(
        vocab=vocab,
        columns=columns,
        rma_keys=rma_keys,
        rma_key_codes=rma_key_codes,
        keys=key_index,
        words=words,
    )


def _encode_columns(
    frames: Frames, where: tuple[tuple[str, str], ...]
) -> tuple[list[np.ndarray], pd.Index, pd.Index | None]:
    """One kind's codes per column, its vocabulary and (digit ids only) its keys."""
    arrays = [getattr(frames, f)[c].to_numpy(dtype=object) for f, c in where]
    keyed = [_object_keys(values) for values in arrays]
    present = [k for k in keyed if k is not None]
    if len(present) == len(keyed):
        return _encode_keys(arrays, present)
    codes, vocab = _encode_kind(arrays)
    return codes, vocab, None


def _encode_keys(
    arrays: list[np.ndarray], keyed: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[list[np.ndarray], pd.Index, pd.Index]:
    """``_encode_kind`` for digit ids: the same codes, factorized as int64 keys.

    Returns the codes per array, the vocabulary (each id's first ``str``) and its keys.
    """
    flat = np.concatenate([k for k, _ in keyed]) if keyed else np.zeros(0, np.int64)
    missing = np.concatenate([m for _, m in keyed]) if keyed else np.zeros(0, bool)
    codes = np.full(len(flat), -1, dtype=np.int64)
    present = np.flatnonzero(~missing)
    found, uniques = pd.factorize(flat[present])  # numbered by first appearance, as strings
    codes[present] = found
    first = first_position(codes, len(uniques))
    bounds = np.cumsum([len(a) for a in arrays])[:-1]
    vocab = pd.Index(_gather(arrays, bounds, first), dtype=object)
    return list(np.split(codes, bounds)), vocab, pd.Index(uniques, dtype=np.int64)


def _gather(arrays: list[np.ndarray], bounds: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``np.concatenate(arrays)[rows]`` for increasing ``rows``, without the concatenation.

    Copying every id object of a kind (3-4M at 1M returns) to pick its first rows held the
    GIL the other coding thread waits on; each array gives its share of ``rows`` instead.
    """
    starts = [0, *np.asarray(bounds, dtype=np.int64).tolist()]
    cuts = np.searchsorted(rows, [*starts, np.iinfo(np.int64).max]).tolist()
    parts = [
        values[rows[lo:hi] - start]
        for values, start, lo, hi in zip(arrays, starts, cuts[:-1], cuts[1:], strict=True)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=object)


def _encode_kind(arrays: list[np.ndarray]) -> tuple[list[np.ndarray], pd.Index]:
    """Codes of each array in one vocabulary, numbered by first appearance across them all.

    The first (primary) column is hashed; the others are probed against it, and only ids it
    lacks are hashed again: the same codes as factorizing the concatenation, for less work.
    """
    first, uniques = pd.factorize(arrays[0])
    vocab = pd.Index(uniques, dtype=object)
    out = [first.astype(np.int64)]
    for values in arrays[1:]:
        codes = np.asarray(vocab.get_indexer(pd.Index(values, dtype=object)), dtype=np.int64)
        new = np.flatnonzero((codes < 0) & pd.notna(values))
        if len(new):
            extra_codes, extra = pd.factorize(values[new])
            codes[new] = len(vocab) + extra_codes
            vocab = vocab.append(pd.Index(extra, dtype=object))
        out.append(codes)
    return out, vocab


def first_position(codes: np.ndarray, size: int) -> np.ndarray:
    """Per code, the first row holding it (-1 if none): a left join on a key's first row."""
    out = np.full(size + 1, -1, dtype=np.int64)
    rows = np.arange(len(codes), dtype=np.int64)
    out[codes[::-1]] = rows[::-1]  # reversed: the first row's write lands last
    out[-1] = -1  # code -1 (missing) wrote to the spare slot
    return out[:size]


def unique_rows(mine: np.ndarray, theirs: np.ndarray, size: int) -> np.ndarray | None:
    """Row of ``theirs`` holding each of ``mine``'s codes, or None unless that is one row each.

    None when ``theirs`` repeats a code or misses one, or ``mine`` has a missing or unfound
    code: a join then differs from a lookup (rows repeat, NaN pairs with NaN).
    """
    if not is_unique(theirs, size) or (len(mine) and mine.min() < 0):
        return None
    at = first_position(theirs, size)[mine]
    return None if (at < 0).any() else at


def is_unique(codes: np.ndarray, size: int) -> bool:
    """Whether no code repeats and none is missing (a lookup then equals a merge)."""
    if len(codes) and codes.min() < 0:
        return False
    return bool(np.bincount(codes, minlength=size).max(initial=0) <= 1)


def one_row_per_id(frames: Frames, codes: Codes) -> tuple[Frames, Codes]:
    """Frames whose returns name each RMA once and whose refunds each id once: the last row of
    a repeated id, as ``build_frames`` keeps it. Frames built directly may repeat one; every
    rule is one finding per scope and the match table one row per RMA. Returns with no RMA
    are kept as they are (they link nothing). Refunds with no id are left out: every refund
    finding is keyed by the id (``refund=<id>``) and links are kept by it, so one crashed the
    run; its transactions, naming no refund, count for none already (link.refund_facts).
    """
    for frame, column, kind in (("returns", "rma", "rma"), ("refunds", "refund_id", "refund")):
        at = codes.of(frame, column)
        keep = last_rows(at, codes.size(kind))
        if kind == "refund" and len(at) and at.min() < 0:
            keep = np.flatnonzero(at >= 0) if keep is None else keep[at[keep] >= 0]
        if keep is None:
            continue
        columns = {
            key: (coded[keep] if key[0] == frame else coded) for key, coded in codes.columns.items()
        }
        codes = dataclasses.replace(codes, columns=columns)
        rows = getattr(frames, frame).take(keep).reset_index(drop=True)
        frames = dataclasses.replace(frames, **{frame: rows, "codes": codes})
    return frames, codes


def last_rows(at: np.ndarray, size: int) -> np.ndarray | None:
    """Rows to keep so that no code repeats (each code's last row; code -1 rows all), or None
    when none repeats (the usual case: a bincount, no copy)."""
    if is_unique(at, size):
        return None
    last = np.full(size, -1, dtype=np.int64)
    rows = np.arange(len(at))
    known = at >= 0
    np.maximum.at(last, at[known], rows[known])  # each id's last row
    keep = np.flatnonzero(~known | (last[np.maximum(at, 0)] == rows))
    return None if len(keep) == len(at) else keep

"""Integer codes for every kind of id, built once per run so classifiers work on int64 arrays.

Issue H18: at 1M returns most of the engine's time went into hashing the same id strings again
in each step. ``encode`` hashes each id kind once (all its columns together), so a code means the
same id in every frame; the classifiers then join, group and test membership on integers and
turn codes back into strings only for findings and result rows. A missing id (None/NaN) is -1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from recon.engine.frames import Frames

# Id kind → the (frame, column) pairs holding ids of that kind (frames.py's column sets).
KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "rma": (("returns", "rma"), ("return_lines", "rma"), ("return_refunds", "rma")),
    "order": (
        ("returns", "order_id"),
        ("orders", "order_id"),
        ("refunds", "order_id"),
        ("transactions", "order_id"),
    ),
    "refund": (
        ("refunds", "refund_id"),
        ("refund_lines", "refund_id"),
        ("transactions", "refund_id"),
        ("return_refunds", "provider_refund_id"),
    ),
    "transaction": (
        ("transactions", "transaction_id"),
        ("balance_transactions", "source_order_transaction_id"),
    ),
    "payout": (("payouts", "payout_id"), ("balance_transactions", "payout_id")),
    "line": (("return_lines", "provider_line_item_id"), ("refund_lines", "line_item_id")),
    "sku": (("return_lines", "sku"), ("refund_lines", "sku")),
}


@dataclass(frozen=True)
class Codes:
    """Per id kind, the distinct ids (``vocab``) and each id column's codes into them."""

    vocab: dict[str, pd.Index]
    columns: dict[tuple[str, str], np.ndarray]
    # RMAs made of up to 17 digits as int64 keys (``digit_keys``) → their codes: RMAs parsed
    # from notes are looked up as integers, not hashed as 1M new strings (issue H18).
    rma_keys: pd.Index | None = None
    rma_key_codes: np.ndarray | None = None

    def of(self, frame: str, column: str) -> np.ndarray:
        """The int64 codes of ``frame.column`` (-1 where the id is missing)."""
        return self.columns[(frame, column)]

    def size(self, kind: str) -> int:
        """How many distinct ids of ``kind`` the frames hold (codes are 0 … size-1)."""
        return len(self.vocab[kind])

    def lookup(self, kind: str, values: Any) -> np.ndarray:
        """Codes of other values of ``kind`` (e.g. RMAs parsed from notes); -1 if absent/NA."""
        vocab = self.vocab[kind]
        if len(vocab) == 0:
            return np.full(len(values), -1, dtype=np.int64)
        probe = pd.Index(np.asarray(values, dtype=object), dtype=object, copy=False)
        return np.asarray(vocab.get_indexer(probe), dtype=np.int64)

    def lookup_rmas(self, values: Any) -> np.ndarray:
        """``lookup("rma", values)`` for an Arrow string array (nulls are -1), by digit keys.

        Values that are not 3-17 ASCII digits fall back to the string lookup.
        """
        out = np.full(len(values), -1, dtype=np.int64)
        keyed = np.zeros(len(values), dtype=bool)
        if self.rma_keys is not None and self.rma_key_codes is not None:
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

    length = pc.utf8_length(values)
    keyed = pc.and_kleene(pc.ascii_is_decimal(values), pc.less_equal(length, 17))
    keyed = pc.fill_null(keyed, False)
    digits = pc.if_else(keyed, values, pa.scalar("0"))
    number = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
    size = pc.fill_null(length, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    mask = keyed.to_numpy(zero_copy_only=False)
    return np.where(mask, size * 10**17 + number, 0), mask


def _rma_keys(vocab: pd.Index) -> tuple[pd.Index | None, np.ndarray | None]:
    """The ``digit_keys`` index of the RMA vocabulary (None without pyarrow)."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - no RE2 parsing either: strings are looked up
        return None, None
    try:
        keys, keyed = digit_keys(pa.array(vocab.to_numpy(), type=pa.string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # an id that is not a string: no keys
        return None, None
    index = pd.Index(keys[keyed])
    _ = index.is_unique  # distinct strings give distinct keys; builds the hash table once
    return index, np.flatnonzero(keyed).astype(np.int64)


def blank(codes: Codes, kind: str, values: np.ndarray) -> np.ndarray:
    """Codes with a missing id read as "" (``fillna("")``): the code of "", or ``size`` if none."""
    vocab = codes.vocab[kind]
    empty = int(vocab.get_indexer(pd.Index([""], dtype=object))[0]) if len(vocab) else -1
    return np.where(values < 0, empty if empty >= 0 else len(vocab), values)


def encode(frames: Frames) -> Codes:
    """Hash every id column once: one vocabulary per id kind, shared by all of its columns."""
    vocab: dict[str, pd.Index] = {}
    columns: dict[tuple[str, str], np.ndarray] = {}
    for kind, where in KINDS.items():
        arrays = [getattr(frames, f)[c].to_numpy(dtype=object) for f, c in where]
        codes, vocab[kind] = _encode_kind(arrays)
        columns.update(zip(where, codes, strict=True))
    rma_keys, rma_key_codes = _rma_keys(vocab["rma"])
    return Codes(vocab=vocab, columns=columns, rma_keys=rma_keys, rma_key_codes=rma_key_codes)


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
    _ = vocab.is_unique  # builds the hash table ``lookup`` probes, once
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

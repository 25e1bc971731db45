"""A refund note that mentions another return of its own order names that return too.

The RMA grammar (``rma.py``) reads the lists staff type and keeps meeting shapes it reads only
the start of ("RMA 12345, $150.00, 12346", "RMA 12345, USD 150.00, 12346", free text). Missing
the second RMA tied the refund to 12345 alone: 12346, a return on the same order, looked unpaid
(MISSING_REFUND) and recon proposed refunding it a second time. Grammar rules cannot close this
for good; a data rule can (docs/findings.md link 1): a note naming an RMA that also holds, as a
whole number, the RMA of another return on the refund's own order names that RMA too, so the
refund is AMBIGUOUS_RMA and finance decides. Only returns of the refund's own order count: a
refund pays back its own order's payment, so a number equal to another order's RMA is not one.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from recon.engine import codes as codes_mod
from recon.engine import keys
from recon.engine.codes import Codes
from recon.engine.frames import Frames
from recon.engine.rma import ascii_digits

# A whole number: a run of digits not part of a longer one (as gift card notes are read,
# ``classify_store_credit``), so 1234 is not found in "12345". Digits are made ASCII first.
_NUMBER = re.compile(r"\d+")


def name_siblings(frames: Frames, codes: Codes, out: dict[str, Any]) -> None:
    """Notes naming an RMA add the other returns of their order they mention as whole numbers.

    ``out`` holds ``refund_facts``' columns; ``rmas`` and ``n_rmas`` are updated for the notes
    that mention one (``first_rma`` and ``rma_code`` keep the note's first RMA, as for any note
    naming several: only a note naming one links by them). A note naming no RMA is left to the
    weaker keys (findings.md link 2, 3): a bare number is no RMA there.

    Only refunds on an order with two or more returns can be affected. They are picked on id
    codes; only their notes are read in Python (none at 1M returns on 1M orders).
    """
    theirs = _orders_with_several_returns(codes)
    if theirs is None:
        return
    counts = out["n_rmas"]
    rows = np.flatnonzero(counts >= 1)
    order = _refund_orders(frames, codes, out, rows)
    crowded = np.zeros(codes.size("order") + 1, dtype=bool)  # code -1 marks the spare slot
    crowded[theirs[0]] = True
    hit = crowded[order]
    rows, order = rows[hit], order[hit]
    if not len(rows):
        return
    siblings = _rmas_by_order(theirs, codes, order)
    notes = frames.refunds["note"].to_numpy(dtype=object)[rows]
    for at, code, note in zip(rows.tolist(), order.tolist(), notes.tolist(), strict=True):
        if not isinstance(note, str):
            continue  # no note (a refund with none names no RMA: never here)
        named = tuple(out["rmas"][at]) if counts[at] >= 2 else (str(out["first_rma"][at]),)
        mine = siblings[code]
        found = dict.fromkeys(_NUMBER.findall(ascii_digits(note)))
        added = tuple(n for n in found if n in mine and n not in named)
        if added:
            out["rmas"][at] = named + added
            counts[at] = len(named) + len(added)


def _refund_orders(
    frames: Frames, codes: Codes, out: dict[str, Any], rows: np.ndarray
) -> np.ndarray:
    """The order codes of the refunds at ``rows`` (-1: an order no return is on, or unknown).

    A note whose one RMA is a return's names a return of the refund's own order
    (``_on_other_orders`` set the code of one on another order to -1; a refund whose order is
    unknown links to it by note), so its order is read off that return, on codes. The others
    (few: notes naming several RMAs or an unknown one) have their order ids looked up: coding
    every refund's order id is work no other rule needs.
    """
    first = codes_mod.first_position(codes.of("returns", "rma"), codes.size("rma"))
    at = keys.take(first, out["rma_code"][rows], -1)
    order = keys.take(codes.of("returns", "order_id"), at, -1)
    single = np.asarray(out["n_rmas"][rows] == 1)
    rest = np.flatnonzero(~single | (order < 0))
    if len(rest):
        ids = frames.refunds["order_id"].to_numpy(dtype=object)[rows[rest]]
        order[rest] = codes.lookup("order", ids)
    return order


def _orders_with_several_returns(codes: Codes) -> tuple[np.ndarray, np.ndarray] | None:
    """``(order codes, RMA codes)`` of the distinct (order, RMA) pairs of returns on orders
    with two or more different RMAs; None when no order has two (the usual case)."""
    order, rma = codes.of("returns", "order_id"), codes.of("returns", "rma")
    known = (order >= 0) & (rma >= 0)  # a return with no order (or no RMA) has no siblings
    order, rma = order[known], rma[known]
    per_order = np.bincount(order, minlength=codes.size("order"))
    several = per_order[order] >= 2  # integer work only: most orders hold one return
    if not several.any():
        return None
    size = np.int64(max(codes.size("rma"), 1))
    pairs = pd.unique(order[several] * size + rma[several])  # a repeated RMA counts once
    order, rma = pairs // size, pairs % size
    distinct = np.bincount(order, minlength=codes.size("order"))[order] >= 2
    if not distinct.any():
        return None
    return order[distinct], rma[distinct]


def _rmas_by_order(
    theirs: tuple[np.ndarray, np.ndarray], codes: Codes, wanted: np.ndarray
) -> dict[int, frozenset[str]]:
    """The RMAs of the returns of each order in ``wanted`` (codes), as strings."""
    order, rma = theirs
    keep = keys.member(order, np.unique(wanted))
    names = codes.vocab["rma"].to_numpy()[rma[keep]]
    found: dict[int, set[str]] = {}
    for code, name in zip(order[keep].tolist(), names.tolist(), strict=True):
        found.setdefault(int(code), set()).add(str(name))
    return {code: frozenset(names_) for code, names_ in found.items()}

"""A refund note that mentions another return of its own order names that return too.

The RMA grammar (``rma.py``) reads the lists staff type and keeps meeting shapes it reads only
the start of ("RMA 12345, $150.00, 12346", "RMA 12345, USD 150.00, 12346", free text). Missing
the second RMA tied the refund to 12345 alone: 12346, a return on the same order, looked unpaid
(MISSING_REFUND) and recon proposed refunding it a second time. Grammar rules cannot close this
for good; a data rule can (docs/findings.md link 1): a note naming an RMA that also holds, as a
whole number, the RMA of another return on the refund's own order names that RMA too, so the
refund is AMBIGUOUS_RMA and finance decides. Only returns of the refund's own order count: a
refund pays back its own order's payment, so a number equal to another order's RMA is not one.

A refund's own lines are stronger evidence than a number in its note: a refund noted "Loop RMA
#12345" that refunds or restocks a line item only 12346 returned (more units of it than the
returns its note names hold) has paid or restocked 12346's unit. Tied to 12345 alone, 12346
looked unpaid and not restocked, and recon refunded and restocked it a second time. Such a
refund names 12346 too (AMBIGUOUS_RMA, held for finance) rather than being split between the
returns: how much of its money is whose is a guess a person makes, not recon.
"""

from __future__ import annotations

import re
from collections import Counter
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


def name_siblings(frames: Frames, codes: Codes, out: dict[str, Any]) -> np.ndarray:
    """Notes naming an RMA add the other returns of their order they mention as whole numbers,
    or whose units their refund's lines refund or restock.

    ``out`` holds ``refund_facts``' columns; ``rmas`` and ``n_rmas`` are updated for the notes
    that mention one (``first_rma`` and ``rma_code`` keep the note's first RMA, as for any note
    naming several: only a note naming one links by them). A note naming no RMA is left to the
    weaker keys (findings.md link 2, 3): a bare number is no RMA there, and lines are read by
    the heuristic. Returns, per refund row, whether its lines named a return (the finding's
    detail says so: the note alone does not).

    Only refunds on an order with two or more returns can be affected. They are picked on id
    codes; only their notes and lines are read in Python (none at 1M returns on 1M orders).
    """
    by_lines = np.zeros(len(out["n_rmas"]), dtype=bool)
    theirs = _orders_with_several_returns(codes)
    if theirs is None:
        return by_lines
    counts = out["n_rmas"]
    rows = np.flatnonzero(counts >= 1)
    order = _refund_orders(frames, codes, out, rows)
    crowded = np.zeros(codes.size("order") + 1, dtype=bool)  # code -1 marks the spare slot
    crowded[theirs[0]] = True
    hit = crowded[order]
    rows, order = rows[hit], order[hit]
    if not len(rows):
        return by_lines
    siblings = _rmas_by_order(theirs, codes, order)
    refunded = _refunded_units(frames, codes, rows)
    returned = _returned_units(codes, siblings)
    refund_codes = codes.of("refunds", "refund_id")[rows]
    notes = frames.refunds["note"].to_numpy(dtype=object)[rows]
    for at, code, refund, note in zip(
        rows.tolist(), order.tolist(), refund_codes.tolist(), notes.tolist(), strict=True
    ):
        if not isinstance(note, str):
            continue  # no note (a refund with none names no RMA: never here)
        named = tuple(out["rmas"][at]) if counts[at] >= 2 else (str(out["first_rma"][at]),)
        mine = siblings[code]
        found = dict.fromkeys(_NUMBER.findall(ascii_digits(note)))
        added = tuple(n for n in found if n in mine and n not in named)
        paid = _units_of_others(refunded.get(refund), named + added, mine, returned)
        by_lines[at] = bool(paid)
        if added or paid:
            out["rmas"][at] = named + added + paid
            counts[at] = len(named) + len(added) + len(paid)
    return by_lines


def _units_of_others(
    lines: Counter[int] | None,
    named: tuple[str, ...],
    mine: frozenset[str],
    returned: dict[str, Counter[int]],
) -> tuple[str, ...]:
    """The returns of the order, beside ``named``, whose units the refund's ``lines`` cover.

    A refund line (refunded or restocked, per line item code: its units) covers another
    return's unit when it holds more units of its line item than the named returns do and
    another return holds that line item: every such return is named (lowest first), for a
    person to tell which. A note naming no return of its own order (an RMA Loop does not have,
    or another order's) ties the refund to none: its lines are the weaker keys' to read.
    """
    if not lines or not mine.intersection(named):
        return ()
    others = sorted(mine.difference(named), key=lambda r: (len(r), r))
    found: dict[str, None] = {}
    for line, units in lines.items():
        if units <= sum(returned.get(rma, Counter())[line] for rma in named):
            continue  # the named returns hold them all (one item returned twice, once each)
        found.update((rma, None) for rma in others if returned.get(rma, Counter())[line])
    return tuple(found)


def _refunded_units(frames: Frames, codes: Codes, rows: np.ndarray) -> dict[int, Counter[int]]:
    """Per refund code of the refunds at ``rows``, the units its lines refund per line item
    code (a line with no line item names none)."""
    wanted = np.zeros(codes.size("refund") + 1, dtype=bool)  # code -1 marks the spare slot
    wanted[codes.of("refunds", "refund_id")[rows]] = True
    wanted[-1] = False
    refund, line = codes.of("refund_lines", "refund_id"), codes.of("refund_lines", "line_item_id")
    keep = np.flatnonzero(wanted[refund] & (line >= 0))
    quantity = frames.refund_lines["quantity"].to_numpy(dtype=np.int64)[keep]
    found: dict[int, Counter[int]] = {}
    for code, item, units in zip(
        refund[keep].tolist(), line[keep].tolist(), quantity.tolist(), strict=True
    ):
        found.setdefault(code, Counter())[item] += units
    return found


def _returned_units(codes: Codes, siblings: dict[int, frozenset[str]]) -> dict[str, Counter[int]]:
    """Per RMA of ``siblings``, its units (Loop lists one line per unit) per line item code."""
    rmas = frozenset().union(*siblings.values())
    wanted = np.zeros(codes.size("rma") + 1, dtype=bool)
    wanted[codes.lookup("rma", sorted(rmas))] = True
    wanted[-1] = False  # an RMA not found (never: they are returns') marks the spare slot
    rma, line = codes.of("return_lines", "rma"), codes.of("return_lines", "provider_line_item_id")
    keep = np.flatnonzero(wanted[rma] & (line >= 0))
    names = codes.vocab["rma"].to_numpy()[rma[keep]]
    found: dict[str, Counter[int]] = {}
    for name, item in zip(names.tolist(), line[keep].tolist(), strict=True):
        found.setdefault(str(name), Counter())[item] += 1
    return found


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

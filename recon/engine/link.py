"""Link Shopify refunds to Loop returns: note RMA, then provider_refund_id, then a heuristic.

Follows STYLE.md "one outer join, then classify": keys are normalised (strings of digits), each
key kind is one ``merge(..., indicator=True)``, and the both/left-only split decides link or
finding. The rules are docs/findings.md "Linking refunds to returns", implemented literally.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from recon.engine import codes as codes_mod
from recon.engine import keys
from recon.engine.codes import Codes
from recon.engine.codes import is_unique as codes_unique
from recon.engine.frames import Frames
from recon.engine.link_heuristic import LINK_COLUMNS, heuristic_links
from recon.engine.rma import ParsedNotes, parse_notes, parse_rmas
from recon.engine.rma_siblings import name_siblings

# Refund transaction status buckets (findings.md "Vocabulary").
OK_STATUSES = ("SUCCESS",)
PENDING_STATUSES = ("PENDING", "AWAITING_RESPONSE", "UNKNOWN")
FAILED_STATUSES = ("FAILURE", "ERROR")
# The Shopify Payments balance transaction type of a refund that bounced after it went through.
BOUNCE_TYPES = ("REFUND_FAILURE",)


def refund_facts(
    frames: Frames,
    codes: Codes,
    patterns: Sequence[str],
    as_of: datetime,
    pending_days: int,
    back: np.ndarray,
) -> pd.DataFrame:
    """One row per refund: parsed RMAs and covered/failed/pending sums in both monies.

    Columns added to the refund frame: ``first_rma`` (the note's first RMA), ``n_rmas`` and
    ``rmas`` (those of a note naming several; one naming an RMA names too the other returns
    of its order it mentions, ``name_siblings``), ``<bucket>_minor`` (presentment),
    ``<bucket>_shop_minor`` for covered/failed/pending,
    ``pending_old`` (a pending refund transaction processed more than ``pending_days`` before
    ``as_of``), ``bounced`` (a refund transaction of it bounced: ``back``, per transaction
    row, from ``bounced``), ``listed_by_loop`` (why its RMAs come from Loop's record, see
    ``_loop_disagrees``, or from its own lines, ``name_siblings``; 0 for most),
    ``rma_elsewhere`` (its note's one RMA is a return of another order: ``_on_other_orders``)
    and the id codes ``refund_code`` and ``rma_code``.
    """
    # Columns are collected in a dict and framed once: adding them one by one to a 1M-row
    # frame made pandas re-copy its blocks (issue H10). Sums run on refund codes (issue H18).
    refunds, txn = frames.refunds, frames.transactions
    parsed = parse_notes(refunds["note"], patterns)
    out: dict[str, Any] = {column: keys.raw(refunds[column]) for column in refunds.columns}
    out["first_rma"], out["rma_code"] = _first_rmas(parsed, codes)
    elsewhere = _on_other_orders(frames, codes, parsed.counts == 1, out["rma_code"])
    counts = _drop_order_numbers(frames, parsed.counts, out["first_rma"], out["rma_code"])
    out["rmas"] = _several(refunds["note"], counts, patterns)
    out["n_rmas"] = _drop_order_number_beside(frames, counts, out, codes)
    # A note left with one RMA once its order number is dropped: checked the same way.
    beside = (counts >= 2) & (out["n_rmas"] == 1)
    elsewhere |= _on_other_orders(frames, codes, beside, out["rma_code"])
    # A note naming an RMA that mentions another return of its order names it too, whatever
    # shape the grammar missed ("RMA 12345, $150.00, 12346"), and so does one whose refund's
    # lines are that return's units: AMBIGUOUS_RMA, not a silent pick.
    by_lines = name_siblings(frames, codes, out)
    reason = _loop_disagrees(frames, codes, out)
    reason[(reason == 0) & by_lines] = LINES_NAME_ANOTHER
    out["listed_by_loop"] = reason
    # Still one RMA, a return of another order's (not the order number, not made ambiguous).
    out["rma_elsewhere"] = elsewhere & (out["n_rmas"] == 1) & (out["rma_code"] < 0)
    row = codes.of("refunds", "refund_id")
    out["refund_code"] = row
    size = codes.size("refund")
    # Every refund row of the same id gets its id's sums (the left join this replaces did too);
    # transactions of other kinds, or of no known refund, count nowhere (position -1).
    at = codes.of("transactions", "refund_id")
    known = np.zeros(size + 1, dtype=bool)
    known[row] = True  # a missing id (-1) marks the spare last slot, which stays unused
    at = np.where(
        known[:-1][at] & (at >= 0) & codes.upper_in("transactions", "kind", ("REFUND",)), at, -1
    )
    is_pending = codes.upper_in("transactions", "status", PENDING_STATUSES)
    is_ok = codes.upper_in("transactions", "status", OK_STATUSES)
    masks = {
        "covered": (is_ok & ~back) | is_pending,
        "failed": codes.upper_in("transactions", "status", FAILED_STATUSES) | back,
        "pending": is_pending,
    }
    cutoff = as_of - timedelta(days=pending_days)
    old = is_pending & (txn["processed_at"] < cutoff).to_numpy()
    out["pending_old"] = keys.take(keys.any_at(at, old, size), row, False)
    out["bounced"] = keys.take(keys.any_at(at, back, size), row, False)
    for suffix, column in (("_minor", "amount_minor"), ("_shop_minor", "amount_shop_minor")):
        if back.any():  # the money that went through and came back (the heuristic reads it)
            amounts = np.where(back, txn[column].to_numpy(dtype=np.int64), 0)
            out["bounced" + suffix] = keys.take(keys.sum_at(at, amounts, size), row, 0)
        else:
            out["bounced" + suffix] = np.zeros(len(row), dtype=np.int64)
    for bucket, mask in masks.items():
        for suffix, column in (("_minor", "amount_minor"), ("_shop_minor", "amount_shop_minor")):
            amounts = np.where(mask, txn[column].to_numpy(dtype=np.int64), 0)
            out[bucket + suffix] = keys.take(keys.sum_at(at, amounts, size), row, 0)
    return pd.DataFrame(out, copy=False)


def bounced(frames: Frames, codes: Codes, as_of: datetime) -> np.ndarray:
    """Per transaction row: a SUCCESS transaction a REFUND_FAILURE balance transaction names?

    A card refund can fail after Shopify marked its transaction SUCCESS; Shopify Payments then
    books a REFUND_FAILURE balance transaction ("The refund failed. The funds are still with
    the shop", schema's ShopifyPaymentsTransactionType) and the order transaction keeps its
    status. Such money counts as failed, not covered (docs/findings.md "Vocabulary").

    The row names the order transaction by ``sourceOrderTransactionId``. Whether Shopify fills
    that field on REFUND_FAILURE rows is not documented (unverified); ``build_frames`` falls
    back to ``sourceId``, which equals it on refund rows (Shopify's REST fixtures). A failure
    naming neither is not tied to a refund; it stays in the store and in its payout. A failure
    dated after ``as_of`` has not happened yet for this run.
    """
    bts = frames.balance_transactions
    failure = codes.upper_in("balance_transactions", "type", BOUNCE_TYPES)
    if not failure.any():
        return np.zeros(len(frames.transactions), dtype=bool)
    failure &= (pd.to_datetime(bts["transaction_date"], utc=True) <= as_of).to_numpy()
    named = np.zeros(codes.size("transaction") + 1, dtype=bool)
    named[codes.of("balance_transactions", "source_order_transaction_id")[failure]] = True
    named[-1] = False  # code -1: no id
    hit = named[codes.of("transactions", "transaction_id")]
    ok: np.ndarray = hit & codes.upper_in("transactions", "status", OK_STATUSES)
    return ok  # only money that went through can bounce


def _on_other_orders(
    frames: Frames, codes: Codes, single: np.ndarray, code: np.ndarray
) -> np.ndarray:
    """Per refund row of ``single`` (its note names one RMA): that RMA is a Loop return on
    another order than the refund's.

    A refund pays back its own order's payment, so it cannot be that return's refund (a
    mistyped RMA, or a refund issued on the wrong order): ``code`` is set to -1 there, and the
    refund is read as one whose note names no return of its own (findings.md link 1). Orders
    are compared only where both are known.
    """
    elsewhere = np.zeros(len(code), dtype=bool)
    hit = np.flatnonzero(np.asarray(single) & (code >= 0))
    if not len(hit):
        return elsewhere
    first = codes_mod.first_position(codes.of("returns", "rma"), codes.size("rma"))
    at = first[code[hit]]
    hit, at = hit[at >= 0], at[at >= 0]  # an RMA only a return line carries: no return
    theirs = frames.returns["order_id"].to_numpy(dtype=object)[at]
    mine = frames.refunds["order_id"].to_numpy(dtype=object)[hit]
    differ = np.flatnonzero(theirs != mine)  # few rows: only those are checked for NA
    other = differ[pd.notna(theirs[differ]) & pd.notna(mine[differ])]
    elsewhere[hit[other]] = True
    code[hit[other]] = -1
    return elsewhere


def _drop_order_numbers(
    frames: Frames, counts: np.ndarray, first: np.ndarray, code: np.ndarray
) -> np.ndarray:
    """Counts with order numbers removed: a note like "Return #1043 via Loop Returns" on order
    #1043 names the order, not an RMA.

    Loop's refund note text is unknown (loop-returns-api.md §14) and the default patterns accept
    "Return #123"; a number the note shares with the refund's own order name, that no Loop return
    carries, is read as the order number (``first`` becomes None and the refund falls through to
    the weaker keys) rather than raising UNKNOWN_RMA. Only unknown single-RMA notes are checked.
    """
    counts = np.asarray(counts).copy()
    suspects = np.flatnonzero((counts == 1) & (np.asarray(code) < 0))
    if not len(suspects):
        return counts
    digits = np.array(_order_digits(frames, suspects), dtype=object)
    same = digits == np.array([str(v) for v in first[suspects]], dtype=object)
    dropped = suspects[same]
    counts[dropped] = 0
    first[dropped] = None
    return counts


def _drop_order_number_beside(
    frames: Frames, counts: np.ndarray, out: dict[str, Any], codes: Codes
) -> np.ndarray:
    """Counts of notes naming several numbers, the refund's own order number left out.

    "Return #1043 - Loop RMA #12345" on order #1043 names one RMA, 12345, not two: the order
    number (when no Loop return of this order carries it) is dropped before the RMAs are
    counted, as for a note naming only the order. A note left with one RMA links by it;
    ``rmas``, ``first_rma`` and ``rma_code`` in ``out`` are updated for those notes.
    """
    counts = np.asarray(counts).copy()
    many = np.flatnonzero(counts >= 2)
    if not len(many):
        return counts
    digits = _order_digits(frames, many)
    first = codes_mod.first_position(codes.of("returns", "rma"), codes.size("rma"))
    return_orders = frames.returns["order_id"].to_numpy(dtype=object)
    refund_orders = frames.refunds["order_id"].to_numpy(dtype=object)

    def a_return_of(rma: str, at: int) -> bool:
        """Loop has a return ``rma`` that may be this refund's: on its own order (or either
        order unknown). A return of that number on another order is not (link 1), so the
        number is the refund's order number, as when no return carries it."""
        code = int(codes.lookup("rma", [rma])[0])
        row = int(first[code]) if code >= 0 else -1
        if row < 0:
            return False
        theirs, mine = return_orders[row], refund_orders[at]
        return bool(pd.isna(theirs) or pd.isna(mine) or theirs == mine)

    for at, order in zip(many.tolist(), digits, strict=True):
        named = out["rmas"][at]
        kept = tuple(r for r in named if r != order or a_return_of(r, at))
        if len(kept) == len(named):
            continue
        counts[at] = len(set(kept))
        out["rmas"][at] = kept if counts[at] >= 2 else None
        out["first_rma"][at] = kept[0] if kept else None
        out["rma_code"][at] = codes.lookup("rma", [kept[0]])[0] if kept else -1
    return counts


# Why a refund's RMAs come from Loop's record or its own lines (facts column ``listed_by_loop``;
# 0: from its note alone).
LOOP_LISTS_SEVERAL, LOOP_DISAGREES, LINES_NAME_ANOTHER = 1, 2, 3
LISTED_DETAILS = {
    LOOP_LISTS_SEVERAL: "Loop lists the refund on several returns",
    LOOP_DISAGREES: "the note and Loop's record name different returns",
    LINES_NAME_ANOTHER: "the refund's lines are units of a return its note does not name",
}


def _loop_disagrees(frames: Frames, codes: Codes, out: dict[str, Any]) -> np.ndarray:
    """Refunds Loop and the note tie to different returns: ambiguous, as a note naming several.

    Three cases (findings.md link 2): Loop lists the refund on two or more returns and its note
    names no RMA Loop has; its note names return X and Loop lists it on another return; its note
    names several RMAs and Loop lists it on yet another. Linking one return would leave the
    others looking unpaid, and recon would propose refunding them again. Such a refund links
    nothing and raises AMBIGUOUS_RMA; ``rmas``, ``n_rmas``, ``first_rma`` and ``rma_code`` in
    ``out`` are set to all the returns named (lowest first, as numbers). Returns, per refund
    row, why (``LISTED_DETAILS`` keys; 0 where nothing changed).

    Works on id codes: strings are looked at only for the refunds that hit (issue H18).
    """
    reason = np.zeros(len(out["n_rmas"]), dtype=np.int8)
    if frames.return_refunds.empty:
        return reason
    size = codes.size("rma")
    present = np.zeros(size + 1, dtype=bool)
    present[codes.of("returns", "rma")] = True
    present[-1] = False  # code -1: no RMA
    first = codes_mod.first_position(codes.of("refunds", "refund_id"), codes.size("refund"))
    at = keys.take(first, codes.of("return_refunds", "provider_refund_id"), -1)
    rma = codes.of("return_refunds", "rma")
    keep = (at >= 0) & present[rma]  # refunds this run has, listed on returns it has
    if not keep.any():
        return reason
    pairs = pd.unique(at[keep] * np.int64(size) + rma[keep])  # each (refund row, RMA) once
    at, rma = pairs // size, pairs % size
    counts, code = out["n_rmas"], out["rma_code"]
    n, note = counts[at], code[at]
    listed = np.bincount(at, minlength=len(reason))[at]
    disagree = (n == 1) & (note >= 0) & (rma != note)
    several = ((n == 0) | ((n == 1) & (note < 0))) & (listed >= 2)
    hit = disagree | several | (n >= 2)  # beside a note naming several: checked below
    if not hit.any():  # usual: Loop and the notes agree
        return reason
    groups: dict[int, set[str]] = {}
    names = codes.vocab["rma"].to_numpy()[rma[hit]]
    for row, name in zip(at[hit].tolist(), names.tolist(), strict=True):
        groups.setdefault(row, set()).add(str(name))
    for row, loop in groups.items():
        if counts[row] >= 2:
            named, why = set(out["rmas"][row]), LOOP_DISAGREES
            if loop <= named:
                continue  # Loop lists it on returns the note names already
        elif counts[row] == 1 and code[row] >= 0:
            named, why = {str(out["first_rma"][row])}, LOOP_DISAGREES
        else:
            named, why = set(), LOOP_LISTS_SEVERAL
        ordered = tuple(sorted(named | loop, key=lambda r: (len(r), r)))
        out["rmas"][row], counts[row], out["first_rma"][row], code[row] = (
            ordered,
            len(ordered),
            None,
            -1,
        )
        reason[row] = why
    return reason


def _order_digits(frames: Frames, rows: np.ndarray) -> list[str]:
    """The digits of the order name of the refunds at ``rows`` ("" if the order is unknown)."""
    names = frames.orders.set_index("order_id")["order_name"]
    order_ids = pd.Series(frames.refunds["order_id"].to_numpy()[rows])
    digits = order_ids.map(names).fillna("").astype(str).str.replace(r"\D", "", regex=True)
    return [str(d) for d in digits.tolist()]


def _first_rmas(parsed: ParsedNotes, codes: Codes) -> tuple[np.ndarray, np.ndarray]:
    """Each note's first RMA (``str`` or None) and its code (-1 when Loop has no such RMA).

    RE2-parsed RMAs are looked up as digit keys; a known one takes the RMA's own string from
    the vocabulary (the same text), so only unknown ones are made into ``str`` (issue H18).
    """
    first = parsed.first.copy()
    slow = np.flatnonzero(~parsed.fast_rows)
    code = np.full(len(first), -1, dtype=np.int64)
    code[slow] = codes.lookup("rma", first[slow])
    fast = np.flatnonzero(parsed.fast_rows)
    if len(fast):
        code[fast] = codes.lookup_rmas(parsed.fast.take(fast))
        known = fast[code[fast] >= 0]
        first[known] = codes.vocab["rma"].to_numpy()[code[known]]
        unknown = fast[code[fast] < 0]
        first[unknown] = parsed.fast.take(unknown).to_numpy(zero_copy_only=False)
    return first, code


def _several(notes: pd.Series, counts: np.ndarray, patterns: Sequence[str]) -> np.ndarray:
    """The RMA tuples of notes naming two or more (None elsewhere: only AMBIGUOUS_RMA reads it)."""
    out = np.full(len(counts), None, dtype=object)
    many = np.flatnonzero(counts >= 2)
    text = notes.to_numpy(dtype=object)[many]
    for i, note in zip(many, text, strict=True):  # element-wise: numpy would unpack tuples
        out[i] = tuple(parse_rmas("" if pd.isna(note) else str(note), tuple(patterns)))
    return out


def link_refunds(
    facts: pd.DataFrame,
    frames: Frames,
    codes: Codes,
    tolerance_minor: pd.Series,
    min_confidence: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Link refunds to returns, strongest key first.

    Returns:
        ``(links, unknown)``: links (refund_id, rma, match_method, confidence, and the codes
        refund_code, rma_code), one row per linked refund; ``unknown`` the refunds whose single
        note RMA is not a Loop return (with ``rma``) and that Loop's provider_refund_id does
        not tie to a return either.
    """
    by_note, unknown = _by_note(facts, frames, codes)
    # Link 2 for refunds whose note names no RMA, and for those whose one RMA is unknown: Loop's
    # own record of the refund outranks a number in a note whose text Loop does not document
    # (findings.md). An ambiguous note is not rescued by a weaker key.
    no_rma = facts.loc[facts["n_rmas"] == 0, ["refund_id", "order_id"]]
    candidates = no_rma
    if not unknown.empty:
        named = facts.loc[keys.member(facts["refund_id"], unknown["refund_id"])]
        candidates = pd.concat([no_rma, named[["refund_id", "order_id"]]], ignore_index=True)
    by_provider = _by_provider(candidates, frames, codes)
    unknown = unknown[~keys.member(unknown["refund_id"], by_provider["refund_id"])]
    # A return counts as linked for the heuristic once a refund that moved (or may move) money
    # is linked to it: one whose every transaction was declined leaves it open, so a retry
    # made by hand with no note can still link to it (else: REFUND_FAILED "retry the refund"
    # beside an UNMATCHED_REFUND for a customer already paid, an invitation to pay twice).
    declined = facts.loc[
        (facts["covered_minor"].to_numpy() == 0)
        & (facts["failed_minor"].to_numpy() > 0)
        & ~facts["bounced"].to_numpy(dtype=bool),
        "refund_id",
    ]
    linked = np.zeros(codes.size("rma") + 1, dtype=bool)
    note_rmas = by_note["rma_code"].to_numpy()
    provider_rmas = codes.lookup("rma", by_provider["rma"])
    if len(declined):
        note_rmas = note_rmas[~keys.member(by_note["refund_id"], declined)]
        provider_rmas = provider_rmas[~keys.member(by_provider["refund_id"], declined)]
    linked[note_rmas] = True
    linked[provider_rmas] = True
    linked[-1] = False  # code -1 (no such RMA) marked the spare slot
    # A note naming a return of another order names none of its own: the heuristic may link
    # it on its own order (its one RMA was mistyped); unlinked, it stays UNKNOWN_RMA.
    elsewhere = facts.loc[facts["rma_elsewhere"].to_numpy(dtype=bool), ["refund_id", "order_id"]]
    rest = pd.concat([no_rma, elsewhere]) if len(elsewhere) else no_rma
    rest = rest[~rest["refund_id"].isin(by_provider["refund_id"])]
    by_heuristic = heuristic_links(
        facts, rest, frames, linked, codes, tolerance_minor, min_confidence
    )
    if len(elsewhere):
        unknown = unknown[~keys.member(unknown["refund_id"], by_heuristic["refund_id"])]
    if by_provider.empty and by_heuristic.empty:  # notes linked every refund (usual)
        return by_note, unknown
    links = concat_rows([by_note, by_provider, by_heuristic], LINK_COLUMNS)
    links["confidence"] = links["confidence"].astype("float64")
    others = slice(len(by_note), None)  # by_note carries its codes; look the others up
    for column, kind, ids in (("refund_code", "refund", "refund_id"), ("rma_code", "rma", "rma")):
        links[column] = np.concatenate(
            [by_note[column].to_numpy(np.int64), codes.lookup(kind, links[ids][others])]
        )
    return links, unknown


def _by_provider(no_rma: pd.DataFrame, frames: Frames, codes: Codes) -> pd.DataFrame:
    """Link 2: Loop's provider_refund_id names the refund (refunds whose note names no known
    RMA)."""
    by_provider = pd.DataFrame(columns=["refund_id", "rma"])
    if not no_rma.empty:
        pairs = no_rma[["refund_id"]].merge(
            frames.return_refunds, left_on="refund_id", right_on="provider_refund_id"
        )
        pairs = pairs[_is_return(pairs["rma"], frames, codes)]  # the inner join on returns
        # One refund, one return. A refund listed on several returns never gets here (it is
        # AMBIGUOUS_RMA, ``_loop_disagrees``); the sort only makes the pick deterministic.
        pairs = pairs.assign(_width=pairs["rma"].astype(str).str.len())
        by_provider = pairs.sort_values(["refund_id", "_width", "rma"]).drop_duplicates(
            "refund_id"
        )[["refund_id", "rma"]]
    return by_provider.assign(match_method="provider_refund_id", confidence=1.0)


def _is_return(rmas: pd.Series, frames: Frames, codes: Codes) -> np.ndarray:
    """Whether each RMA is a Loop return's (``isin`` semantics, on codes when no id is NA)."""
    ret = codes.of("returns", "rma")
    if len(ret) and ret.min() < 0:
        return keys.member(rmas, frames.returns["rma"])
    present = np.zeros(codes.size("rma") + 1, dtype=bool)
    present[ret] = True
    found: np.ndarray = present[codes.lookup("rma", rmas)]
    return found


def _by_note(
    facts: pd.DataFrame, frames: Frames, codes: Codes
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Link 1 (the note names exactly one RMA) and the single note RMAs Loop does not have."""
    single = np.flatnonzero(facts["n_rmas"].to_numpy() == 1)
    columns = ("refund_id", "rma", "refund_code", "rma_code")
    sources = ("refund_id", "first_rma", "refund_code", "rma_code")
    one = {c: facts[s].to_numpy()[single] for c, s in zip(columns, sources, strict=True)}
    ret = codes.of("returns", "rma")
    if codes_unique(ret, codes.size("rma")):  # one return per RMA: a membership test
        present = np.zeros(codes.size("rma") + 1, dtype=bool)
        present[ret] = True  # the spare last slot stays False: code -1 is no RMA
        known = present[one["rma_code"]]
    else:  # a repeated RMA links the refund once per return row, as the merge did
        joined = pd.DataFrame(one).merge(
            frames.returns[["rma"]], on="rma", how="left", indicator=True
        )
        one = {c: joined[c].to_numpy() for c in columns}
        # A return of another order (``_on_other_orders`` set its code to -1) is not linked.
        known = ((joined["_merge"] == "both") & (joined["rma_code"] >= 0)).to_numpy()
    n = int(known.sum())
    by_note = pd.DataFrame(  # fresh arrays, in the links' column order: no copy, no reorder
        {
            "refund_id": one["refund_id"][known],
            "rma": one["rma"][known],
            "match_method": keys.constant(n, "note"),
            "confidence": np.ones(n, dtype=np.float64),
            "refund_code": one["refund_code"][known].astype(np.int64),
            "rma_code": one["rma_code"][known].astype(np.int64),
        },
        copy=False,
    )
    unknown = pd.DataFrame({"refund_id": one["refund_id"][~known], "rma": one["rma"][~known]})
    return by_note, unknown


def concat_rows(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Concatenate non-empty parts (pandas warns on empty ones); typed empty frame if none."""
    kept = [
        part if part.columns.tolist() == columns else part[columns]  # no copy to reorder
        for part in parts
        if not part.empty
    ]
    if not kept:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(kept, ignore_index=True)

"""Payout tie-out: each payout's refund balance transactions against its summary and our links;
and the match table's payout columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recon.engine import keys
from recon.engine.codes import Codes
from recon.engine.frames import Frames, decimals

TIEOUT_COLUMNS = [
    "payout_id",
    "issued_at",
    "status",
    "transaction_type",
    "currency",
    "refunds_count",
    "refunds_matched",
    "refunds_unmatched",
    "refunds_unmatched_sum",
    "refunds_sum",
    "summary_refunds_gross",
    "difference",
    "refund_failures_count",
    "refund_failures_sum",
]


def tie_out(frames: Frames, links: pd.DataFrame, codes: Codes) -> pd.DataFrame:
    """One row per payout; money columns are ``Decimal`` in the payout currency.

    ``refunds_sum`` is the sum of the payout's REFUND balance transactions (negative: refund
    balance transactions are money out, shopify-admin-api.md §13);
    ``difference = refunds_sum - summary_refunds_gross``. The sign of ``summary.refundsFeeGross``
    is not documented (unverified), so it is read either way: ``summary_refunds_gross`` is its
    magnitude as money out (``-abs``), comparable with ``refunds_sum`` whichever sign Shopify
    sends. A refund row is *matched* when its order transaction belongs to a refund linked to an
    RMA; ``refunds_unmatched_sum`` is the sum of the others (negative, money out, as
    ``refunds_sum``): what no RMA explains, for finance to accrue. ``transaction_type`` is
    Shopify's DEPOSIT or WITHDRAWAL (empty when not read): a withdrawal's net is money the
    shop paid back; its refunds are tied out the same way.

    ``refund_failures_count`` and ``refund_failures_sum`` show the payout's REFUND_FAILURE rows
    (a refund that bounced: money back in, positive) beside the tie-out, not in it: whether
    Shopify nets them into ``refundsFeeGross`` is not documented (unverified), so
    ``difference`` stays the REFUND rows against the summary and finance sees both.
    """
    bts = frames.balance_transactions
    kind = codes.upper_in("balance_transactions", "type", ("REFUND", "REFUND_FAILURE"))
    in_payout = kind & bts["payout_id"].notna().to_numpy()
    refund_bt = in_payout & ~codes.upper_in("balance_transactions", "type", ("REFUND_FAILURE",))
    linked = _matched(frames, links, codes)
    matched = linked[refund_bt]
    # Per payout on payout codes (issue H18); a payout with no refund row sums to 0, as the
    # left join's NaN filled with 0 did.
    payout_at, size = codes.of("balance_transactions", "payout_id"), codes.size("payout")
    row, amounts = codes.of("payouts", "payout_id"), bts["amount_minor"].to_numpy()

    def per_payout(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        return keys.take(keys.sum_at(payout_at[mask], values[mask], size), row, 0)

    ones = np.ones(len(bts), dtype=np.int64)
    failure = in_payout & ~refund_bt
    out = keys.with_columns(
        frames.payouts,
        refunds_count=per_payout(refund_bt, ones),
        refunds_matched=keys.take(keys.sum_at(payout_at[refund_bt], matched, size), row, 0),
        refunds_sum_minor=per_payout(refund_bt, amounts),
        unmatched_minor=per_payout(refund_bt & ~linked, amounts),
        refund_failures_count=per_payout(failure, ones),
        refund_failures_minor=per_payout(failure, amounts),
    )
    out["refund_failures_sum"] = decimals(out["refund_failures_minor"], out["currency"])
    out["refunds_unmatched"] = out["refunds_count"] - out["refunds_matched"]
    out["refunds_unmatched_sum"] = decimals(out["unmatched_minor"], out["currency"])
    summary = -out["refunds_gross_minor"].abs()  # money out, whichever sign was sent
    diff = out["refunds_sum_minor"] - summary
    out["refunds_sum"] = decimals(out["refunds_sum_minor"], out["currency"])
    out["summary_refunds_gross"] = decimals(summary, out["currency"])
    out["difference"] = decimals(diff, out["currency"])
    return out[TIEOUT_COLUMNS].sort_values("payout_id").reset_index(drop=True)


def _matched(frames: Frames, links: pd.DataFrame, codes: Codes) -> np.ndarray:
    """Per balance transaction: does its order transaction belong to a linked refund?"""
    txn, bts = frames.transactions, frames.balance_transactions
    link_refund, txn_ids = (
        links["refund_code"].to_numpy(),
        codes.of("transactions", "transaction_id"),
    )
    if (len(link_refund) and link_refund.min() < 0) or (len(txn_ids) and txn_ids.min() < 0):
        # a missing id: ``isin`` pairs NaN with NaN, codes would not
        linked_txns = txn.loc[keys.member(txn["refund_id"], links["refund_id"]), "transaction_id"]
        return keys.member(bts["source_order_transaction_id"], linked_txns)
    linked = np.zeros(codes.size("refund") + 1, dtype=bool)
    linked[link_refund] = True
    linked[-1] = False
    named = np.zeros(codes.size("transaction") + 1, dtype=bool)
    named[txn_ids[linked[codes.of("transactions", "refund_id")]]] = True
    found: np.ndarray = named[codes.of("balance_transactions", "source_order_transaction_id")]
    return found


# The Matched sheet's pair for a refund transaction in no payout beside others of its RMA that
# are: Shopify's status of a balance transaction not yet paid out (or of no balance yet).
NO_PAYOUT = "(none)"
NOT_PAID = "PENDING"


def payout_columns(
    paid_at: np.ndarray, txn: pd.DataFrame, size: int, at: np.ndarray, txn_at: np.ndarray
) -> dict[str, np.ndarray]:
    """``payout_ids`` and ``payout_statuses`` of the match table, read side by side: the n-th
    status is the n-th payout's. Each column joined on its own was sorted and de-duplicated
    apart ("P1,P2" beside "IN_TRANSIT,PAID"; two payouts both paid read "PAID"), so an RMA paid
    out in several payouts joins its (payout, status) pairs together, ordered by payout id.
    An RMA in one payout (nearly all) keeps the plain joins.

    ``paid_at`` is the RMA slot of each settled refund transaction in a payout (-1 otherwise),
    ``txn_at`` that of every one. An RMA none of whose refunds is in a payout names none. One
    part paid out and part not (a second refund after the first was paid out, at a month's
    close) read "P1 / PAID" beside its whole refunded total, as if all of it were in P1: each
    transaction in no payout adds the pair ``(none)`` / its balance's payout status (PENDING),
    unless it moved no money (``moves_money``, a 0.00 restock-only refund's): no payout will
    ever carry it, and "(none) / PENDING" would read as money still to be paid out.
    """
    ids = keys.join_rows(paid_at, txn["payout_id"], size, at)
    states = keys.join_rows(paid_at, txn["payout_state"], size, at)
    paid = np.flatnonzero(paid_at >= 0)
    slot = paid_at[paid]
    per_slot_paid = np.bincount(slot, minlength=size)
    unpaid = np.flatnonzero((txn_at >= 0) & (paid_at < 0) & txn["moves_money"].to_numpy(bool))
    unpaid = unpaid[per_slot_paid[txn_at[unpaid]] > 0]  # beside a paid one of the same RMA
    several = paid[(per_slot_paid[slot] > 1) | _has(txn_at[unpaid], slot, size)]
    if several.size == 0:
        return {"payout_ids": ids, "payout_statuses": states}
    payout_ids, payout_states = txn["payout_id"].to_numpy(), txn["payout_state"].to_numpy()
    pairs = pd.DataFrame({
        "k": np.concatenate([paid_at[several], txn_at[unpaid]]),
        "id": pd.Series(
            np.concatenate([payout_ids[several], np.full(len(unpaid), NO_PAYOUT, dtype=object)]),
            dtype=object,
        ).astype(str),
        "s": pd.Series(
            np.concatenate([payout_states[several], _not_paid(payout_states[unpaid])]),
            dtype=object,
        )
        .fillna("")
        .astype(str),
    }).drop_duplicates().sort_values(["k", "id", "s"])  # fmt: skip
    grouped = pairs.groupby("k", sort=False)
    by_slot = {
        "payout_ids": grouped["id"].agg(",".join),
        "payout_statuses": grouped["s"].agg(",".join),
    }
    out = {"payout_ids": ids, "payout_statuses": states}
    for name, joined in by_slot.items():
        per_slot = np.full(size, None, dtype=object)
        per_slot[joined.index.to_numpy()] = joined.to_numpy()
        rows = np.flatnonzero((at >= 0) & pd.notna(per_slot[np.maximum(at, 0)]))
        out[name] = out[name].copy()
        out[name][rows] = per_slot[at[rows]]
    return out


def _has(slots: np.ndarray, of: np.ndarray, size: int) -> np.ndarray:
    """Per value of ``of``, whether ``slots`` holds it."""
    held = np.zeros(size + 1, dtype=bool)
    held[slots] = True
    found: np.ndarray = held[of]
    return found


def _not_paid(states: np.ndarray) -> np.ndarray:
    """A status for each transaction in no payout: its balance's, else PENDING (no balance
    transaction yet: Shopify has not paid it out either)."""
    filled = pd.Series(states, dtype=object)
    out: np.ndarray = filled.where(filled.notna() & (filled != ""), NOT_PAID).to_numpy(dtype=object)
    return out

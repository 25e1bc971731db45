"""Settlement: tie refund transactions to balance transactions and payouts; UNSETTLED_REFUND."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from recon.engine import codes as codes_mod
from recon.engine import keys
from recon.engine.classify_common import no_rows, rows
from recon.engine.codes import Codes
from recon.engine.frames import Frames
from recon.models import Category

BAD_PAYOUT = ("FAILED", "CANCELED")
# A failed payout's money may be paid again in a later payout, but the API does not say so per
# refund: ShopifyPaymentsPayoutSummary has ``retriedPayoutsGross`` ("Total gross amount for all
# retried payouts", a later payout's total), no field names the payout it retries, and whether
# Shopify moves the failed payout's balance transactions to the retry (their
# ``associatedPayout``) is not documented (shopify-admin-api.md §13; unverified either way).
# Designed for both: rows moved to the retry settle the refund once the mirror reads them again
# (a backfill over their dates: the nightly treats FAILED as final, store/queries.py
# FINAL_PAYOUT_STATUSES, and does not re-poll them by id); rows left on the FAILED payout keep
# the finding open, and docs/findings.md tells finance to check the payout in Shopify and
# acknowledge the finding once paid. The finding's detail keeps its wording: an acknowledged
# finding whose detail changes opens again (lifecycle._same), and these are the findings
# finance acknowledges after checking a retry.
# A balance transaction's payout status that has not put the money in the bank: PENDING (in
# no payout yet) and ACTION_REQUIRED (its payout waits on the merchant, e.g. bank details).
NOT_PAID_OUT = ("PENDING", "ACTION_REQUIRED")
# The balance transaction type that is a refund's money leaving the balance, the one row that
# settles it (shopify-admin-api.md §13 "Tying a Shopify refund to a payout"). The reference
# documents ``sourceOrderTransactionId`` for every type ("the id of the Order Transaction that
# resulted in this balance transaction") without saying which types fill it, and the schema's
# ShopifyPaymentsTransactionType says nothing of what REFUND_ADJUSTMENT or ADJUSTMENT mean
# (unverified either way). Designed for both cases: when such a row names the refund's
# transaction, it decides neither its payout, nor its status, nor a failure (its own payout's
# status is on the Payouts sheet); when none does, nothing changes. REFUND_FAILURE rows are
# read apart (link.bounced: the refund's money came back).
SETTLING_TYPES = ("REFUND",)
# The transaction columns UNSETTLED_REFUND and the match table read.
_SETTLED_COLUMNS = (
    "transaction_id",
    "order_id",
    "refund_id",
    "amount_shop_minor",
    "shop_currency",
    "processed_at",
)


def settle(frames: Frames, codes: Codes, back: np.ndarray) -> pd.DataFrame:
    """Refund transactions (ok, shopify_payments) with their balance transaction and payout.

    shopify-admin-api.md §13 "Tying a Shopify refund to a payout": the balance transaction whose
    ``sourceOrderTransactionId`` equals the order transaction id (string compare), of type
    REFUND (``SETTLING_TYPES``: a REFUND_ADJUSTMENT or other row naming it is not the refund's
    money and settles nothing). Several REFUND rows for one order transaction are reduced
    explicitly: settled if any is no longer PENDING or ACTION_REQUIRED (``NOT_PAID_OUT``),
    failed if any sits in a FAILED/CANCELED payout, payout = the first one named.
    Adds ``refund_code`` (the refund id's code) for the match table. A transaction that bounced
    (``back``, per transaction row: link.bounced) is failed money, not a refund to settle.
    A refund transaction with no id (frames built directly; ``build_frames`` refuses one) is
    left out: a balance transaction names it by that id and UNSETTLED_REFUND is keyed by it.
    Its money still counts for its refund (link.refund_facts).
    Adds ``moves_money``: a 0.00 transaction (a restock-only refund's) took nothing from the
    balance, so no balance transaction or payout will ever carry it and it needs no settling
    (no UNSETTLED_REFUND, no "(none)" payout on the Matched sheet); it is still listed, as a
    transaction of its refund.
    """
    txn = frames.transactions
    ok = np.flatnonzero(
        codes.upper_in("transactions", "kind", ("REFUND",))
        & codes.upper_in("transactions", "status", ("SUCCESS",))
        & keys.eq(txn["gateway"], "shopify_payments")
        & ~back
        & (codes.of("transactions", "transaction_id") >= 0)
    )
    bts = frames.balance_transactions
    payout_status = keys.upper(
        pd.Series(_payout_status(frames, codes), index=bts.index).fillna(bts["payout_status"])
    )
    # Reduce per order transaction on its code (issues H10, H18): a missing id (-1) forms no
    # group, and a refund transaction no balance transaction names finds none. Only REFUND
    # rows (``SETTLING_TYPES``) join a group: another type naming the transaction is not its
    # money leaving the balance.
    group, size = (
        np.where(
            codes.upper_in("balance_transactions", "type", SETTLING_TYPES),
            codes.of("balance_transactions", "source_order_transaction_id"),
            -1,
        ),
        codes.size("transaction"),
    )
    named = np.zeros(size + 1, dtype=bool)
    named[group] = True
    at = codes.of("transactions", "transaction_id")[ok]  # ids only (``ok``): codes >= 0
    at = np.where(named[at], at, -1)
    settled = keys.any_at(
        group, ~codes.upper_in("balance_transactions", "payout_status", NOT_PAID_OUT), size
    )
    bad = keys.any_at(group, payout_status.isin(BAD_PAYOUT), size)
    everything = len(ok) == len(txn)  # usually every transaction is a settled refund: no take
    out = {
        c: keys.raw(txn[c]) if everything else keys.raw(txn[c]).take(ok) for c in _SETTLED_COLUMNS
    }
    moves = (txn["amount_minor"].to_numpy() != 0) | (txn["amount_shop_minor"].to_numpy() != 0)
    out["moves_money"] = moves if everything else moves[ok]
    out["has_bt"] = at >= 0
    out["settled"] = keys.take(settled, at, False)
    out["bad"] = keys.take(bad, at, False)
    out["payout_id"] = keys.first_rows(group, bts["payout_id"], size, at)
    out["payout_state"] = keys.first_rows(group, payout_status, size, at)
    out["refund_code"] = codes.of("transactions", "refund_id")[ok]
    return pd.DataFrame(out, copy=False)  # fresh takes: no need to stack them into blocks


def _payout_status(frames: Frames, codes: Codes) -> np.ndarray:
    """Per balance transaction, its payout's status (NaN when the payout is not in the frame)."""
    payouts = frames.payouts.drop_duplicates("payout_id")  # a left merge on a unique key
    mine = codes.of("payouts", "payout_id")
    if len(mine) and mine.min() < 0:  # a payout with no id: NaN ids pair up, as in the merge
        at = keys.positions(
            frames.balance_transactions["payout_id"], keys.table(payouts["payout_id"])
        )
        return keys.take(payouts["status"], at, np.nan)
    first = codes_mod.first_position(mine, codes.size("payout"))
    at = keys.take(first, codes.of("balance_transactions", "payout_id"), -1)
    return keys.take(frames.payouts["status"], at, np.nan)


def classify_unsettled(
    settled: pd.DataFrame, links: pd.DataFrame, as_of: datetime, after_days: int
) -> pd.DataFrame:
    """UNSETTLED_REFUND per transaction (findings.md), amount in shop money; none for a
    transaction that moved no money (``settle``'s ``moves_money``): nothing to pay out."""
    old = settled["processed_at"] < as_of - timedelta(days=after_days)
    mask = ((old & (~settled["has_bt"] | ~settled["settled"])) | settled["bad"]) & settled[
        "moves_money"
    ]
    hit = settled[mask]
    if hit.empty:
        return no_rows()
    # Only the links of these refunds (by refund code; -1, a missing id, keeps the NA links the
    # merge pairs with it): the same join without hashing 1M link ids for a few hits.
    mine = keys.member(links["refund_code"].to_numpy(), hit["refund_code"].to_numpy())
    hit = hit.merge(links.loc[mine, ["refund_id", "rma"]], on="refund_id", how="left")
    detail = [
        _unsettled_detail(bad, has_bt, payout, state)
        for bad, has_bt, payout, state in zip(
            hit["bad"], hit["has_bt"], hit["payout_id"], hit["payout_state"], strict=True
        )
    ]
    return rows(
        Category.UNSETTLED_REFUND,
        hit,
        scope="transaction=" + hit["transaction_id"].astype(str),
        rma=hit["rma"],
        order_id=hit["order_id"],
        # A transaction of no refund id (frames built directly) names no refund.
        refund_ids=[() if pd.isna(r) else (r,) for r in hit["refund_id"]],
        transaction_ids=[(t,) for t in hit["transaction_id"]],
        payout_id=hit["payout_id"],
        amount_minor=hit["amount_shop_minor"],
        currency=hit["shop_currency"],
        detail=pd.Series(detail, index=hit.index, dtype=object),
    )


def _unsettled_detail(bad: bool, has_bt: bool, payout: object, state: object) -> str:
    """Why a refund transaction is unsettled, naming its payout when it has one: finance told
    "not in any payout" of one waiting on the merchant chased Shopify for a payout that exists."""
    named = f" {payout}" if isinstance(payout, str) and payout else ""
    if bad:
        how = "was cancelled" if str(state).upper() == "CANCELED" else "failed"
        return f"refund transaction's payout{named} {how}"
    if not has_bt:
        return "refund transaction not in any payout yet"
    waits = f" ({str(state).upper()})" if isinstance(state, str) and state else ""
    where = f"in payout{named}{waits}" if named else "in a payout"
    return f"refund transaction {where}, not paid out yet"

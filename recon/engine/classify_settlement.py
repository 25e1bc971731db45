"""Settlement: tie refund transactions to balance transactions and payouts; UNSETTLED_REFUND."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from recon.engine import keys
from recon.engine.classify_common import rows
from recon.engine.frames import Frames
from recon.models import Category

BAD_PAYOUT = ("FAILED", "CANCELED")


def settle(frames: Frames) -> pd.DataFrame:
    """Refund transactions (ok, shopify_payments) with their balance transaction and payout.

    shopify-admin-api.md §13 "Tying a Shopify refund to a payout": the balance transaction whose
    ``sourceOrderTransactionId`` equals the order transaction id (string compare). Several balance
    transactions for one order transaction are reduced explicitly: settled if any is no longer
    PENDING, failed if any sits in a FAILED/CANCELED payout, payout = the first one named.
    """
    txn = frames.transactions
    ok = txn[
        (keys.upper(txn["kind"]) == "REFUND").to_numpy()
        & (keys.upper(txn["status"]) == "SUCCESS").to_numpy()
        & (txn["gateway"] == "shopify_payments").to_numpy()
    ]
    bts = frames.balance_transactions
    payouts = frames.payouts.drop_duplicates("payout_id")  # a left merge on a unique key
    payout = keys.positions(bts["payout_id"], keys.table(payouts["payout_id"]))
    named = pd.Series(keys.take(payouts["status"], payout, np.nan), index=bts.index)
    payout_status = keys.upper(named.fillna(bts["payout_status"]))
    # Reduce per order transaction on integer codes (issue H10): the groups a groupby on the
    # id strings would form (NaN ids form none), and each refund transaction's group, in one pass.
    group, size, (at,) = keys.group_codes(bts["source_order_transaction_id"], ok["transaction_id"])
    settled = keys.any_at(group, keys.upper(bts["payout_status"]) != "PENDING", size)
    bad = keys.any_at(group, payout_status.isin(BAD_PAYOUT), size)
    out = {column: ok[column].array for column in ok.columns}
    out["has_bt"] = at >= 0
    out["settled"] = keys.take(settled, at, False)
    out["bad"] = keys.take(bad, at, False)
    out["payout_id"] = keys.take(keys.first_at(group, bts["payout_id"], size), at, np.nan)
    out["payout_state"] = keys.take(keys.first_at(group, payout_status, size), at, np.nan)
    return pd.DataFrame(out, copy=False)  # ``ok`` is a fresh copy: no need to re-stack it


def classify_unsettled(
    settled: pd.DataFrame, links: pd.DataFrame, as_of: datetime, after_days: int
) -> pd.DataFrame:
    """UNSETTLED_REFUND per transaction (findings.md), amount in shop money."""
    old = settled["processed_at"] < as_of - timedelta(days=after_days)
    mask = (old & (~settled["has_bt"] | ~settled["settled"])) | settled["bad"]
    hit = settled[mask].merge(links[["refund_id", "rma"]], on="refund_id", how="left")
    detail = hit["bad"].map({True: "its payout failed", False: "not in any payout yet"})
    return rows(
        Category.UNSETTLED_REFUND,
        hit,
        scope="transaction=" + hit["transaction_id"].astype(str),
        rma=hit["rma"],
        order_id=hit["order_id"],
        refund_ids=[(r,) for r in hit["refund_id"]],
        transaction_ids=[(t,) for t in hit["transaction_id"]],
        payout_id=hit["payout_id"],
        amount_minor=hit["amount_shop_minor"],
        currency=hit["shop_currency"],
        detail="refund transaction " + detail,
    )

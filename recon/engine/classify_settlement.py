"""Settlement: tie refund transactions to balance transactions and payouts; UNSETTLED_REFUND."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from recon.engine.classify_common import rows
from recon.engine.frames import Frames, fill_bool, fill_int
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
    status = txn["status"].astype(str).str.upper()
    ok = txn[
        (txn["kind"].astype(str).str.upper() == "REFUND")
        & (status == "SUCCESS")
        & (txn["gateway"] == "shopify_payments")
    ]
    bts = frames.balance_transactions.merge(
        frames.payouts[["payout_id", "status"]], on="payout_id", how="left"
    )
    payout_status = bts["status"].fillna(bts["payout_status"]).astype(str).str.upper()
    bts = bts.assign(
        settled=bts["payout_status"].astype(str).str.upper() != "PENDING",
        bad=payout_status.isin(BAD_PAYOUT),
        payout_state=payout_status,
    )
    per_txn = bts.groupby("source_order_transaction_id", sort=False).agg(
        has_bt=("balance_transaction_id", "size"),
        settled=("settled", "any"),
        bad=("bad", "any"),
        payout_id=("payout_id", "first"),
        payout_state=("payout_state", "first"),
    )
    out = ok.merge(per_txn, left_on="transaction_id", right_index=True, how="left")
    out["has_bt"] = fill_int(out["has_bt"]) > 0
    for column in ("settled", "bad"):
        out[column] = fill_bool(out[column])
    return out


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

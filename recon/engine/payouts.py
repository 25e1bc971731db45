"""Payout tie-out: each payout's refund balance transactions against its summary and our links."""

from __future__ import annotations

import pandas as pd

from recon.engine import keys
from recon.engine.frames import Frames, decimals, fill_int

TIEOUT_COLUMNS = [
    "payout_id",
    "issued_at",
    "status",
    "currency",
    "refunds_count",
    "refunds_matched",
    "refunds_unmatched",
    "refunds_sum",
    "summary_refunds_gross",
    "difference",
]


def tie_out(frames: Frames, links: pd.DataFrame) -> pd.DataFrame:
    """One row per payout; money columns are ``Decimal`` in the payout currency.

    ``refunds_sum`` is the sum of the payout's REFUND balance transactions (negative, as Shopify
    sends them); ``difference = refunds_sum - summary_refunds_gross`` (``summary.refundsFeeGross``
    taken with Shopify's sign). A refund row is *matched* when its order transaction belongs to a
    refund linked to an RMA.
    """
    bts = frames.balance_transactions
    refund_bts = bts[(keys.upper(bts["type"]) == "REFUND") & bts["payout_id"].notna()]
    txn = frames.transactions[["transaction_id", "refund_id"]]
    linked_txns = txn.loc[keys.member(txn["refund_id"], links["refund_id"]), "transaction_id"]
    refund_bts = keys.with_columns(
        refund_bts, matched=keys.member(refund_bts["source_order_transaction_id"], linked_txns)
    )
    per = refund_bts.groupby("payout_id").agg(
        refunds_count=("balance_transaction_id", "size"),
        refunds_matched=("matched", "sum"),
        refunds_sum_minor=("amount_minor", "sum"),
    )
    out = frames.payouts.merge(per, left_on="payout_id", right_index=True, how="left")
    for column in ("refunds_count", "refunds_matched", "refunds_sum_minor"):
        out[column] = fill_int(out[column])
    out["refunds_unmatched"] = out["refunds_count"] - out["refunds_matched"]
    diff = out["refunds_sum_minor"] - out["refunds_gross_minor"]
    out["refunds_sum"] = decimals(out["refunds_sum_minor"], out["currency"])
    out["summary_refunds_gross"] = decimals(out["refunds_gross_minor"], out["currency"])
    out["difference"] = decimals(diff, out["currency"])
    return out[TIEOUT_COLUMNS].sort_values("payout_id").reset_index(drop=True)

"""The heuristic link (docs/findings.md "Linking refunds to returns", last resort): same order,
amount within tolerance in the return's money basis, same SKUs; and the money basis itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recon.engine import keys
from recon.engine.codes import Codes
from recon.engine.frames import Frames

LINK_COLUMNS = ["refund_id", "rma", "match_method", "confidence"]
BUCKETS = ("covered", "failed", "pending")


def basis_amounts(frame: pd.DataFrame, return_currency: pd.Series) -> pd.DataFrame:
    """Pick each row's Shopify money in the return's currency (findings.md "Money basis").

    ``frame`` carries the refund facts; adds ``basis`` (shop, presentment or mismatch) and
    ``basis_<bucket>`` minor-unit columns (0 when the currencies mismatch).
    """
    shop = return_currency.to_numpy() == frame["shop_currency"].to_numpy()
    pres = ~shop & (return_currency.to_numpy() == frame["currency"].to_numpy())
    basis = keys.constant(len(frame), "mismatch")
    basis[pres] = "presentment"
    basis[shop] = "shop"
    out = keys.with_columns(frame, basis=basis)
    for bucket in (*BUCKETS, "bounced"):
        if f"{bucket}_minor" not in frame:
            continue
        out[f"basis_{bucket}"] = np.select(
            [shop, pres], [frame[f"{bucket}_shop_minor"], frame[f"{bucket}_minor"]], 0
        ).astype("int64")
    return out


def _sku_signature(frame: pd.DataFrame, key: str, counts: pd.Series | None = None) -> pd.Series:
    """A multiset of SKUs as one sorted, joined string per key (small candidate sets only)."""
    skus: pd.Series = frame["sku"].fillna("").astype(str)
    if counts is not None:
        repeats = counts.clip(lower=0).to_numpy()
        skus = pd.Series(np.repeat(skus.to_numpy(), repeats))
        keys = pd.Series(np.repeat(frame[key].to_numpy(), repeats))
    else:
        keys = frame[key]
    tall = pd.DataFrame({key: keys.to_numpy(), "sku": skus.to_numpy()}).sort_values([key, "sku"])
    return tall.groupby(key, sort=False)["sku"].agg("\x1f".join)


def heuristic_links(
    facts: pd.DataFrame,
    rest: pd.DataFrame,
    frames: Frames,
    linked: np.ndarray,
    codes: Codes,
    tolerance_minor: pd.Series,
    min_confidence: float,
) -> pd.DataFrame:
    """Link 3: same order, amount within tolerance (0.5), same SKU multiset (0.5)."""
    empty = pd.DataFrame(columns=LINK_COLUMNS)
    if rest.empty:  # nothing left to link (usual at scale): skip hashing every return
        return empty
    returns = keys.with_columns(frames.returns, tol=tolerance_minor.to_numpy())
    free = returns[~linked[codes.of("returns", "rma")]]  # linked[-1] (no id) is False
    pairs = rest.merge(
        free[["rma", "order_id", "currency", "refund_minor", "tol", "state"]], on="order_id"
    )
    if pairs.empty:
        return empty
    money = facts.set_index("refund_id").loc[pairs["refund_id"]].reset_index()
    pairs = basis_amounts(money, pairs["currency"]).assign(
        rma=pairs["rma"].to_numpy(),
        closed_out=pairs["state"].isin(("cancelled", "expired")).to_numpy(),
        refund_minor=pairs["refund_minor"].to_numpy(),
        tol=pairs["tol"].to_numpy(),
    )
    # The money F moved (a bounce included: it went through), or, when none did, the money it
    # tried to move: a declined or bounced refund is still the refund of its return.
    moved = pairs["basis_covered"] + pairs["basis_bounced"]
    attempted = moved.where(moved > 0, pairs["basis_failed"])
    amount_ok = (pairs["basis"] != "mismatch") & (
        (attempted - pairs["refund_minor"]).abs() <= pairs["tol"]
    )
    rlines = frames.refund_lines[keys.member(frames.refund_lines["refund_id"], pairs["refund_id"])]
    f_sig = _sku_signature(rlines, "refund_id", rlines["quantity"])
    rl = frames.return_lines[keys.member(frames.return_lines["rma"], pairs["rma"])]
    r_sig = _sku_signature(rl, "rma")
    sku_ok = pairs["refund_id"].map(f_sig).fillna("").to_numpy() == (
        pairs["rma"].map(r_sig).fillna("").to_numpy()
    )
    pairs["confidence"] = 0.5 * amount_ok.astype(float) + 0.5 * sku_ok.astype(float)
    good = pairs[pairs["confidence"] >= min_confidence]
    # A cancelled or expired return qualifies only when no live one does: the customer who
    # cancels a return and opens another for the same item is refunded for the new one.
    live = ~good["closed_out"].to_numpy()
    any_live = good.assign(live=live).groupby("refund_id")["live"].transform("any").to_numpy()
    preferred: pd.DataFrame = good[live | ~any_live]
    # "exactly one unlinked return on the order qualifies; otherwise F is unmatched".
    good = preferred[preferred.groupby("refund_id")["rma"].transform("size") == 1]
    return good[["refund_id", "rma"]].assign(
        match_method="heuristic", confidence=good["confidence"].to_numpy()
    )

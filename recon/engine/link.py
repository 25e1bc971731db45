"""Link Shopify refunds to Loop returns: note RMA, then provider_refund_id, then a heuristic.

Follows STYLE.md "one outer join, then classify": keys are normalised (strings of digits), each
key kind is one ``merge(..., indicator=True)``, and the both/left-only split decides link or
finding. The rules are docs/findings.md "Linking refunds to returns", implemented literally.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from recon.engine import keys
from recon.engine.frames import Frames
from recon.engine.rma import parse_rma_arrays, rma_tuples

# Refund transaction status buckets (findings.md "Vocabulary").
OK_STATUSES = ("SUCCESS",)
PENDING_STATUSES = ("PENDING", "AWAITING_RESPONSE", "UNKNOWN")
FAILED_STATUSES = ("FAILURE", "ERROR")
LINK_COLUMNS = ["refund_id", "rma", "match_method", "confidence"]
BUCKETS = ("covered", "failed", "pending")


def refund_facts(
    frames: Frames, patterns: Sequence[str], as_of: datetime, pending_days: int
) -> pd.DataFrame:
    """One row per refund: parsed RMAs and covered/failed/pending sums in both monies.

    Columns added to the refund frame: ``rmas`` (tuple), ``n_rmas``, ``<bucket>_minor``
    (presentment), ``<bucket>_shop_minor`` for covered/failed/pending, and ``pending_old``
    (a pending refund transaction processed more than ``pending_days`` before ``as_of``).
    """
    # Columns are collected in a dict and framed once: adding them one by one to a 1M-row
    # frame made pandas re-copy its blocks (issue H10).
    refunds = frames.refunds
    counts, first = parse_rma_arrays(refunds["note"], patterns)
    out = {column: refunds[column].array for column in refunds.columns}
    out["rmas"] = rma_tuples(refunds["note"], counts, first, patterns)
    out["n_rmas"] = counts
    txn = frames.transactions
    status = keys.upper(txn["status"])
    is_pending = status.isin(PENDING_STATUSES).to_numpy()
    masks = {
        "covered": status.isin(OK_STATUSES).to_numpy() | is_pending,
        "failed": status.isin(FAILED_STATUSES).to_numpy(),
        "pending": is_pending,
    }
    # Every refund row of the same id gets its id's sums (the left join this replaces did too);
    # transactions of other kinds, or of no known refund, count nowhere (position -1).
    row, size, (at,) = keys.group_codes(refunds["refund_id"], txn["refund_id"])
    at = np.where(keys.upper(txn["kind"]).to_numpy() == "REFUND", at, -1)
    cutoff = as_of - timedelta(days=pending_days)
    old = is_pending & (txn["processed_at"] < cutoff).to_numpy()
    out["pending_old"] = keys.take(keys.any_at(at, old, size), row, False)
    for bucket, mask in masks.items():
        for suffix, column in (("_minor", "amount_minor"), ("_shop_minor", "amount_shop_minor")):
            amounts = np.where(mask, txn[column].to_numpy(dtype=np.int64), 0)
            out[bucket + suffix] = keys.take(keys.sum_at(at, amounts, size), row, 0)
    return pd.DataFrame(out)


def link_refunds(
    facts: pd.DataFrame, frames: Frames, tolerance_minor: pd.Series, min_confidence: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Link refunds to returns, strongest key first.

    Returns:
        ``(links, unknown)``: links (refund_id, rma, match_method, confidence), one row per linked
        refund; ``unknown`` the refunds whose single note RMA is not a Loop return (with ``rma``).
    """
    returns = frames.returns[["rma"]]
    single = facts.loc[facts["n_rmas"] == 1, ["refund_id"]].assign(
        rma=facts.loc[facts["n_rmas"] == 1, "rmas"].map(lambda found: found[0]).astype(object)
    )
    joined = single.reset_index(drop=True)
    rmas = keys.table(returns["rma"])
    if len(rmas) == len(returns):  # one return per RMA: the left join is a membership test
        known = keys.positions(joined["rma"], rmas) >= 0
    else:
        joined = joined.merge(returns, on="rma", how="left", indicator=True)
        known = (joined["_merge"] == "both").to_numpy()
    by_note = joined.loc[known, ["refund_id", "rma"]].assign(match_method="note", confidence=1.0)
    unknown = joined.loc[~known, ["refund_id", "rma"]]
    # Link 2 only for refunds whose note names no RMA: a note that names one "links nothing"
    # when it is unknown or ambiguous (findings.md), so it is not rescued by a weaker key.
    no_rma = facts.loc[facts["n_rmas"] == 0, ["refund_id", "order_id"]]
    by_provider = (
        no_rma[["refund_id"]]
        .merge(frames.return_refunds, left_on="refund_id", right_on="provider_refund_id")
        .merge(returns, on="rma")
        .sort_values(["refund_id", "rma"])
        .drop_duplicates("refund_id")[  # one refund, one return: the lowest RMA wins (documented)
            ["refund_id", "rma"]
        ]
        .assign(match_method="provider_refund_id", confidence=1.0)
    )
    linked_rmas = pd.concat([by_note["rma"], by_provider["rma"]])
    rest = no_rma[~no_rma["refund_id"].isin(by_provider["refund_id"])]
    by_heuristic = _heuristic(facts, rest, frames, linked_rmas, tolerance_minor, min_confidence)
    links = concat_rows([by_note, by_provider, by_heuristic], LINK_COLUMNS)
    links["confidence"] = links["confidence"].astype("float64")
    return links, unknown.reset_index(drop=True)


def concat_rows(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Concatenate non-empty parts (pandas warns on empty ones); typed empty frame if none."""
    kept = [part[columns] for part in parts if not part.empty]
    if not kept:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(kept, ignore_index=True)


def basis_amounts(frame: pd.DataFrame, return_currency: pd.Series) -> pd.DataFrame:
    """Pick each row's Shopify money in the return's currency (findings.md "Money basis").

    ``frame`` carries the refund facts; adds ``basis`` (shop, presentment or mismatch) and
    ``basis_<bucket>`` minor-unit columns (0 when the currencies mismatch).
    """
    shop = return_currency.to_numpy() == frame["shop_currency"].to_numpy()
    pres = ~shop & (return_currency.to_numpy() == frame["currency"].to_numpy())
    basis = np.full(len(frame), "mismatch", dtype=object)
    basis[pres] = "presentment"
    basis[shop] = "shop"
    out = keys.with_columns(frame, basis=basis)
    for bucket in BUCKETS:
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


def _heuristic(
    facts: pd.DataFrame,
    rest: pd.DataFrame,
    frames: Frames,
    linked_rmas: pd.Series,
    tolerance_minor: pd.Series,
    min_confidence: float,
) -> pd.DataFrame:
    """Link 3: same order, covered within tolerance (0.5), same SKU multiset (0.5)."""
    empty = pd.DataFrame(columns=LINK_COLUMNS)
    if rest.empty:  # nothing left to link (usual at scale): skip hashing every return
        return empty
    returns = keys.with_columns(frames.returns, tol=tolerance_minor.to_numpy())
    free = returns[~keys.member(returns["rma"], linked_rmas)]
    pairs = rest.merge(free[["rma", "order_id", "currency", "refund_minor", "tol"]], on="order_id")
    if pairs.empty:
        return empty
    money = facts.set_index("refund_id").loc[pairs["refund_id"]].reset_index()
    pairs = basis_amounts(money, pairs["currency"]).assign(
        rma=pairs["rma"].to_numpy(),
        refund_minor=pairs["refund_minor"].to_numpy(),
        tol=pairs["tol"].to_numpy(),
    )
    amount_ok = (pairs["basis"] != "mismatch") & (
        (pairs["basis_covered"] - pairs["refund_minor"]).abs() <= pairs["tol"]
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
    # "exactly one unlinked return on the order qualifies; otherwise F is unmatched".
    good = good[good.groupby("refund_id")["rma"].transform("size") == 1]
    return good[["refund_id", "rma"]].assign(
        match_method="heuristic", confidence=good["confidence"].to_numpy()
    )

"""The reconciliation engine: pure frames in → matches, findings and payout tie-out out.

``reconcile`` composes the steps: refund facts → links (link.py) → classifiers (classify_*.py)
→ findings, the per-RMA match table and the payout tie-out (payouts.py). No I/O happens here.
Money columns of the result frames hold ``Decimal`` objects (object dtype); reports format them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from recon.config import EngineSettings, WarehouseEvent
from recon.engine import classify_money, classify_settlement, classify_status, classify_stock
from recon.engine.classify_common import ROW_COLUMNS, to_findings
from recon.engine.frames import Frames, build_frames, minor_tolerance, to_decimal_series
from recon.engine.link import concat_rows, link_refunds, refund_facts
from recon.engine.payouts import tie_out
from recon.models import Finding

__all__ = ["MATCH_COLUMNS", "Frames", "ReconResult", "build_frames", "reconcile"]

MATCH_COLUMNS = [
    "rma",
    "shopify_order_id",
    "shopify_order_name",
    "state",
    "outcome",
    "currency",
    "loop_refund",
    "loop_gift_card",
    "refund_ids",
    "refunded_total",
    "match_method",
    "match_confidence",
    "transaction_ids",
    "payout_ids",
    "payout_statuses",
]
_METHOD_RANK = {"note": 0, "provider_refund_id": 1, "heuristic": 2}


@dataclass(frozen=True)
class ReconResult:
    """What one reconciliation produced (frames are the engine's; do not mutate them)."""

    matches: pd.DataFrame
    findings: list[Finding]
    payout_tieout: pd.DataFrame
    links: pd.DataFrame


def reconcile(
    frames: Frames,
    settings: EngineSettings,
    as_of: datetime,
    *,
    restocked_by_recon: frozenset[tuple[str, str]] = frozenset(),
    restock_after: WarehouseEvent = WarehouseEvent.RECEIVED,
) -> ReconResult:
    """Link refunds to returns and classify every break per docs/findings.md.

    Args:
        frames: the input frames (``build_frames`` or built directly, same columns).
        settings: thresholds, tolerances and RMA patterns.
        as_of: the run's time (tz-aware UTC); every "older than N days" rule counts from it.
        restocked_by_recon: (rma, provider_line_item_id) pairs recon's action ledger restocked.
        restock_after: the warehouse event that makes a unit restockable (remediation setting).

    Raises:
        ValueError: if ``as_of`` is naive (comparisons with UTC timestamps would be wrong).
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (UTC)")
    facts = refund_facts(frames, settings.rma_patterns, as_of, settings.refund_pending_days)
    tol = minor_tolerance(settings.amount_tolerance, frames.returns["currency"])
    links, unknown = link_refunds(facts, frames, tol, settings.heuristic_min_confidence)
    money = classify_money.linked_money(links, facts, frames.returns)
    agg = classify_money.per_return(money, frames.returns)
    lines = classify_stock.linked_lines(frames, links)
    settled = classify_settlement.settle(frames)
    parts = [
        *classify_money.classify_returns(agg, tol.set_axis(agg.index)),
        *classify_money.classify_linked_refunds(money),
        *classify_money.classify_unlinked(facts, links, unknown, frames.returns),
        classify_settlement.classify_unsettled(
            settled, links, as_of, settings.unsettled_after_days
        ),
        classify_stock.classify_sku(frames, lines),
        *classify_stock.classify_restock(frames, lines, restock_after, restocked_by_recon),
        classify_status.classify_status_drift(frames),
        classify_status.classify_stale(frames, as_of, settings.stale_return_days),
        classify_status.classify_store_credit(frames),
    ]
    finding_rows = concat_rows(parts, ROW_COLUMNS)
    names = frames.orders.set_index("order_id")["order_name"]
    findings = to_findings(finding_rows, names)
    matches = _matches(agg, links, settled)
    return ReconResult(
        matches=matches, findings=findings, payout_tieout=tie_out(frames, links), links=links
    )


def _join_by(keys: pd.Series, values: pd.Series) -> pd.Series:
    """Comma-join distinct values per key; singletons skip the Python join (1M-row fast path)."""
    if keys.is_unique:
        return pd.Series(values.astype(str).to_numpy(), index=keys.to_numpy())
    frame = pd.DataFrame({"k": keys.to_numpy(), "v": values.astype(str).to_numpy()})
    frame = frame.drop_duplicates().sort_values(["k", "v"])
    many = frame["k"].duplicated(keep=False).to_numpy()
    single = frame[~many].set_index("k")["v"]
    joined = frame[many].groupby("k", sort=False)["v"].agg(",".join)
    combined: pd.Series = pd.concat([single, joined])
    return combined


def _matches(agg: pd.DataFrame, links: pd.DataFrame, settled: pd.DataFrame) -> pd.DataFrame:
    """One row per RMA: its links, refunded total (basis currency), transactions and payouts."""
    best = (
        links.assign(rank=links["match_method"].map(_METHOD_RANK))
        .sort_values(["rma", "rank", "confidence"], ascending=[True, True, False])
        .drop_duplicates("rma")
    )
    best = best.set_index("rma")
    txn = settled.merge(links[["refund_id", "rma"]], on="refund_id")
    rma = agg["rma"]
    with_payout = txn[txn["payout_id"].notna()]
    out = pd.DataFrame(
        {
            "rma": rma.to_numpy(),
            "shopify_order_id": agg["order_id"].to_numpy(),
            "shopify_order_name": agg["order_name"].to_numpy(),
            "state": agg["state"].to_numpy(),
            "outcome": agg["outcome"].to_numpy(),
            "currency": agg["currency"].to_numpy(),
            "loop_refund": to_decimal_series(agg["refund_minor"], agg["currency"]),
            "loop_gift_card": to_decimal_series(agg["gift_card_minor"], agg["currency"]),
            "refund_ids": rma.map(_join_by(links["rma"], links["refund_id"])).fillna("").to_numpy(),
            "refunded_total": to_decimal_series(agg["total"], agg["currency"]),
            "match_method": rma.map(best["match_method"]).fillna("none").to_numpy(),
            "match_confidence": rma.map(best["confidence"])
            .fillna(0.0)
            .astype(np.float64)
            .to_numpy(),
            "transaction_ids": rma.map(_join_by(txn["rma"], txn["transaction_id"]))
            .fillna("")
            .to_numpy(),
            "payout_ids": rma.map(_join_by(with_payout["rma"], with_payout["payout_id"]))
            .fillna("")
            .to_numpy(),
            "payout_statuses": rma.map(_join_by(with_payout["rma"], with_payout["payout_state"]))
            .fillna("")
            .to_numpy(),
        }
    )
    return out[MATCH_COLUMNS]

"""The reconciliation engine: pure frames in → matches, findings and payout tie-out out.

``reconcile`` composes the steps: refund facts → links (link.py) → classifiers (classify_*.py)
→ findings, the per-RMA match table and the payout tie-out (payouts.py). No I/O happens here.
Money columns of the result frames hold ``Decimal`` objects (object dtype); reports format them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from recon.config import EngineSettings, WarehouseEvent
from recon.engine import (
    classify_money,
    classify_restock,
    classify_settlement,
    classify_status,
    classify_stock,
    keys,
)
from recon.engine import codes as codes_mod
from recon.engine.classify_common import ROW_COLUMNS, to_findings
from recon.engine.codes import Codes, encode
from recon.engine.frames import Frames, build_frames, decimal_arrays, minor_tolerance
from recon.engine.link import (
    FAILED_STATUSES,
    PENDING_STATUSES,
    bounced,
    concat_rows,
    link_refunds,
    refund_facts,
)
from recon.engine.link_heuristic import LINK_COLUMNS
from recon.engine.payouts import payout_columns, tie_out
from recon.models import Category, Finding

__all__ = [
    "MATCH_COLUMNS",
    "Frames",
    "ReconResult",
    "build_frames",
    "reconcile",
    "tie_out_payouts",
]

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
    # Findings of ``settings.muted_categories`` left out of ``findings``: count per category.
    muted: dict[str, int] = field(default_factory=dict)


def reconcile(
    frames: Frames,
    settings: EngineSettings,
    as_of: datetime,
    *,
    restocked_by_recon: Mapping[tuple[str, str], Sequence[str]] | None = None,
    restock_after: WarehouseEvent = WarehouseEvent.RECEIVED,
) -> ReconResult:
    """Link refunds to returns and classify every break per docs/findings.md.

    Args:
        frames: the input frames (``build_frames`` or built directly, same columns).
        settings: thresholds, tolerances and RMA patterns.
        as_of: the run's time (tz-aware UTC); every "older than N days" rule counts from it.
        restocked_by_recon: the units recon's action ledger restocked: per (rma,
            provider_line_item_id), their Loop line item ids ("" where not recorded).
        restock_after: the warehouse event that makes a unit restockable (remediation setting).

    Raises:
        ValueError: if ``as_of`` is naive (comparisons with UTC timestamps would be wrong).
    """
    frames, codes, back, facts, tol = _refund_facts(frames, settings, as_of)
    links, unknown = link_refunds(facts, frames, codes, tol, settings.heuristic_min_confidence)
    paid, restocked = _disputed(facts, frames)
    money = classify_money.linked_money(links, facts, frames.returns, codes)
    agg = classify_money.per_return(money, frames.returns, codes)
    lines = classify_stock.linked_lines(frames, links, codes)
    settled = classify_settlement.settle(frames, codes, back)
    parts = [
        *classify_money.classify_returns(agg, tol.set_axis(agg.index), paid),
        *classify_money.classify_linked_refunds(
            money,
            agg,
            tol.set_axis(agg.index),
            codes,
            facts,
            shortfall_reported=Category.AMOUNT_MISMATCH not in settings.muted_categories,
        ),
        *classify_money.classify_unlinked(
            facts, links, unknown, frames.returns, _restocking(frames, codes, facts)
        ),
        classify_settlement.classify_unsettled(
            settled, links, as_of, settings.unsettled_after_days
        ),
        classify_stock.classify_sku(frames, lines, codes, _refunded_nothing(facts, codes)),
        *classify_restock.classify_restock(
            frames, lines, restock_after, restocked_by_recon or {}, codes, restocked
        ),
        classify_status.classify_status_drift(frames, codes),
        classify_status.classify_stale(frames, as_of, settings.stale_return_days),
        *classify_status.classify_store_credit(frames, tol, codes),
    ]
    finding_rows = _with_linked_refunds(concat_rows(parts, ROW_COLUMNS), links, codes)
    finding_rows = _with_transactions(finding_rows, frames.transactions, back)
    finding_rows, muted = _mute(finding_rows, settings.muted_categories)
    names = frames.orders.set_index("order_id")["order_name"]
    findings = to_findings(finding_rows, names)
    matches = _matches(agg, links, settled, codes)
    return ReconResult(
        matches=matches,
        findings=findings,
        payout_tieout=tie_out(frames, links, codes),
        links=links[LINK_COLUMNS],
        muted=muted,
    )


def tie_out_payouts(frames: Frames, settings: EngineSettings, as_of: datetime) -> pd.DataFrame:
    """The payout tie-out alone: refunds linked to returns as ``reconcile`` links them, nothing
    classified. The month-end workbook ties its payouts out over returns of other months, of
    which it reports nothing else.

    Raises:
        ValueError: if ``as_of`` is naive.
    """
    frames, codes, _, facts, tol = _refund_facts(frames, settings, as_of)
    links, _ = link_refunds(facts, frames, codes, tol, settings.heuristic_min_confidence)
    return tie_out(frames, links, codes)


def _refund_facts(
    frames: Frames, settings: EngineSettings, as_of: datetime
) -> tuple[Frames, Codes, np.ndarray, pd.DataFrame, pd.Series]:
    """Frames one row per id, their codes, bounced transactions, refund facts and each
    return's tolerance in minor units: what linking needs."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (UTC)")
    codes = frames.codes if frames.codes is not None else encode(frames)
    frames, codes = codes_mod.one_row_per_id(frames, codes)
    back = bounced(frames, codes, as_of)
    facts = refund_facts(
        frames, codes, settings.rma_patterns, as_of, settings.refund_pending_days, back
    )
    return (
        frames,
        codes,
        back,
        facts,
        minor_tolerance(settings.amount_tolerance, frames.returns["currency"]),
    )


def _refunded_nothing(facts: pd.DataFrame, codes: Codes) -> np.ndarray:
    """Per refund code: every money transaction of the refund failed or bounced (it tried to
    move money and moved none)."""
    covered = (facts["covered_minor"].to_numpy() != 0) | (
        facts["covered_shop_minor"].to_numpy() != 0
    )
    failed = (facts["failed_minor"].to_numpy() != 0) | (facts["failed_shop_minor"].to_numpy() != 0)
    out = np.zeros(codes.size("refund"), dtype=bool)
    at = facts["refund_code"].to_numpy()
    known = at >= 0
    out[at[known]] = (failed & ~covered)[known]
    return out


def _restocking(frames: Frames, codes: Codes, facts: pd.DataFrame) -> np.ndarray:
    """Per refund code: a line of the refund restocked units of an item a Loop return on the
    refund's order returned (same line item, or same SKU; a missing SKU is no SKU): units no
    return has are none of recon's to restock, and a finding for them would never resolve.

    Only refunds whose note names no RMA are looked at (the only ones UNMATCHED_REFUND reads):
    at 1M refunds that carry RMAs, nothing is joined.
    """
    out = np.zeros(codes.size("refund"), dtype=bool)
    candidate = np.zeros(codes.size("refund") + 1, dtype=bool)  # [-1]: no such refund
    candidate[facts["refund_code"].to_numpy()[facts["n_rmas"].to_numpy() == 0]] = True
    candidate[-1] = False
    at = codes.of("refund_lines", "refund_id")
    hit = np.flatnonzero(frames.refund_lines["restocked"].to_numpy(dtype=bool) & candidate[at])
    if hit.size == 0:
        return out
    order_of = np.full(codes.size("refund") + 1, None, dtype=object)  # [-1]: no such refund
    order_of[codes.of("refunds", "refund_id")] = frames.refunds["order_id"].to_numpy()
    lines = frames.refund_lines.iloc[hit]
    orders = order_of[at[hit]]
    by_rma = np.full(codes.size("rma") + 1, None, dtype=object)
    by_rma[codes.of("returns", "rma")] = frames.returns["order_id"].to_numpy()
    returned = frames.return_lines
    returned_on = by_rma[codes.of("return_lines", "rma")]
    # Two products without a SKU (Shopify's sku null or "") are not the same item: such a
    # line is matched by its line item only.
    sku = lines["sku"].to_numpy(dtype=object)
    named = pd.notna(sku) & (sku != "")
    same_item = keys.pair_member(
        (orders, lines["line_item_id"].to_numpy()),
        (returned_on, returned["provider_line_item_id"].to_numpy()),
    ) | (named & keys.pair_member((orders, sku), (returned_on, returned["sku"].to_numpy())))
    out[at[hit][same_item]] = True
    return out


def _disputed(facts: pd.DataFrame, frames: Frames) -> tuple[frozenset[str], frozenset[str]]:
    """RMAs an AMBIGUOUS_RMA refund names: those whose refund moved money, and those whose
    refund restocked a line (AMBIGUOUS_RMA cannot be muted: config.py says why).
    """
    several = np.flatnonzero(facts["n_rmas"].to_numpy() >= 2)
    if not len(several):
        return frozenset(), frozenset()
    rmas = facts["rmas"].to_numpy(dtype=object)[several]
    money = (facts["covered_minor"].to_numpy()[several] > 0) | (
        facts["covered_shop_minor"].to_numpy()[several] > 0
    )
    ids = facts["refund_id"].to_numpy(dtype=object)[several]
    lines = frames.refund_lines
    mine = lines[keys.member(lines["refund_id"], ids)]
    restocking = set(mine.loc[mine["restocked"].astype(bool).to_numpy(), "refund_id"].tolist())
    stock = np.array([i in restocking for i in ids.tolist()], dtype=bool)

    def held(mask: np.ndarray) -> frozenset[str]:
        pairs = zip(rmas.tolist(), mask.tolist(), strict=True)
        return frozenset(str(rma) for named, hit in pairs if hit for rma in named or ())

    return held(money), held(stock)


def _with_linked_refunds(rows: pd.DataFrame, links: pd.DataFrame, codes: Codes) -> pd.DataFrame:
    """Return-scoped findings (``rma=…``) name the refunds linked to their RMA (findings.md:
    "the ids needed to act"); findings scoped to one refund or transaction name theirs already.

    Links are picked by RMA code, so only the findings' few RMAs are looked at.
    """
    scoped = np.flatnonzero(rows["scope"].astype(str).str.startswith("rma=").to_numpy())
    if not len(scoped):
        return rows
    rmas = rows["rma"].to_numpy(dtype=object)
    wanted = np.zeros(codes.size("rma") + 1, dtype=bool)
    wanted[codes.lookup("rma", rmas[scoped])] = True
    wanted[-1] = False  # code -1: an RMA that is no return's
    mine = np.flatnonzero(wanted[links["rma_code"].to_numpy()])  # positions: no frame copy
    by_rma: dict[str, set[str]] = {}
    for rma, refund in zip(
        links["rma"].to_numpy(dtype=object)[mine].tolist(),
        links["refund_id"].to_numpy(dtype=object)[mine].tolist(),
        strict=True,
    ):
        by_rma.setdefault(str(rma), set()).add(str(refund))
    ids = rows["refund_ids"].to_numpy(dtype=object).copy()
    for at in scoped.tolist():
        if not ids[at]:
            ids[at] = tuple(sorted(by_rma.get(str(rmas[at]), ())))
    return rows.assign(refund_ids=ids)


_TXN_STATUSES = {
    Category.REFUND_FAILED.value: FAILED_STATUSES,
    Category.REFUND_PENDING.value: PENDING_STATUSES,
}


def _with_transactions(
    rows: pd.DataFrame, transactions: pd.DataFrame, back: np.ndarray
) -> pd.DataFrame:
    """REFUND_FAILED and REFUND_PENDING name the refund transactions that failed or wait (a
    bounced transaction, ``back``, counts as failed)."""
    hit = np.flatnonzero(rows["category"].isin(list(_TXN_STATUSES)).to_numpy()).tolist()
    if not hit:
        return rows
    categories = rows["category"].to_numpy(dtype=object)
    refund_of = {i: next(iter(rows["refund_ids"].to_numpy(dtype=object)[i])) for i in hit}
    at = np.flatnonzero(keys.member(transactions["refund_id"], list(refund_of.values())))
    mine = transactions.take(at)
    by_refund: dict[object, list[tuple[str, str]]] = {}
    for txn, refund, status, kind, gone in zip(
        mine["transaction_id"],
        mine["refund_id"],
        mine["status"],
        mine["kind"],
        back[at].tolist(),
        strict=True,
    ):
        if str(kind).upper() == "REFUND":
            state = FAILED_STATUSES[0] if gone else str(status).upper()
            by_refund.setdefault(refund, []).append((str(txn), state))
    ids = rows["transaction_ids"].to_numpy(dtype=object).copy()
    for i in hit:
        wanted = _TXN_STATUSES[str(categories[i])]
        found = by_refund.get(refund_of[i], [])
        ids[i] = tuple(sorted(txn for txn, status in found if status in wanted))
    return rows.assign(transaction_ids=ids)


def _mute(rows: pd.DataFrame, muted: list[Category]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop finding rows of muted categories; count them per category."""
    if not muted or rows.empty:
        return rows, {}
    hit = rows["category"].isin([c.value for c in muted]).to_numpy()
    counts = rows.loc[hit, "category"].value_counts()
    return rows[~hit], {str(k): int(v) for k, v in sorted(counts.items())}


def _best_link(links: pd.DataFrame, at: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per RMA slot, the strongest link's method and confidence ("none", 0.0 when unlinked).

    Strongest = method rank, then highest confidence; ties carry the same values, so any wins.
    """
    confidence = links["confidence"].to_numpy(dtype=np.float64)
    first = np.flatnonzero(at >= 0)
    if not codes_mod.is_unique(at[first], size):  # an RMA with several links: rank them
        rank = links["match_method"].map(_METHOD_RANK).to_numpy(dtype=np.float64)
        order = np.lexsort((-confidence, rank, at))
        order = order[at[order] >= 0]
        first = order[np.r_[True, at[order][1:] != at[order][:-1]]] if len(order) else order
    # else one link per RMA (usual at 1M): each is its RMA's best, no 1M-row sort (issue H18)
    chosen = links["match_method"].to_numpy(dtype=object)[first]
    method = keys.constant(size, "none")
    if infer_dtype(chosen, skipna=False) != "string":  # a missing method reads "none"
        chosen = np.where(pd.isna(chosen), "none", chosen)
    method[at[first]] = chosen
    best = np.full(size, np.nan)
    best[at[first]] = confidence[first]
    return method, np.nan_to_num(best, nan=0.0)


def _slots(
    agg: pd.DataFrame, links: pd.DataFrame, settled: pd.DataFrame, codes: Codes
) -> tuple[np.ndarray, int, np.ndarray, pd.DataFrame, np.ndarray]:
    """RMA slots of returns, links and settled transactions of linked refunds (inner join).

    Slots are RMA codes when each return has its own RMA (issue H18); otherwise one slot per
    distinct RMA value, NaN included, looked up as strings (issue H10).
    """
    at, size = codes.of("returns", "rma"), codes.size("rma")
    link_refund, refund_size = links["refund_code"].to_numpy(), codes.size("refund")
    if codes_mod.is_unique(at, size):
        link_at = links["rma_code"].to_numpy()
        if codes_mod.is_unique(link_refund, refund_size):  # one link per refund: a lookup
            first = codes_mod.first_position(link_refund, refund_size)
            return (
                at,
                size,
                link_at,
                settled,
                keys.take(link_at, keys.take(first, settled["refund_code"].to_numpy(), -1), -1),
            )
        txn = settled.merge(links[["refund_id", "rma"]], on="refund_id")
        return at, size, link_at, txn, codes.lookup("rma", txn["rma"])
    rmas = keys.table(agg["rma"])
    at, link_at = keys.positions(agg["rma"], rmas), keys.positions(links["rma"], rmas)
    refunds = keys.table(links["refund_id"])
    if len(refunds) == len(links):  # one link per refund (link.py guarantees it): a lookup
        txn_at = keys.take(link_at, keys.positions(settled["refund_id"], refunds), -1)
        return at, len(rmas), link_at, settled, txn_at
    txn = settled.merge(links[["refund_id", "rma"]], on="refund_id")
    return at, len(rmas), link_at, txn, keys.positions(txn["rma"], rmas)


def _matches(
    agg: pd.DataFrame, links: pd.DataFrame, settled: pd.DataFrame, codes: Codes
) -> pd.DataFrame:
    """One row per RMA: its links, refunded total (basis currency; empty for a currency
    mismatch), transactions and payouts.

    Per-RMA values are computed once per RMA slot (integer positions, issues H10, H18).
    """
    at, size, link_at, txn, txn_at = _slots(agg, links, settled, codes)
    method, confidence = _best_link(links, link_at, size)
    paid_at = np.where(txn["payout_id"].notna().to_numpy(), txn_at, -1)
    currency = agg["currency"]
    loop_refund, loop_gift_card, refunded_total = decimal_arrays(
        currency, agg["refund_minor"], agg["gift_card_minor"], agg["total"]
    )
    # A refund in neither of the return's currencies has no total in its currency (findings.md,
    # money basis): empty, not 0.00, which read as "nothing refunded" beside a paid refund.
    refunded_total[agg["any_mismatch"].to_numpy(dtype=bool)] = None
    return pd.DataFrame(
        {
            "rma": agg["rma"].to_numpy(),
            "shopify_order_id": agg["order_id"].to_numpy(),
            "shopify_order_name": agg["order_name"].to_numpy(),
            "state": agg["state"].to_numpy(),
            "outcome": agg["outcome"].to_numpy(),
            "currency": currency.to_numpy(),
            "loop_refund": loop_refund,
            "loop_gift_card": loop_gift_card,
            "refund_ids": keys.join_rows(link_at, links["refund_id"], size, at),
            "refunded_total": refunded_total,
            "match_method": method[at],
            "match_confidence": confidence[at],
            "transaction_ids": keys.join_rows(txn_at, txn["transaction_id"], size, at),
            **payout_columns(paid_at, txn, size, at, txn_at),
        },
        columns=MATCH_COLUMNS,
        copy=False,  # fresh arrays: no need to stack them into blocks (1M rows)
    )

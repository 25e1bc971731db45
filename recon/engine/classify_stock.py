"""Stock findings: SKU_MISMATCH, MISSING_RESTOCK and GHOST_INVENTORY (line level)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recon.config import WarehouseEvent
from recon.engine import keys
from recon.engine.classify_common import rows
from recon.engine.frames import Frames
from recon.engine.link import concat_rows
from recon.models import Category

CLOSED_OUT = ("cancelled", "expired")


def linked_lines(frames: Frames, links: pd.DataFrame) -> pd.DataFrame:
    """Refund lines of linked refunds, each with its return's RMA and the return line it is for.

    findings.md: refund lines link to return lines by ``line_item_id == provider_line_item_id``,
    then by SKU (the first return line of that SKU, in return-line order). ``pli`` is NaN when
    neither key finds a unit of the return.
    """
    lines = keys.inner_join(frames.refund_lines, links[["refund_id", "rma"]], "refund_id")
    lines.insert(0, "line_no", np.arange(len(lines), dtype=np.int64))  # a fresh frame: no copy
    units = frames.return_lines[["rma", "provider_line_item_id", "sku"]]
    # A membership test of (rma, line item) pairs: the two-key join on strings dominated at 1M.
    by_id = keys.pair_member(
        (lines["rma"], lines["line_item_id"]), (units["rma"], units["provider_line_item_id"])
    )
    found = keys.with_columns(lines[by_id], pli=lambda f: f["line_item_id"])
    rest = lines[~by_id]
    by_sku = rest.merge(
        units.rename(columns={"sku": "unit_sku"}),
        left_on=["rma", "sku"],
        right_on=["rma", "unit_sku"],
    ).drop_duplicates("line_no")
    by_sku = by_sku.assign(pli=by_sku["provider_line_item_id"])
    keep = [*lines.columns, "pli"]
    orphan = rest[~rest["line_no"].isin(by_sku["line_no"])].assign(pli=None)
    return concat_rows([found, by_sku, orphan], keep)


def classify_sku(frames: Frames, lines: pd.DataFrame) -> pd.DataFrame:
    """SKU_MISMATCH: the SKU multiset of linked refund lines differs from the return's."""
    units = frames.return_lines[keys.member(frames.return_lines["rma"], lines["rma"])]
    # Refunded minus returned units per (rma, sku) on integer codes: a multiset differs iff
    # some net count is not 0 (the same test as comparing the two counts side by side).
    net = pd.DataFrame(
        {
            "rma": np.concatenate([lines["rma"].to_numpy(object), units["rma"].to_numpy(object)]),
            "sku": np.concatenate(
                [lines["sku"].fillna("").to_numpy(object), units["sku"].fillna("").to_numpy(object)]
            ),
            "units": np.concatenate(
                [lines["quantity"].to_numpy(np.int64), np.full(len(units), -1, dtype=np.int64)]
            ),
        }
    )
    rma_code, rmas = pd.factorize(net["rma"])
    pair = _pair_code(rma_code, pd.factorize(net["sku"])[0])
    slot, _ = pd.factorize(pair)
    off = keys.sum_at(slot, net["units"], int(slot.max(initial=-1)) + 1)[slot] != 0
    bad = rmas[np.unique(rma_code[off & (pair >= 0)])]
    hit = frames.returns[keys.member(frames.returns["rma"], bad)]
    return rows(
        Category.SKU_MISMATCH,
        hit,
        scope="rma=" + hit["rma"].astype(str),
        rma=hit["rma"],
        order_id=hit["order_id"],
        order_name=hit["order_name"],
        amount_minor=0,
        currency=hit["currency"],
        detail="refunded SKUs differ from returned SKUs",
    )


def _pair_code(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One int64 per pair of factorize codes (-1 stays -1: a missing id pairs with nothing)."""
    width = np.int64(second.max(initial=0)) + 1
    code: np.ndarray = first.astype(np.int64) * width + second
    code[(first < 0) | (second < 0)] = -1
    return code


def _units(frames: Frames, event: WarehouseEvent) -> pd.DataFrame:
    """Return units with ``received`` and ``event_done`` (findings.md "Vocabulary")."""
    ret = frames.returns[
        ["rma", "state", "label_status", "was_processed", "currency", "order_id", "order_name"]
    ]
    units = keys.inner_join(frames.return_lines, ret, "rma")
    processed = (units["state"] == "closed") & units["was_processed"]
    received = (units["label_status"] == "delivered") | processed
    done = {
        WarehouseEvent.RECEIVED: received,
        WarehouseEvent.PROCESSED: processed,
        WarehouseEvent.INSPECTED: units["inspected"],
    }[event]
    return keys.with_columns(
        units, received=received, event_done=done, pli=units["provider_line_item_id"].fillna("")
    )


def _per_line(units: pd.DataFrame) -> pd.DataFrame:
    return (
        units.groupby(["rma", "pli"], sort=False)
        .agg(
            amount=("price_minor", "sum"),
            sku=("sku", "first"),
            currency=("currency", "first"),
            order_id=("order_id", "first"),
            order_name=("order_name", "first"),
            location_id=("restock_location_id", "first"),
        )
        .reset_index()
    )


def _restocked(
    units: pd.DataFrame, lines: pd.DataFrame, restocked_by_recon: frozenset[tuple[str, str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: is its (rma, pli) restocked by a linked refund line, or by recon's ledger?

    Pairs are looked up (``keys.pair_member``), not compared as tuples of strings (issue H10).
    """
    restocked = lines[lines["restocked"].astype(bool) & lines["pli"].notna()]
    unit = (units["rma"], units["pli"])
    ledger = (
        np.array([rma for rma, _ in restocked_by_recon], dtype=object),
        np.array([pli for _, pli in restocked_by_recon], dtype=object),
    )
    refunded = (restocked["rma"].astype(str), restocked["pli"].astype(str))
    return keys.pair_member(unit, refunded), keys.pair_member(unit, ledger)


def classify_restock(
    frames: Frames,
    lines: pd.DataFrame,
    event: WarehouseEvent,
    restocked_by_recon: frozenset[tuple[str, str]],
) -> list[pd.DataFrame]:
    """MISSING_RESTOCK and GHOST_INVENTORY per (RMA, provider line item).

    A line item counts as restocked when any linked refund line for it has ``restocked`` (the
    simplest literal reading; quantities are not netted against units).
    """
    units = _units(frames, event)
    is_restocked, by_recon = _restocked(units, lines, restocked_by_recon)
    live = ~units["state"].isin(CLOSED_OUT)
    missing = units[live.to_numpy() & units["event_done"].to_numpy() & ~is_restocked & ~by_recon]
    not_received = units["state"].isin(CLOSED_OUT) | ~units["received"]
    ghost = units[not_received.to_numpy() & is_restocked]
    out = []
    for category, hit, detail in (
        (Category.MISSING_RESTOCK, _per_line(missing), "received unit not restocked in Shopify"),
        (Category.GHOST_INVENTORY, _per_line(ghost), "restocked in Shopify but never received"),
    ):
        out.append(
            rows(
                category,
                hit,
                scope="rma=" + hit["rma"].astype(str) + ",line=" + hit["pli"].astype(str),
                rma=hit["rma"],
                order_id=hit["order_id"],
                order_name=hit["order_name"],
                sku=hit["sku"],
                location_id=hit["location_id"],
                amount_minor=hit["amount"],
                currency=hit["currency"],
                detail=detail,
            )
        )
    return out

"""Stock findings: SKU_MISMATCH, MISSING_RESTOCK and GHOST_INVENTORY (line level)."""

from __future__ import annotations

import pandas as pd

from recon.config import WarehouseEvent
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
    lines = frames.refund_lines.merge(links[["refund_id", "rma"]], on="refund_id")
    lines = lines.reset_index(drop=True).rename_axis("line_no").reset_index()
    units = frames.return_lines[["rma", "provider_line_item_id", "sku"]]
    plis = units[["rma", "provider_line_item_id"]].drop_duplicates()
    by_id = lines.merge(
        plis,
        left_on=["rma", "line_item_id"],
        right_on=["rma", "provider_line_item_id"],
        how="left",
        indicator=True,
    )
    found = by_id[by_id["_merge"] == "both"].assign(pli=lambda f: f["line_item_id"])
    rest = lines[~lines["line_no"].isin(found["line_no"])]
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
    refunded = lines.assign(sku=lines["sku"].fillna("")).groupby(["rma", "sku"])["quantity"].sum()
    units = frames.return_lines[frames.return_lines["rma"].isin(lines["rma"])]
    returned = units.assign(sku=units["sku"].fillna("")).groupby(["rma", "sku"]).size()
    both = pd.concat([refunded.rename("refunded"), returned.rename("returned")], axis=1).fillna(0)
    bad = both[both["refunded"] != both["returned"]].index.get_level_values("rma").unique()
    hit = frames.returns[frames.returns["rma"].isin(bad)]
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


def _units(frames: Frames, event: WarehouseEvent) -> pd.DataFrame:
    """Return units with ``received`` and ``event_done`` (findings.md "Vocabulary")."""
    ret = frames.returns[
        ["rma", "state", "label_status", "was_processed", "currency", "order_id", "order_name"]
    ]
    units = frames.return_lines.merge(ret, on="rma")
    processed = (units["state"] == "closed") & units["was_processed"]
    received = (units["label_status"] == "delivered") | processed
    done = {
        WarehouseEvent.RECEIVED: received,
        WarehouseEvent.PROCESSED: processed,
        WarehouseEvent.INSPECTED: units["inspected"],
    }[event]
    return units.assign(
        received=received, event_done=done, pli=units["provider_line_item_id"].fillna("")
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
    restocked = lines[lines["restocked"].astype(bool) & lines["pli"].notna()]
    pairs = pd.MultiIndex.from_frame(restocked[["rma", "pli"]].astype(str)).unique()
    unit_pairs = pd.MultiIndex.from_frame(units[["rma", "pli"]])
    by_recon = (
        pd.MultiIndex.from_tuples(list(restocked_by_recon), names=["rma", "pli"])
        if restocked_by_recon
        else unit_pairs[:0]
    )
    live = ~units["state"].isin(CLOSED_OUT)
    missing = units[
        live.to_numpy()
        & units["event_done"].to_numpy()
        & ~unit_pairs.isin(pairs)
        & ~unit_pairs.isin(by_recon)
    ]
    not_received = units["state"].isin(CLOSED_OUT) | ~units["received"]
    ghost = units[not_received.to_numpy() & unit_pairs.isin(pairs)]
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

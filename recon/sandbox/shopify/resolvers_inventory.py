"""Inventory items, levels and locations, and the ``inventoryAdjustQuantities`` mutation."""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLResolveInfo

from recon.sandbox.shopify.context import AdjustmentGroup, RequestContext, StockMovement
from recon.sandbox.shopify.render import Node, gid, iso

# shopify.dev "inventory quantities and states": the reasons inventoryAdjustQuantities accepts.
REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_canceled",
        "movement_created",
        "movement_received",
        "movement_updated",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)


def tail(value: str) -> str:
    """The numeric id at the end of a GID (or the value itself)."""
    return value.rsplit("/", 1)[-1].split("?", 1)[0]


def resolve_inventory_item(ctx: RequestContext, item_gid: str) -> Node | None:
    item = ctx.catalog.inventory_item(tail(item_gid))
    return None if item is None else ctx.render_inventory_item(item)


def resolve_location(ctx: RequestContext, location_gid: str | None) -> Node | None:
    locations = ctx.state.world.shop.locations
    location_id = tail(location_gid) if location_gid else locations[0].id  # null → primary
    return ctx.render_location(location_id) if ctx.catalog.location(location_id) else None


def render_group(ctx: RequestContext, group: AdjustmentGroup) -> Node:
    def changes(info: GraphQLResolveInfo, **filters: Any) -> list[Node]:
        rows: list[Node] = []
        item_ids = {tail(i) for i in filters.get("inventoryItemIds") or []}
        location_ids = {tail(i) for i in filters.get("locationIds") or []}
        names = set(filters.get("quantityNames") or [])
        for move in group.changes:
            if (item_ids and move.inventory_item_id not in item_ids) or (
                location_ids and move.location_id not in location_ids
            ):
                continue
            # Shopify reports the on_hand movement that an available change implies, too.
            for name in ("available", "on_hand"):
                if names and name not in names:
                    continue
                item = ctx.catalog.inventory_item(move.inventory_item_id)
                rows.append(
                    {
                        "name": name,
                        "delta": move.delta,
                        "quantityAfterChange": move.quantity_after,
                        "item": None if item is None else ctx.render_inventory_item(item),
                        "location": ctx.render_location(move.location_id),
                        "ledgerDocumentUri": None,
                    }
                )
        return rows

    return {
        "__typename": "InventoryAdjustmentGroup",
        "id": gid("InventoryAdjustmentGroup", group.id),
        "createdAt": iso(group.created_at),
        "reason": group.reason,
        "referenceDocumentUri": group.reference_document_uri,
        "app": {"id": gid("App", "1"), "title": "recon"},
        "changes": changes,
    }


def _error(code: str | None, path: list[str], message: str) -> Node:
    return {"code": code, "field": ["input", *path], "message": message}


def _check_change(ctx: RequestContext, index: int, change: dict[str, Any]) -> Node | None:
    """The first problem with one change, or None."""
    path = ["changes", str(index)]
    if ctx.version >= "2026-04" and "changeFromQuantity" not in change:
        # shopify-admin-api.md §2/§11: from 2026-04 changeFromQuantity must be sent explicitly.
        return _error(
            None,
            [*path, "changeFromQuantity"],
            "changeFromQuantity is required. Pass null to skip the quantity check.",
        )
    item = ctx.catalog.inventory_item(tail(change["inventoryItemId"]))
    if item is None:
        return _error(
            "INVALID_INVENTORY_ITEM",
            [*path, "inventoryItemId"],
            "The specified inventory item could not be found.",
        )
    location_id = tail(change["locationId"])
    if ctx.catalog.location(location_id) is None:
        return _error(
            "INVALID_LOCATION", [*path, "locationId"], "The specified location could not be found."
        )
    if location_id not in item.available:
        return _error(
            "ITEM_NOT_STOCKED_AT_LOCATION",
            [*path, "locationId"],
            "The specified inventory item is not stocked at the location.",
        )
    expected = change.get("changeFromQuantity")
    if expected is not None and expected != item.available[location_id]:
        return _error(
            "CHANGE_FROM_QUANTITY_STALE",
            [*path, "changeFromQuantity"],
            "The compare quantity is stale. Re-read the quantity and try again.",
        )
    return None


def adjust_quantities(ctx: RequestContext, data: dict[str, Any], key: str | None) -> Node:
    """``inventoryAdjustQuantities``: all or nothing; a repeated key replays."""
    fingerprint = json.dumps(data, sort_keys=True, default=str)
    if key is not None and key in ctx.memory.idempotency:
        field_name, seen, group_id = ctx.memory.idempotency[key]
        if field_name != "inventoryAdjustQuantities" or seen != fingerprint:
            return _payload(
                None,
                [
                    _error(
                        "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                        [],
                        "The same idempotency key was used with different parameters.",
                    )
                ],
            )
        original = next(g for g in ctx.memory.adjustments if g.id == group_id)
        return _payload(render_group(ctx, original), [])
    errors: list[Node] = []
    if data["reason"] not in REASONS:
        errors.append(
            _error("INVALID_REASON", ["reason"], "The quantity change reason is invalid.")
        )
    if data["name"] != "available":
        errors.append(
            _error("INVALID_QUANTITY_NAME", ["name"], "The sandbox tracks only 'available'.")
        )
    for index, change in enumerate(data["changes"]):
        problem = _check_change(ctx, index, change)
        if problem is not None:
            errors.append(problem)
    if errors:
        return _payload(None, errors)
    group = AdjustmentGroup(
        ctx.state.mint_id(),
        ctx.now,
        data["reason"],
        data.get("referenceDocumentUri"),
        "inventoryAdjustQuantities",
        key,
    )
    for change in data["changes"]:
        item = ctx.catalog.inventory_item(tail(change["inventoryItemId"]))
        assert item is not None  # checked above
        group.changes.append(move_stock(item, tail(change["locationId"]), change["delta"]))
    ctx.memory.adjustments.append(group)
    if key is not None:
        ctx.memory.idempotency[key] = ("inventoryAdjustQuantities", fingerprint, group.id)
    return _payload(render_group(ctx, group), [])


def move_stock(item: Any, location_id: str, delta: int) -> StockMovement:
    """Apply a delta to an item's available quantity at a location."""
    item.available[location_id] = item.available.get(location_id, 0) + delta
    return StockMovement(item.id, location_id, delta, item.available[location_id])


def _payload(group: Node | None, errors: list[Node]) -> Node:
    return {"inventoryAdjustmentGroup": group, "userErrors": errors}


NODE_RESOLVERS = {
    "InventoryItem": lambda ctx, rid: resolve_inventory_item(ctx, rid),
    "Location": lambda ctx, rid: resolve_location(ctx, rid),
}

"""Per-request context of the Shopify emulator: state, read models, now, version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from recon.sandbox.shopify.catalog import Catalog
from recon.sandbox.shopify.render import Node, gid
from recon.sandbox.state import SandboxState
from recon.sandbox.world import InventoryItem, Order

ORDER_VISIBILITY_DAYS = 60  # without read_all_orders (shopify-admin-api.md §1)


@dataclass
class StockMovement:
    """One applied change of ``available`` stock, from an adjustment group or a refund restock."""

    inventory_item_id: str
    location_id: str
    delta: int
    quantity_after: int


@dataclass
class AdjustmentGroup:
    """An applied stock movement group; ``source`` names the mutation that applied it."""

    id: str
    created_at: datetime
    reason: str
    reference_document_uri: str | None
    source: str
    idempotency_key: str | None
    changes: list[StockMovement] = field(default_factory=list)


@dataclass
class Memory:
    """What the emulator remembers across requests: idempotency keys and applied stock movements."""

    # key -> (mutation field, canonical input, id of what it created); successes only, so a
    # re-planned retry after a userError is not refused (shopify-admin-api.md §17).
    idempotency: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    adjustments: list[AdjustmentGroup] = field(default_factory=list)


@dataclass
class RequestContext:
    """Everything a resolver needs, and lookups for the renderers."""

    state: SandboxState
    catalog: Catalog
    memory: Memory
    now: datetime
    version: str

    def inventory_item(self, item_id: str) -> InventoryItem | None:
        return self.catalog.inventory_item(item_id)

    def render_location(self, location_id: str) -> Node:
        location = self.catalog.location(location_id)
        return {
            "__typename": "Location",
            "id": gid("Location", location_id),
            "legacyResourceId": location_id,
            "name": "" if location is None else location.name,
        }

    def render_inventory_item(self, item: InventoryItem) -> Node:
        def level(info: Any, locationId: str, **_: Any) -> Node | None:  # noqa: N803 - GraphQL name
            location_id = locationId.rsplit("/", 1)[-1]
            if location_id not in item.available:
                return None
            return self.render_level(item, location_id)

        return {
            "__typename": "InventoryItem",
            "id": gid("InventoryItem", item.id),
            "legacyResourceId": item.id,
            "sku": item.sku,
            "tracked": item.tracked,
            "variant": lambda info, **_: {
                "id": gid("ProductVariant", item.variant_id),
                "sku": item.sku,
                "inventoryItem": self.render_inventory_item(item),
            },
            "inventoryLevel": level,
        }

    def render_level(self, item: InventoryItem, location_id: str) -> Node:
        available = item.available.get(location_id, 0)

        def quantities(info: Any, names: list[str]) -> list[Node]:
            # The sandbox tracks only "available"; on_hand mirrors it, other states are empty.
            values = {"available": available, "on_hand": available}
            return [
                {
                    "id": f"gid://shopify/InventoryQuantity/{item.id}?location_id={location_id}&name={n}",
                    "name": n,
                    "quantity": values.get(n, 0),
                    "updatedAt": None,
                }
                for n in names
            ]

        return {
            "id": f"gid://shopify/InventoryLevel/{item.id}?inventory_item_id={item.id}&location_id={location_id}",
            "quantities": quantities,
            "location": self.render_location(location_id),
            "item": lambda info, **_: self.render_inventory_item(item),
        }

    def has_scope(self, scope: str) -> bool:
        """Whether the shop granted recon's app ``scope``."""
        return scope in self.state.world.shop.scopes

    def order_visible(self, order: Order) -> bool:
        """Created by now, not deleted by now and, without ``read_all_orders``, created in the
        last 60 days.

        Shopify hides older orders silently: absent from ``orders``, null in ``nodes``, and so are
        their refunds, transactions and returns (shopify-admin-api.md §1, §5, §6); a deleted
        order resolves to null the same way.
        """
        if order.created_at > self.now:
            return False
        if order.deleted_at is not None and order.deleted_at <= self.now:
            return False
        return self.has_scope("read_all_orders") or order.created_at >= self.now - timedelta(
            days=ORDER_VISIBILITY_DAYS
        )

    def visible_order(self, order_id: str) -> Order | None:
        order = self.state.orders_by_id.get(order_id)
        return order if order is not None and self.order_visible(order) else None

    def suggest_refund(self, view: Any, args: dict[str, Any]) -> Node:
        from recon.sandbox.shopify.resolvers_refunds import suggest_refund

        return suggest_refund(self, view, args)

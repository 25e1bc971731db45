"""Small inline worlds and a TestClient for the Shopify emulator tests.

A module of its own, imported as ``tests.unit.sandbox_shopify.inline_world``: the tests once
imported these from ``conftest``, which names another directory's conftest too when pytest
collects ``tests/contract`` in the same call (and the import then failed).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from recon.clock import VirtualClock
from recon.sandbox.faults import Faults
from recon.sandbox.shopify import create_shopify_app
from recon.sandbox.state import SHOPIFY_TOKEN, SandboxState
from recon.sandbox.world import World

# Starlette 1.x warns once, at import, that it prefers the `httpx2` fork; plain httpx works.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = datetime(2026, 1, 10, tzinfo=UTC)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def order_doc(
    n: int, *, created: datetime, refunded: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Order ``n`` (id 1000+n): one line of 2 x 25.00, a 50.00 SALE, optionally one refund."""
    oid = str(1000 + n)
    doc: dict[str, Any] = {
        "id": oid,
        "name": f"#{oid}",
        "created_at": iso(created),
        "updated_at": iso(created),
        "currency": "USD",
        "presentment_currency": "USD",
        "line_items": [
            {
                "id": str(100000 + n),
                "sku": f"SKU-{n}",
                "title": f"Thing {n}",
                "variant_id": "900",
                "inventory_item_id": "800",
                "quantity": 2,
                "price": "25.00",
            }
        ],
        "transactions": [
            {"id": str(200000 + n), "kind": "SALE", "amount": "50.00", "processed_at": iso(created)}
        ],
    }
    if refunded is not None:
        at = created + timedelta(hours=1)
        doc["refunds"] = [
            {
                "id": str(300000 + n),
                "note": f"RMA {n}",
                "created_at": iso(at),
                "lines": [
                    {
                        "id": str(400000 + n),
                        "line_item_id": str(100000 + n),
                        "quantity": 1,
                        "restock_type": "RETURN",
                        "restocked": True,
                        "location_id": "1",
                        "subtotal": refunded,
                    }
                ],
            }
        ]
        doc["transactions"].append(
            {
                "id": str(500000 + n),
                "kind": "REFUND",
                "amount": refunded,
                "processed_at": iso(at),
                "parent_id": str(200000 + n),
                "refund_id": str(300000 + n),
            }
        )
    doc.update(extra)
    return doc


def world_doc(orders: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "now": iso(NOW),
        "shop": {"locations": [{"id": "1", "name": "Main"}, {"id": "2", "name": "Annex"}]},
        "inventory": [
            {"id": "800", "variant_id": "900", "sku": "SKU", "available": {"1": 10, "2": 0}}
        ],
        "orders": orders or [],
    }
    doc.update(extra)
    return doc


class Shopify:
    """A TestClient plus the state behind it; ``gql`` posts a document and returns the JSON body."""

    def __init__(self, world: World, faults: Faults | None = None) -> None:
        self.clock = VirtualClock(world.now)
        self.state = SandboxState(world, clock=self.clock, faults=faults)
        self.client = TestClient(create_shopify_app(self.state))

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        version: str = "2026-04",
        token: str = SHOPIFY_TOKEN,
    ) -> Any:
        return self.client.post(
            f"/admin/api/{version}/graphql.json",
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": token},
        )

    def gql(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        response = self.post(query, variables, **kw)
        assert response.status_code == 200, response.text
        return response.json()

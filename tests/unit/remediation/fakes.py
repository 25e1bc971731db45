"""FakeGateway: a small Shopify that behaves like the real one for remediation's reads and writes.

It honours ``@idempotent`` keys (same key + same variables → the original payload, nothing new;
same key + other variables → refused), applies writes (refunds with ``restockType: RETURN`` restock
the unit), caps refunds at the maximum refundable, checks ``changeFromQuantity``, and can be told to
drop a response (apply, then raise ``OutcomeUnknownError``), lose a request, answer with userErrors,
move stock between a read and a write, raise a given error, or call a hook on each write. With
``path`` its state lives in a JSON file so a subprocess that dies mid-run leaves Shopify's side
behind, as the real one would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from recon.errors import OutcomeUnknownError
from recon.remediation.writes import (
    LineItemStock,
    OrderRefund,
    OrderRefunds,
    SuggestedRefund,
    SuggestedTransaction,
)

ORDER = "gid://shopify/Order/1001"
SALE = "gid://shopify/OrderTransaction/9001"
LOCATION = "gid://shopify/Location/4001"


def default_state() -> dict[str, Any]:
    """One USD order (100.00 paid by card) with two line items stocked at one location."""
    return {
        "orders": {
            ORDER: {
                "currency": "USD",
                "presentment": "USD",
                "sales": [{"id": SALE, "gateway": "shopify_payments", "amount": "100.00"}],
                "refunds": [],
                "tags": [],
            }
        },
        "line_items": {
            "gid://shopify/LineItem/2001": "gid://shopify/InventoryItem/3001",
            "gid://shopify/LineItem/2002": "gid://shopify/InventoryItem/3002",
        },
        "inventory": {
            f"gid://shopify/InventoryItem/3001|{LOCATION}": 5,
            f"gid://shopify/InventoryItem/3002|{LOCATION}": 7,
        },
        "idempotency": {},
        "adjustments": [],
        "next_id": 50000,
    }


class FakeGateway:
    """Implements ``recon.remediation.writes.ShopifyGateway`` over an in-memory (or JSON) shop."""

    def __init__(self, state: dict[str, Any] | None = None, path: Path | None = None) -> None:
        self.path = path
        if path is not None and path.exists():
            state = json.loads(path.read_text())
        self.state = state or default_state()
        self.calls: list[tuple[str, str | None, Any]] = []
        self.drop: set[str] = set()  # kinds whose next response is lost after applying
        self.lose: set[str] = set()  # kinds whose next request never arrives
        self.user_errors: dict[str, dict[str, Any]] = {}  # kind → one userError for the next call
        self.move_stock_after_read = 0  # someone else changes stock right after our read
        self.raise_next: dict[str, Exception] = {}  # kind → raised by the next write (unsent)
        self.on_write: Any = None  # called as each write arrives (e.g. to move the clock)
        self._save()

    # --- test helpers -------------------------------------------------------------------------

    def refunds_with(self, marker: str) -> list[dict[str, Any]]:
        return [
            r
            for order in self.state["orders"].values()
            for r in order["refunds"]
            if marker in (r["note"] or "")
        ]

    def available(self, item: str, location: str = LOCATION) -> int:
        return int(self.state["inventory"][f"gid://shopify/InventoryItem/{item}|{location}"])

    def add_manual_refund(self, amount: str, note: str | None = None) -> None:
        order = self.state["orders"][ORDER]
        order["refunds"].append(
            {
                "id": self._mint("Refund"),
                "note": note,
                "amount": amount,
                "transactions": [{"parent": SALE, "amount": amount}],
                "lines": [],
            }
        )
        self._save()

    def _save(self) -> None:
        if self.path is not None:
            self.path.write_text(json.dumps(self.state, sort_keys=True))

    def _mint(self, kind: str) -> str:
        self.state["next_id"] += 1
        return f"gid://shopify/{kind}/{self.state['next_id']}"

    def _refundable(self, order: dict[str, Any], sale: dict[str, Any]) -> Decimal:
        refunded = sum(
            (
                Decimal(x["amount"])
                for r in order["refunds"]
                for x in r["transactions"]
                if x["parent"] == sale["id"]
            ),
            Decimal(0),
        )
        return Decimal(sale["amount"]) - refunded

    def _idempotent(self, kind: str, key: str, variables: Any) -> dict[str, Any] | None:
        seen = self.state["idempotency"].get(key)
        if seen is None:
            return None
        if seen["variables"] != variables:
            code = "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
            return {"userErrors": [{"code": code, "field": None, "message": code}]}
        return dict(seen["payload"])

    def _finish(self, kind: str, key: str | None, variables: Any, payload: dict[str, Any]) -> Any:
        if key is not None and not payload.get("userErrors"):
            self.state["idempotency"][key] = {"variables": variables, "payload": payload}
        self._save()
        if kind in self.drop:
            self.drop.discard(kind)
            raise OutcomeUnknownError(f"{kind}: 502 Bad Gateway after the write was applied")
        return payload

    def _entry(self, kind: str, key: str | None, variables: Any) -> dict[str, Any] | None:
        self.calls.append((kind, key, json.loads(json.dumps(variables))))
        if self.on_write is not None:
            self.on_write()
        if kind in self.raise_next:
            raise self.raise_next.pop(kind)
        if kind in self.lose:
            self.lose.discard(kind)
            raise OutcomeUnknownError(f"{kind}: connection reset before the request arrived")
        if kind in self.user_errors:
            return {"userErrors": [self.user_errors.pop(kind)]}
        return None

    # --- reads --------------------------------------------------------------------------------

    def order_refunds(self, order_gid: str) -> OrderRefunds:
        order = self.state["orders"][order_gid]
        refunds = tuple(
            OrderRefund(r["id"], r["note"], Decimal(r["amount"])) for r in order["refunds"]
        )
        return OrderRefunds(
            order_gid, order["currency"], order["presentment"], refunds, order.get("test", False)
        )

    def order_test(self, order_gid: str) -> bool:
        return bool(self.state["orders"][order_gid].get("test", False))

    def suggested_refund(self, order_gid: str, lines: Sequence[dict[str, Any]]) -> SuggestedRefund:
        order = self.state["orders"][order_gid]
        transactions = tuple(
            SuggestedTransaction(
                s["gateway"], s["id"], self._refundable(order, s), self._refundable(order, s)
            )
            for s in order["sales"]
        )
        maximum = sum((t.maximum_refundable for t in transactions), Decimal(0))
        rate = Decimal(order.get("rate", "1"))
        return SuggestedRefund(
            order["currency"],
            order["presentment"],
            maximum,
            (maximum / rate).quantize(Decimal("0.01")),
            maximum,
            transactions,
        )

    def line_item_inventory(
        self, line_item_gids: Sequence[str], location_gid: str
    ) -> list[LineItemStock]:
        stocks = []
        for line in line_item_gids:
            item = self.state["line_items"][line]
            level = self.state["inventory"].get(f"{item}|{location_gid}")
            stocks.append(LineItemStock(line, item, True, level))
            if level is not None and self.move_stock_after_read:
                self.state["inventory"][f"{item}|{location_gid}"] += self.move_stock_after_read
                self.move_stock_after_read = 0
        self._save()
        return stocks

    # --- writes -------------------------------------------------------------------------------

    def create_refund(self, refund_input: dict[str, Any], key: str) -> dict[str, Any]:
        early = self._entry("refund", key, refund_input) or self._idempotent(
            "refund", key, refund_input
        )
        if early is not None:
            return self._finish("refund", None, refund_input, early)
        order = self.state["orders"][refund_input["orderId"]]
        for txn in refund_input.get("transactions", []):
            sale = next(s for s in order["sales"] if s["id"] == txn.get("parentId"))
            if Decimal(txn["amount"]) > self._refundable(order, sale):
                error = {
                    "field": ["transactions", "0", "amount"],
                    "message": "Amount cannot exceed the maximum refundable amount",
                }
                return self._finish(
                    "refund", None, refund_input, {"refund": None, "userErrors": [error]}
                )
        refund_id = self._mint("Refund")
        transactions = [
            {"parent": txn.get("parentId"), "amount": txn["amount"]}
            for txn in refund_input.get("transactions", [])
        ]
        total = sum((Decimal(x["amount"]) for x in transactions), Decimal(0))
        order["refunds"].append(
            {
                "id": refund_id,
                "note": refund_input.get("note"),
                "amount": str(total),
                "transactions": transactions,
                "lines": refund_input.get("refundLineItems", []),
            }
        )
        for line in refund_input.get("refundLineItems", []):
            if line["restockType"] == "RETURN":
                item = self.state["line_items"][line["lineItemId"]]
                self.state["inventory"][f"{item}|{line['locationId']}"] += line["quantity"]
                self.state["adjustments"].append(
                    {"via": "refund", "item": item, "delta": line["quantity"]}
                )
        payload = {"refund": {"id": refund_id, "note": refund_input.get("note")}, "userErrors": []}
        return self._finish("refund", key, refund_input, payload)

    def adjust_inventory(self, adjust_input: dict[str, Any], key: str) -> dict[str, Any]:
        early = self._entry("adjust", key, adjust_input) or self._idempotent(
            "adjust", key, adjust_input
        )
        if early is not None:
            return self._finish("adjust", None, adjust_input, early)
        for change in adjust_input["changes"]:
            slot = f"{change['inventoryItemId']}|{change['locationId']}"
            if (
                change["changeFromQuantity"] is not None
                and change["changeFromQuantity"] != self.state["inventory"][slot]
            ):
                error = {
                    "code": "CHANGE_FROM_QUANTITY_STALE",
                    "field": ["input", "changes", "0"],
                    "message": "The quantity has changed since it was read",
                }
                return self._finish(
                    "adjust",
                    None,
                    adjust_input,
                    {"inventoryAdjustmentGroup": None, "userErrors": [error]},
                )
        for change in adjust_input["changes"]:
            slot = f"{change['inventoryItemId']}|{change['locationId']}"
            self.state["inventory"][slot] += change["delta"]
            self.state["adjustments"].append(
                {
                    "via": "adjust",
                    "item": change["inventoryItemId"],
                    "delta": change["delta"],
                    "reference": adjust_input["referenceDocumentUri"],
                }
            )
        payload = {
            "inventoryAdjustmentGroup": {"id": self._mint("InventoryAdjustmentGroup")},
            "userErrors": [],
        }
        return self._finish("adjust", key, adjust_input, payload)

    def add_tags(self, order_gid: str, tags: Sequence[str]) -> dict[str, Any]:
        early = self._entry("tags", None, {"id": order_gid, "tags": list(tags)})
        if early is not None:
            return self._finish("tags", None, None, early)
        order = self.state["orders"][order_gid]
        order["tags"] = sorted(set(order["tags"]) | set(tags))
        return self._finish("tags", None, None, {"node": {"id": order_gid}, "userErrors": []})

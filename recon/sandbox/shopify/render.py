"""World orders → GraphQL-shaped dicts (orders and their parts), as of now.

Fields that take arguments are callables ``(info, **args)``: graphql-core's default resolver calls
them, so nested connections are only built when selected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from recon.money import ZERO, format_amount, quantize
from recon.sandbox.shopify.search import check_page_size, decode_cursor, encode_cursor
from recon.sandbox.world import (
    LineItem,
    Order,
    Refund,
    RefundLine,
    Shop,
    ShopifyReturn,
    ShopifyReturnStatus,
    Transaction,
    TransactionKind,
    TransactionStatus,
    to_utc_iso,
)

T = TypeVar("T")
Node = dict[str, Any]
_PAID_KINDS = (TransactionKind.SALE, TransactionKind.CAPTURE)


def gid(kind: str, record_id: str) -> str:
    """``gid://shopify/<Type>/<id>`` (shopify-admin-api.md §4)."""
    return f"gid://shopify/{kind}/{record_id}"


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else to_utc_iso(moment)


# Set per request from ``Faults.shopify_short_decimals`` (the engine executes synchronously).
SHORT_DECIMALS: ContextVar[bool] = ContextVar("SHORT_DECIMALS", default=False)


def decimal_text(amount: Decimal, currency: str) -> str:
    """An amount as Shopify prints a ``Decimal``: ``"12.30"``, or with ``SHORT_DECIMALS`` the
    shortest form with at least one decimal (``"348.0"``, ``"12.3"``), as in Shopify's own
    verbatim payloads (examples/shopify/rest-refund-create.json); which one GraphQL prints is not
    settled, so the sandbox can send either."""
    text = format_amount(amount, currency)
    if not SHORT_DECIMALS.get() or "." not in text:
        return text
    text = text.rstrip("0")
    return text + "0" if text.endswith(".") else text


def money(amount: Decimal, currency: str) -> Node:
    """A ``MoneyV2``: amounts are strings, never floats."""
    return {"amount": decimal_text(amount, currency), "currencyCode": currency}


def bag(order: Order, presentment: Decimal, shop: Decimal | None = None) -> Node:
    """A ``MoneyBag``; the shop amount defaults to presentment x the order's exchange rate."""
    if shop is None:
        shop = quantize(presentment * order.exchange_rate, order.currency)
    return {
        "shopMoney": money(shop, order.currency),
        "presentmentMoney": money(presentment, order.presentment_currency),
    }


def shop_amount(order: Order, amount: Decimal, amount_shop: Decimal | None) -> Decimal:
    if amount_shop is not None:
        return amount_shop
    return quantize(amount * order.exchange_rate, order.currency)


def connection(items: Sequence[T], render: Callable[[T], Node], args: dict[str, Any]) -> Node:
    """A connection over a small in-memory list, with offset cursors.

    Raises:
        GraphQLError: for bad page sizes or cursors.
    """
    size = check_page_size(args.get("first"), args.get("last"))
    ordered = list(reversed(items)) if args.get("reverse") else list(items)
    positions = list(range(len(ordered)))
    if args.get("last") is not None:
        before = decode_cursor(args.get("before"))
        end = before[0] if before else len(ordered)
        chosen = positions[max(0, end - size) : end]
        has_next, has_previous = before is not None, max(0, end - size) > 0
    else:
        after = decode_cursor(args.get("after"))
        start = after[0] + 1 if after else 0
        chosen = positions[start : start + size]
        has_next, has_previous = start + size < len(ordered), after is not None
    return {
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": encode_cursor((chosen[0], 0)) if chosen else None,
            "endCursor": encode_cursor((chosen[-1], 0)) if chosen else None,
        },
        "nodes": lambda info, **_: [render(ordered[i]) for i in chosen],
        "edges": lambda info, **_: [
            {"cursor": encode_cursor((i, 0)), "node": render(ordered[i])} for i in chosen
        ],
    }


def truncate(items: list[T], first: int | None) -> list[T]:
    return items if first is None else items[: max(first, 0)]


class OrderView:
    """One order as visible at ``now``: its derived statuses and renderers for its parts."""

    def __init__(self, order: Order, now: datetime, shop: Shop, lookup: Any) -> None:
        self.order = order
        self.now = now
        self.shop = shop
        self.lookup = lookup  # the catalog: inventory items, locations
        self.refunds = [r for r in order.refunds if r.created_at <= now]
        self.transactions = [t for t in order.transactions if t.processed_at <= now]
        self.returns = [r for r in order.returns if r.created_at <= now]
        self.lines = {line.id: line for line in order.line_items}

    # -- derived ---------------------------------------------------------------------------------

    def updated_at(self) -> datetime:
        """Latest visible change: the order, its refunds, its transactions."""
        moments = [self.order.created_at]
        if self.order.updated_at <= self.now:
            moments.append(self.order.updated_at)
        moments.extend(r.created_at for r in self.refunds)
        moments.extend(t.processed_at for t in self.transactions)
        return max(moments)

    def refund_transactions(self, refund: Refund) -> list[Transaction]:
        return [t for t in self.transactions if t.refund_id == refund.id]

    def _sum(self, txns: Iterable[Transaction]) -> tuple[Decimal, Decimal]:
        pres, shop = ZERO, ZERO
        for txn in txns:
            pres += txn.amount
            shop += shop_amount(self.order, txn.amount, txn.amount_shop)
        return pres, shop

    def refunded(self, refund: Refund | None = None) -> tuple[Decimal, Decimal]:
        """(presentment, shop) of SUCCESS refund transactions, of one refund or all visible."""
        ids = {r.id for r in self.refunds} if refund is None else {refund.id}
        return self._sum(
            t
            for t in self.transactions
            if t.kind == TransactionKind.REFUND
            and t.status == TransactionStatus.SUCCESS
            and (t.refund_id in ids or (refund is None and t.refund_id is None))
        )

    def paid(self) -> tuple[Decimal, Decimal]:
        return self._sum(
            t
            for t in self.transactions
            if t.kind in _PAID_KINDS and t.status == TransactionStatus.SUCCESS
        )

    def financial_status(self) -> str:
        paid, refunded = self.paid()[0], self.refunded()[0]
        if paid <= 0:
            return "PENDING"
        if refunded <= 0:
            return "PAID"
        return "REFUNDED" if refunded >= paid else "PARTIALLY_REFUNDED"

    def return_status(self) -> str:
        live = [
            r.status
            for r in self.returns
            if r.status not in (ShopifyReturnStatus.DECLINED, ShopifyReturnStatus.CANCELED)
        ]
        if not live:
            return "NO_RETURN"
        if ShopifyReturnStatus.REQUESTED in live:
            return "RETURN_REQUESTED"
        if ShopifyReturnStatus.OPEN in live:
            return "IN_PROGRESS"
        return "RETURNED"

    def refunded_quantity(self, line_id: str, refunds: Iterable[Refund] | None = None) -> int:
        chosen = self.refunds if refunds is None else refunds
        return sum(rl.quantity for r in chosen for rl in r.lines if rl.line_item_id == line_id)

    # -- renderers -------------------------------------------------------------------------------

    def render(self) -> Node:
        o = self.order
        lines_total = sum((li.price * li.quantity for li in o.line_items), ZERO)
        refunded = self.refunded()
        return {
            "__typename": "Order",
            "id": gid("Order", o.id),
            "legacyResourceId": o.id,
            "name": o.name,
            "createdAt": iso(o.created_at),
            "updatedAt": iso(self.updated_at()),
            "processedAt": iso(o.processed_at or o.created_at),
            "cancelledAt": iso(o.cancelled_at if _seen(o.cancelled_at, self.now) else None),
            "closedAt": iso(o.closed_at if _seen(o.closed_at, self.now) else None),
            "closed": _seen(o.closed_at, self.now),
            "test": o.test,
            "currencyCode": o.currency,
            "presentmentCurrencyCode": o.presentment_currency,
            "displayFinancialStatus": self.financial_status(),
            "returnStatus": self.return_status(),
            "tags": list(o.tags),
            "note": o.note,
            "totalRefundedSet": bag(o, *refunded),
            "totalPriceSet": bag(o, lines_total),
            "lineItems": lambda info, **a: connection(o.line_items, self.line_item, a),
            "refunds": lambda info, first=None: [
                self.refund(r) for r in truncate(self.refunds, first)
            ],
            "transactions": lambda info, first=None, **_: [
                self.transaction(t) for t in truncate(self.transactions, first)
            ],
            "returns": lambda info, **a: connection(self.returns, self.shopify_return, a),
            "suggestedRefund": lambda info, **a: self.lookup.suggest_refund(self, a),
        }

    def line_item(self, line: LineItem) -> Node:
        o = self.order
        refunded = self.refunded_quantity(line.id)
        variant = None
        if line.variant_id is not None:
            item = (
                self.lookup.inventory_item(line.inventory_item_id)
                if line.inventory_item_id
                else None
            )
            variant = {
                "id": gid("ProductVariant", line.variant_id),
                "sku": line.sku,
                "inventoryItem": None if item is None else self.lookup.render_inventory_item(item),
            }
        return {
            "__typename": "LineItem",
            "id": gid("LineItem", line.id),
            "sku": line.sku,
            "name": line.title,
            "title": line.title,
            "quantity": line.quantity,
            "currentQuantity": max(line.quantity - refunded, 0),
            "refundableQuantity": max(line.quantity - refunded, 0),
            "restockable": line.fulfilled,
            "variant": variant,
            "originalUnitPriceSet": bag(o, line.price, line.price_shop),
        }

    def refund(self, refund: Refund) -> Node:
        o = self.order
        txns = self.refund_transactions(refund)
        moments = [refund.created_at, *(t.processed_at for t in txns)]
        ret = next((r for r in self.returns if r.id == refund.return_id), None)
        shipping = [refund] if refund.shipping > 0 else []
        return {
            "__typename": "Refund",
            "id": gid("Refund", refund.id),
            "legacyResourceId": refund.id,
            "note": refund.note,
            "createdAt": iso(refund.created_at),
            "processedAt": iso(refund.processed_at or refund.created_at),
            "updatedAt": iso(max(moments)),
            "order": lambda info, **_: self.render(),
            "return": None if ret is None else self.shopify_return(ret),
            "totalRefundedSet": bag(o, *self.refunded(refund)),
            "refundLineItems": lambda info, **a: connection(refund.lines, self.refund_line, a),
            "refundShippingLines": lambda info, **a: connection(shipping, self.shipping_line, a),
            "transactions": lambda info, **a: connection(txns, self.transaction, a),
        }

    def refund_line(self, line: RefundLine) -> Node:
        o = self.order
        item = self.lines[line.line_item_id]
        location = (
            None if line.location_id is None else self.lookup.render_location(line.location_id)
        )
        return {
            "id": gid("RefundLineItem", line.id),
            "quantity": line.quantity,
            "restockType": line.restock_type.value,
            "restocked": line.restocked,
            "location": location,
            "lineItem": self.line_item(item),
            "priceSet": bag(o, item.price, item.price_shop),
            "subtotalSet": bag(o, line.subtotal),
            "totalTaxSet": bag(o, ZERO, ZERO),
        }

    def shipping_line(self, refund: Refund) -> Node:
        return {
            "id": gid("RefundShippingLine", refund.id),
            "subtotalAmountSet": bag(self.order, refund.shipping),
            "taxAmountSet": bag(self.order, ZERO, ZERO),
        }

    def transaction(self, txn: Transaction) -> Node:
        parent = next((t for t in self.transactions if t.id == txn.parent_id), None)
        return {
            "__typename": "OrderTransaction",
            "id": gid("OrderTransaction", txn.id),
            "kind": txn.kind.value,
            "status": txn.status.value,
            "gateway": txn.gateway,
            "amountSet": bag(self.order, txn.amount, txn.amount_shop),
            "processedAt": iso(txn.processed_at),
            "createdAt": iso(txn.processed_at),
            "errorCode": txn.error_code,
            "parentTransaction": None if parent is None else self.transaction(parent),
            "order": lambda info, **_: self.render(),
            "test": self.order.test,
        }

    def shopify_return(self, ret: ShopifyReturn) -> Node:
        refunds = [r for r in self.refunds if r.return_id == ret.id]

        def line(rl: Any) -> Node:
            processed = rl.quantity if ret.status == ShopifyReturnStatus.CLOSED else 0
            refunded = min(self.refunded_quantity(rl.line_item_id, refunds), rl.quantity)
            return {
                "__typename": "ReturnLineItem",
                "id": gid("ReturnLineItem", rl.id),
                "quantity": rl.quantity,
                "processedQuantity": processed,
                "processableQuantity": rl.quantity - processed,
                "unprocessedQuantity": rl.quantity - processed,
                "refundableQuantity": rl.quantity - refunded,
                "refundedQuantity": refunded,
                "returnReasonNote": "",
                "customerNote": None,
                "fulfillmentLineItem": {
                    "id": gid("FulfillmentLineItem", rl.line_item_id),
                    "lineItem": self.line_item(self.lines[rl.line_item_id]),
                    "quantity": rl.quantity,
                },
            }

        return {
            "__typename": "Return",
            "id": gid("Return", ret.id),
            "name": ret.name,
            "status": ret.status.value,
            "createdAt": iso(ret.created_at),
            "closedAt": iso(ret.closed_at if _seen(ret.closed_at, self.now) else None),
            "totalQuantity": sum(rl.quantity for rl in ret.lines),
            "order": lambda info, **_: self.render(),
            "refunds": lambda info, **a: connection(refunds, self.refund, a),
            "returnLineItems": lambda info, **a: connection(ret.lines, line, a),
        }


def _seen(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now

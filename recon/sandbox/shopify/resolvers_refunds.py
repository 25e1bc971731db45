"""Refund writes and calculations: ``refundCreate``, ``Order.suggestedRefund``, and ``tagsAdd``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from recon.money import ZERO, MoneyError, parse_amount, quantize
from recon.sandbox.shopify.context import AdjustmentGroup, RequestContext
from recon.sandbox.shopify.render import Node, OrderView, bag, shop_amount
from recon.sandbox.shopify.resolvers_inventory import move_stock, tail
from recon.sandbox.world import (
    BalanceTransaction,
    Order,
    Refund,
    RefundLine,
    RestockType,
    Transaction,
    TransactionKind,
    TransactionStatus,
)

_PARENT_KINDS = (TransactionKind.SALE, TransactionKind.CAPTURE)
_COUNTED = (TransactionStatus.SUCCESS, TransactionStatus.PENDING)  # money already promised back


def remaining_by_parent(view: OrderView) -> list[tuple[Transaction, Decimal]]:
    """Each successful sale/capture with what is still refundable against it (presentment)."""
    result = []
    for parent in view.transactions:
        if parent.kind not in _PARENT_KINDS or parent.status != TransactionStatus.SUCCESS:
            continue
        used = sum(
            (
                t.amount
                for t in view.transactions
                if t.kind == TransactionKind.REFUND
                and t.parent_id == parent.id
                and t.status in _COUNTED
            ),
            ZERO,
        )
        result.append((parent, parent.amount - used))
    return result


def _error(path: list[str] | None, message: str) -> Node:
    return {"field": path, "message": message}


def _failed(errors: list[Node]) -> Node:
    return {"refund": None, "order": None, "userErrors": errors}


def _check_lines(view: OrderView, lines: list[dict[str, Any]]) -> list[Node]:
    """Each line's item is the order's, and the lines of one item (one per restock location)
    refund no more units in all than are left unrefunded."""
    errors = []
    asked: dict[str, int] = {}
    for i, line in enumerate(lines):
        item = view.lines.get(tail(line["lineItemId"]))
        path = ["refundLineItems", str(i)]
        if item is None:
            errors.append(_error([*path, "lineItemId"], "Line item does not belong to this order"))
            continue
        asked[item.id] = asked.get(item.id, 0) + line["quantity"]
        if asked[item.id] > item.quantity - view.refunded_quantity(item.id):
            errors.append(
                _error([*path, "quantity"], "Quantity cannot refund more items than were purchased")
            )
    return errors


def _check_transactions(view: OrderView, txns: list[dict[str, Any]], over_ok: bool) -> list[Node]:
    errors: list[Node] = []
    remaining = {p.id: left for p, left in remaining_by_parent(view)}
    total = ZERO
    for i, txn in enumerate(txns):
        path = ["transactions", str(i)]
        try:
            amount = parse_amount(txn["amount"])
        except MoneyError:
            errors.append(_error([*path, "amount"], "Amount is invalid"))
            continue
        parent_id = tail(txn["parentId"]) if txn.get("parentId") else next(iter(remaining), None)
        if txn["kind"] != "REFUND":
            errors.append(_error([*path, "kind"], "Kind must be refund"))
        elif parent_id not in remaining:
            errors.append(_error([*path, "parentId"], "Parent transaction could not be found"))
        elif amount <= 0:
            errors.append(_error([*path, "amount"], "Amount must be greater than zero"))
        elif amount > remaining[parent_id] and not over_ok:
            errors.append(
                _error([*path, "amount"], "Amount cannot exceed the maximum refundable amount")
            )
        else:
            remaining[parent_id] -= amount
            total += amount
    paid, refunded = view.paid()[0], view.refunded()[0]
    if not errors and total > paid - refunded and not over_ok:
        errors.append(
            _error(["transactions"], "Refund amount exceeds the order's refundable amount")
        )
    return errors


def _validate(ctx: RequestContext, order: Order | None, data: dict[str, Any]) -> list[Node]:
    if order is None:
        return [_error(["orderId"], "Order does not exist")]
    currency = data.get("currency")
    if order.presentment_currency != order.currency and currency is None:
        # shopify-admin-api.md §4/§10: required when presentment differs from shop currency.
        return [
            _error(
                ["currency"],
                "Currency is required when the presentment currency differs from the shop currency",
            )
        ]
    if currency is not None and currency != order.presentment_currency:
        return [_error(["currency"], "Currency must match the order's presentment currency")]
    view = OrderView(order, ctx.now, ctx.state.world.shop, ctx)
    return _check_lines(view, data.get("refundLineItems") or []) + _check_transactions(
        view, data.get("transactions") or [], bool(data.get("allowOverRefunding"))
    )


def refund_create(ctx: RequestContext, data: dict[str, Any], key: str | None) -> Node:
    """``refundCreate``: validate all, then write refund, money, stock, ledger."""
    fingerprint = json.dumps(data, sort_keys=True, default=str)
    if key is not None and key in ctx.memory.idempotency:
        field_name, seen, refund_id = ctx.memory.idempotency[key]
        if field_name != "refundCreate" or seen != fingerprint:
            # Unverified wording: refundCreate's UserError has no code (shopify-admin-api.md §10).
            return _failed(
                [_error(None, "Idempotency key was already used with different parameters")]
            )
        return _replay(ctx, refund_id)
    order = ctx.visible_order(tail(data["orderId"]))
    errors = _validate(ctx, order, data)
    if errors or order is None:
        return _failed(errors)
    refund = _build_refund(ctx, order, data, key)
    order.refunds.append(refund)
    _add_transactions(ctx, order, refund, data.get("transactions") or [])
    ctx.catalog.note_children(order)
    ctx.catalog.orders(ctx.now).touch(order, ctx.now)
    if key is not None:
        ctx.memory.idempotency[key] = ("refundCreate", fingerprint, refund.id)
    view = OrderView(order, ctx.now, ctx.state.world.shop, ctx)
    return {"refund": view.refund(refund), "order": view.render(), "userErrors": []}


def _replay(ctx: RequestContext, refund_id: str) -> Node:
    order = ctx.catalog.owner("Refund", refund_id)
    assert order is not None  # the emulator created it
    view = OrderView(order, ctx.now, ctx.state.world.shop, ctx)
    refund = next(r for r in order.refunds if r.id == refund_id)
    return {"refund": view.refund(refund), "order": view.render(), "userErrors": []}


def _build_refund(
    ctx: RequestContext, order: Order, data: dict[str, Any], key: str | None
) -> Refund:
    lines_by_id = {li.id: li for li in order.line_items}
    lines: list[RefundLine] = []
    restocks = AdjustmentGroup(
        ctx.state.mint_id(),
        ctx.now,
        "restock",
        f"gid://shopify/Order/{order.id}",
        "refundCreate",
        key,
    )
    for spec in data.get("refundLineItems") or []:
        item = lines_by_id[tail(spec["lineItemId"])]
        restock = RestockType(spec.get("restockType") or "NO_RESTOCK")
        location_id = tail(spec["locationId"]) if spec.get("locationId") else None
        stocked = (
            ctx.catalog.inventory_item(item.inventory_item_id) if item.inventory_item_id else None
        )
        restocked = (
            restock == RestockType.RETURN and location_id is not None and stocked is not None
        )
        if restocked and stocked is not None and location_id is not None:
            restocks.changes.append(move_stock(stocked, location_id, spec["quantity"]))
        lines.append(
            RefundLine(
                id=ctx.state.mint_id(),
                line_item_id=item.id,
                quantity=spec["quantity"],
                restock_type=restock,
                restocked=restocked,
                location_id=location_id,
                subtotal=item.price * spec["quantity"],
            )
        )
    if restocks.changes:
        ctx.memory.adjustments.append(restocks)
    shipping = (data.get("shipping") or {}).get("amount")
    return Refund(
        id=ctx.state.mint_id(),
        note=data.get("note"),
        created_at=ctx.now,
        processed_at=ctx.now,
        lines=lines,
        shipping=parse_amount(shipping) if shipping is not None else ZERO,
        idempotency_key=key,
    )


def _add_transactions(
    ctx: RequestContext, order: Order, refund: Refund, specs: list[dict[str, Any]]
) -> None:
    parents = [
        t
        for t in order.transactions
        if t.kind in _PARENT_KINDS and t.status == TransactionStatus.SUCCESS
    ]
    for spec in specs:
        parent_id = tail(spec["parentId"]) if spec.get("parentId") else parents[0].id
        txn = Transaction(
            id=ctx.state.mint_id(),
            kind=TransactionKind.REFUND,
            status=TransactionStatus.SUCCESS,
            gateway=spec["gateway"],
            amount=parse_amount(spec["amount"]),
            processed_at=ctx.now,
            parent_id=parent_id,
            refund_id=refund.id,
        )
        order.transactions.append(txn)
        if txn.gateway == "shopify_payments" and ctx.state.world.shop.shopify_payments:
            _add_ledger_row(ctx, order, txn)


def _add_ledger_row(ctx: RequestContext, order: Order, txn: Transaction) -> None:
    """A PENDING balance transaction for a Shopify Payments refund (negative, shop money)."""
    amount = -shop_amount(order, txn.amount, txn.amount_shop)
    row = BalanceTransaction(
        id=ctx.state.mint_id(),
        type="REFUND",
        source_type="REFUND",
        source_id=txn.id,
        source_order_transaction_id=txn.id,
        order_id=order.id,
        currency=order.currency,
        amount=amount,
        fee=ZERO,
        net=amount,
        transaction_date=ctx.now,
        payout_status="PENDING",
        test=order.test,
    )
    ctx.state.world.balance_transactions.append(row)
    ctx.state.balance_by_id[row.id] = row
    ctx.catalog.balance_transactions(ctx.now).touch(row, ctx.now)


def suggest_refund(ctx: RequestContext, view: OrderView, args: dict[str, Any]) -> Node:
    """``Order.suggestedRefund`` (shopify-admin-api.md §9): amounts, caps per parent."""
    order = view.order
    specs = list(args.get("refundLineItems") or [])
    if args.get("suggestFullRefund"):
        specs = [
            {"lineItemId": li.id, "quantity": li.quantity - view.refunded_quantity(li.id)}
            for li in order.line_items
            if li.quantity > view.refunded_quantity(li.id)
        ]
    rows, pres, shop = [], ZERO, ZERO
    for spec in specs:
        item = view.lines.get(tail(spec["lineItemId"]))
        if item is None:
            continue
        qty = spec["quantity"]
        pres += item.price * qty
        shop += shop_amount(order, item.price, item.price_shop) * qty
        location = ctx.render_location(tail(spec["locationId"])) if spec.get("locationId") else None
        rows.append(
            {
                "id": None,
                "quantity": qty,
                "restockType": spec.get("restockType") or "NO_RESTOCK",
                "restocked": False,
                "location": location,
                "lineItem": view.line_item(item),
                "priceSet": bag(order, item.price, item.price_shop),
                "subtotalSet": bag(
                    order, item.price * qty, shop_amount(order, item.price, item.price_shop) * qty
                ),
                "totalTaxSet": bag(order, ZERO, ZERO),
            }
        )
    shipping = parse_amount(args["shippingAmount"]) if args.get("shippingAmount") else ZERO
    parents = remaining_by_parent(view)
    max_pres = sum((left for _, left in parents), ZERO)
    total = min(pres + shipping, max_pres)
    return {
        "amountSet": bag(
            order, total, min(shop + _to_shop(order, shipping), _to_shop(order, max_pres))
        ),
        "maximumRefundableSet": bag(order, max_pres),
        "subtotalSet": bag(order, pres, shop),
        "discountedSubtotalSet": bag(order, pres, shop),
        "totalTaxSet": bag(order, ZERO, ZERO),
        "totalCartDiscountAmountSet": bag(order, ZERO, ZERO),
        "totalDutiesSet": bag(order, ZERO, ZERO),
        "refundLineItems": rows,
        "shipping": {
            "amountSet": bag(order, shipping),
            "maximumRefundableSet": bag(order, ZERO, ZERO),
            "taxSet": bag(order, ZERO, ZERO),
        },
        "suggestedTransactions": _allocate(view, parents, total),
    }


def _to_shop(order: Order, amount: Decimal) -> Decimal:
    return quantize(amount * order.exchange_rate, order.currency)


def _allocate(
    view: OrderView, parents: list[tuple[Transaction, Decimal]], total: Decimal
) -> list[Node]:
    rows = []
    for parent, left in parents:
        if left <= 0:
            continue
        share = min(left, total)
        total -= share
        rows.append(
            {
                "kind": "SUGGESTED_REFUND",
                "gateway": parent.gateway,
                "amountSet": bag(view.order, share),
                "maximumRefundableSet": bag(view.order, left),
                "parentTransaction": view.transaction(parent),
            }
        )
    return rows


def tags_add(ctx: RequestContext, node_gid: str, tags: list[str]) -> Node:
    """``tagsAdd`` on an order (the only taggable resource in the sandbox)."""
    order = ctx.visible_order(tail(node_gid)) if "/Order/" in node_gid else None
    if order is None:
        return {"node": None, "userErrors": [_error(["id"], "Resource not found")]}
    for tag in tags:
        for part in (p.strip() for p in tag.split(",")):
            if part and part not in order.tags:
                order.tags.append(part)
    order.updated_at = ctx.now
    ctx.catalog.orders(ctx.now).touch(order, ctx.now)
    return {"node": OrderView(order, ctx.now, ctx.state.world.shop, ctx).render(), "userErrors": []}

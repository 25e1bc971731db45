"""Shopify Payments payouts and balance transactions, gift cards, and ``giftCardCreate``."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from graphql import GraphQLError

from recon.money import ZERO
from recon.sandbox.shopify.catalog import page_connection
from recon.sandbox.shopify.context import RequestContext
from recon.sandbox.shopify.render import Node, OrderView, gid, iso, money
from recon.sandbox.shopify.search import (
    Matcher,
    compare_number,
    compare_text,
    compare_time,
    matches,
    parse_query,
    time_bounds,
)
from recon.sandbox.world import BalanceTransaction, GiftCard, Payout

PAYOUTS_SCOPE = "read_shopify_payments_payouts"  # shopify-admin-api.md §3

_SUMMARY = {
    "chargesGross": "charges_gross",
    "chargesFee": "charges_fee",
    "refundsFeeGross": "refunds_fee_gross",
    "refundsFee": "refunds_fee",
    "adjustmentsGross": "adjustments_gross",
    "adjustmentsFee": "adjustments_fee",
    "reservedFundsGross": "reserved_funds_gross",
    "reservedFundsFee": "reserved_funds_fee",
    "retriedPayoutsGross": "retried_payouts_gross",
    "retriedPayoutsFee": "retried_payouts_fee",
    "advanceGross": "advance_gross",
    "advanceFees": "advance_fees",
    "usdcRebateCreditAmount": "usdc_rebate_credit_amount",
}
_CODE = re.compile(r"^[A-Za-z0-9]*$")


def render_payout(ctx: RequestContext, payout: Payout) -> Node:
    """A payout; ``summary.refundsFeeGross`` is negative (money out) unless the sandbox's
    ``payout_refunds_positive`` switch sends it positive: its live sign is unverified."""
    summary = {
        name: money(getattr(payout.summary, attr), payout.currency)
        for name, attr in _SUMMARY.items()
    }
    if ctx.state.faults.payout_refunds_positive:
        summary["refundsFeeGross"] = money(abs(payout.summary.refunds_fee_gross), payout.currency)
    return {
        "__typename": "ShopifyPaymentsPayout",
        "id": gid("ShopifyPaymentsPayout", payout.id),
        "legacyResourceId": payout.id,
        "issuedAt": iso(payout.issued_at),
        "status": payout.status.value,
        "transactionType": payout.transaction_type,
        "net": money(payout.net, payout.currency),
        "summary": summary,
    }


def render_balance(ctx: RequestContext, row: BalanceTransaction) -> Node:
    order = ctx.visible_order(row.order_id) if row.order_id else None
    return {
        "__typename": "ShopifyPaymentsBalanceTransaction",
        "id": gid("ShopifyPaymentsBalanceTransaction", row.id),
        "type": row.type,
        "test": row.test,
        "transactionDate": iso(row.transaction_date),
        "sourceType": row.source_type,
        "sourceId": row.source_id,  # BigInt: a string of digits
        "sourceOrderTransactionId": row.source_order_transaction_id,
        "adjustmentReason": None,
        "amount": money(row.amount, row.currency),
        "fee": money(row.fee, row.currency),
        "net": money(row.net, row.currency),
        "associatedOrder": None
        if order is None
        else {"id": gid("Order", order.id), "name": order.name},
        "associatedPayout": {
            "id": gid("ShopifyPaymentsPayout", row.payout_id) if row.payout_id else None,
            "status": row.payout_status,
        },
    }


def render_gift_card(ctx: RequestContext, card: GiftCard) -> Node:
    order = ctx.visible_order(card.order_id) if card.order_id else None
    return {
        "__typename": "GiftCard",
        "id": gid("GiftCard", card.id),
        "createdAt": iso(card.created_at),
        "updatedAt": iso(card.created_at),
        "note": card.note,
        "lastCharacters": card.last_characters,
        "enabled": card.enabled,
        "initialValue": money(card.initial_value, card.currency),
        "balance": money(card.balance, card.currency),
        "customer": {"id": gid("Customer", card.customer_id)} if card.customer_id else None,
        "order": None
        if order is None
        else OrderView(order, ctx.now, ctx.state.world.shop, ctx).render(),
    }


PAYOUT_FIELDS: dict[str, Matcher] = {
    "issued_at": lambda p, t: compare_time(p.issued_at, t),
    "status": lambda p, t: compare_text(p.status.value, t),
    "id": lambda p, t: compare_number(int(p.id), t),
    "currency": lambda p, t: compare_text(p.currency, t),
}


def _balance_fields(ctx: RequestContext) -> dict[str, Matcher]:
    def payout_date(row: Any, term: Any) -> bool:
        payout = ctx.state.payouts_by_id.get(row.payout_id) if row.payout_id else None
        return payout is not None and compare_time(payout.issued_at, term)

    return {
        "processed_at": lambda b, t: compare_time(b.transaction_date, t),
        "payout_status": lambda b, t: compare_text(b.payout_status, t),
        "payout_date": payout_date,
        "transaction_type": lambda b, t: compare_text(b.type, t),
        "id": lambda b, t: compare_number(int(b.id), t),
        "currency": lambda b, t: compare_text(b.currency, t),
    }


GIFT_CARD_FIELDS: dict[str, Matcher] = {
    "created_at": lambda g, t: compare_time(g.created_at, t),
    "source": lambda g, t: compare_text(g.source, t),
    "id": lambda g, t: compare_number(int(g.id), t),
    "status": lambda g, t: compare_text("enabled" if g.enabled else "disabled", t),
}


def access_denied(what: str) -> GraphQLError:
    """Shopify's ACCESS_DENIED for a read that needs the payouts scope (wording unverified, §16)."""
    return GraphQLError(
        f"Access denied for {what}. Required access: `{PAYOUTS_SCOPE}` access scope.",
        extensions={
            "code": "ACCESS_DENIED",
            "documentation": "https://shopify.dev/api/usage/access-scopes",
            "requiredAccess": f"`{PAYOUTS_SCOPE}` access scope.",
        },
    )


def resolve_payments_account(ctx: RequestContext) -> Node | None:
    """``QueryRoot.shopifyPaymentsAccount``: null for a shop without Shopify Payments.

    Raises:
        GraphQLError: ACCESS_DENIED without ``read_shopify_payments_payouts``: the field is null
            and the error sits beside the rest of the data (partial data, shopify-admin-api.md §16).
    """
    if not ctx.has_scope(PAYOUTS_SCOPE):
        raise access_denied("shopifyPaymentsAccount field")
    if not ctx.state.world.shop.shopify_payments:
        return None

    def payouts(info: Any, **args: Any) -> Node:
        query = parse_query(args.get("query"))
        bounds = (
            time_bounds(query, "issued_at")
            if args.get("sortKey", "ISSUED_AT") == "ISSUED_AT"
            else (None, None)
        )
        return page_connection(
            ctx.catalog.payouts(ctx.now),
            args,
            "ISSUED_AT",
            accept=lambda p: matches(p, query, PAYOUT_FIELDS),
            render=lambda p: render_payout(ctx, p),
            bounds=bounds,
        )

    def balance(info: Any, **args: Any) -> Node:
        query = parse_query(args.get("query"))
        fields = _balance_fields(ctx)
        sort_key = args.get("sortKey", "PROCESSED_AT")
        bounds = time_bounds(query, "processed_at") if sort_key == "PROCESSED_AT" else (None, None)
        return page_connection(
            ctx.catalog.balance_transactions(ctx.now),
            args,
            "PROCESSED_AT",
            accept=lambda b: matches(b, query, fields),
            render=lambda b: render_balance(ctx, b),
            bounds=bounds,
        )

    return {
        "id": gid("ShopifyPaymentsAccount", "1"),
        "payouts": payouts,
        "balanceTransactions": balance,
    }


def resolve_gift_cards(ctx: RequestContext, args: dict[str, Any]) -> Node:
    """``QueryRoot.giftCards``.

    Raises:
        GraphQLError: for bad page sizes or cursors.
    """
    query = parse_query(args.get("query"))
    sort_key = args.get("sortKey", "ID")
    bounds = time_bounds(query, "created_at") if sort_key == "CREATED_AT" else (None, None)
    return page_connection(
        ctx.catalog.gift_cards(ctx.now),
        args,
        "ID",
        accept=lambda g: matches(g, query, GIFT_CARD_FIELDS),
        render=lambda g: render_gift_card(ctx, g),
        bounds=bounds,
    )


def gift_card_create(ctx: RequestContext, data: dict[str, Any]) -> Node:
    """``giftCardCreate`` (no idempotency: shopify-admin-api.md §12)."""
    value = Decimal(str(data["initialValue"]))
    code = data.get("code")
    errors: list[Node] = []
    if value <= ZERO:
        errors.append(
            _gift_error("GREATER_THAN", "initialValue", "Initial value must be greater than 0")
        )
    if code is not None:
        if len(code) < 8:
            errors.append(
                _gift_error("TOO_SHORT", "code", "Code is too short (minimum is 8 characters)")
            )
        elif len(code) > 20:
            errors.append(
                _gift_error("TOO_LONG", "code", "Code is too long (maximum is 20 characters)")
            )
        elif not _CODE.match(code):
            errors.append(
                _gift_error("INVALID", "code", "Code can only contain letters and digits")
            )
    if errors:
        return {"giftCard": None, "giftCardCode": None, "userErrors": errors}
    card_id = ctx.state.mint_id()
    full_code = code or f"RC{int(card_id):014d}"[-16:]
    card = GiftCard(
        id=card_id,
        created_at=ctx.now,
        note=data.get("note"),
        initial_value=value,
        balance=value,
        currency=ctx.state.world.shop.currency,
        customer_id=(data.get("customerId") or "").rsplit("/", 1)[-1] or None,
        source="api_client",
        last_characters=full_code[-4:].lower(),
    )
    ctx.state.world.gift_cards.append(card)
    ctx.catalog.gift_cards(ctx.now).touch(card, ctx.now)
    return {"giftCard": render_gift_card(ctx, card), "giftCardCode": full_code, "userErrors": []}


def _gift_error(code: str, field: str, message: str) -> Node:
    return {"code": code, "field": ["input", field], "message": message}


def _by_id(
    pick: Callable[[RequestContext], Any],
    render: Callable[[RequestContext, Any], Node],
    *,
    payouts_scope: bool = False,
) -> Any:
    """A node resolver; payments records need the payouts scope, like the account field.

    Raises:
        GraphQLError: ACCESS_DENIED for a payments record without
            ``read_shopify_payments_payouts`` (the node is null and the error names it; the
            affected-field behaviour is unverified, §16).
    """

    def resolve(ctx: RequestContext, record_id: str) -> Node | None:
        if payouts_scope and not ctx.has_scope(PAYOUTS_SCOPE):
            raise access_denied("node field")
        record = pick(ctx).by_id.get(int(record_id))
        return None if record is None else render(ctx, record)

    return resolve


NODE_RESOLVERS = {
    "ShopifyPaymentsPayout": _by_id(
        lambda c: c.catalog.payouts(c.now), render_payout, payouts_scope=True
    ),
    "ShopifyPaymentsBalanceTransaction": _by_id(
        lambda c: c.catalog.balance_transactions(c.now), render_balance, payouts_scope=True
    ),
    "GiftCard": _by_id(lambda c: c.catalog.gift_cards(c.now), render_gift_card),
}

"""QueryRoot resolvers for orders: ``orders``, ``order``, ``node``, ``nodes``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLError

from recon.sandbox.shopify import resolvers_inventory, resolvers_payments
from recon.sandbox.shopify.catalog import page_connection
from recon.sandbox.shopify.context import RequestContext
from recon.sandbox.shopify.render import Node, OrderView
from recon.sandbox.shopify.search import (
    MAX_PAGE,
    Matcher,
    Query,
    Term,
    compare_number,
    compare_text,
    compare_time,
    matches,
    parse_query,
    time_bounds,
)

# Sort key → the search field it orders by, so a range on that field becomes a bisect.
_SORT_FIELD = {
    "UPDATED_AT": "updated_at",
    "CREATED_AT": "created_at",
    "PROCESSED_AT": "processed_at",
}


def _status(view: OrderView, term: Term) -> bool:
    order = view.order
    closed = order.closed_at is not None and order.closed_at <= view.now
    cancelled = order.cancelled_at is not None and order.cancelled_at <= view.now
    wanted = term.value.lower()
    return {
        "open": not closed and not cancelled,
        "closed": closed,
        "cancelled": cancelled,
        "not_closed": not closed,
    }.get(wanted, False)


ORDER_FIELDS: dict[str, Matcher] = {
    "updated_at": lambda v, t: compare_time(v.updated_at(), t),
    "created_at": lambda v, t: compare_time(v.order.created_at, t),
    "processed_at": lambda v, t: compare_time(
        v.order.processed_at or v.order.created_at,
        t,
    ),
    "financial_status": lambda v, t: compare_text(v.financial_status(), t),
    "return_status": lambda v, t: compare_text(v.return_status(), t),
    "id": lambda v, t: compare_number(int(v.order.id), t),
    "name": lambda v, t: v.order.name.lstrip("#") == t.value.lstrip("#"),
    "tag": lambda v, t: t.value.lower() in (x.lower() for x in v.order.tags),
    "test": lambda v, t: str(v.order.test).lower() == t.value.lower(),
    "status": lambda v, t: _status(v, t),
    "sku": lambda v, t: any(li.sku == t.value for li in v.order.line_items),
    "gateway": lambda v, t: any(x.gateway == t.value for x in v.transactions),
}


def resolve_orders(ctx: RequestContext, args: dict[str, Any]) -> Node:
    """``QueryRoot.orders``.

    Raises:
        GraphQLError: for bad page sizes or cursors.
    """
    query: Query = parse_query(args.get("query"))
    sort_key = str(args.get("sortKey") or "PROCESSED_AT")
    field = _SORT_FIELD.get(sort_key)
    bounds = time_bounds(query, field) if field else (None, None)
    table = ctx.catalog.orders(ctx.now)
    views: dict[str, OrderView] = {}

    def view(order: Any) -> OrderView:
        if order.id not in views:
            views[order.id] = OrderView(order, ctx.now, ctx.state.world.shop, ctx)
        return views[order.id]

    return page_connection(
        table,
        args,
        "PROCESSED_AT",
        accept=lambda order: ctx.order_visible(order) and matches(view(order), query, ORDER_FIELDS),
        render=lambda order: view(order).render(),
        bounds=bounds,
    )


def resolve_order(ctx: RequestContext, order_gid: str) -> Node | None:
    order = ctx.visible_order(_tail(order_gid, "Order") or "")
    return None if order is None else OrderView(order, ctx.now, ctx.state.world.shop, ctx).render()


def resolve_node(ctx: RequestContext, node_gid: str) -> Node | None:
    """Any supported object by GID; unknown, malformed or not-yet-visible ids resolve to null."""
    kind, _, record_id = node_gid.removeprefix("gid://shopify/").partition("/")
    record_id = record_id.split("?", 1)[0]
    if not record_id.isdigit():
        return None
    resolver = _NODE_RESOLVERS.get(kind)
    return None if resolver is None else resolver(ctx, record_id)


def resolve_nodes(ctx: RequestContext, ids: list[str]) -> list[Node | GraphQLError | None]:
    """``QueryRoot.nodes``: results in input order, null where an id does not resolve; with
    ``faults.shopify_nodes_omit_nulls`` those ids are left out of the list instead (§6: which
    one Shopify does is unverified). An item that failed keeps its place (its error names it).

    Raises:
        GraphQLError: for more than 250 ids (shopify-admin-api.md §1: input arrays max 250).
    """
    if len(ids) > MAX_PAGE:
        raise GraphQLError(
            f"The input array size of {len(ids)} is greater than the maximum allowed of {MAX_PAGE}."
        )
    items = [_node_or_error(ctx, node_id) for node_id in ids]
    if ctx.state.faults.shopify_nodes_omit_nulls:
        return [item for item in items if item is not None]
    return items


def _node_or_error(ctx: RequestContext, node_id: str) -> Node | GraphQLError | None:
    """One ``nodes`` item; an error becomes that item's null and its own entry in ``errors``."""
    try:
        return resolve_node(ctx, node_id)
    except GraphQLError as error:
        return error  # graphql-core raises a returned error at the item's path


def _tail(value: str, kind: str) -> str | None:
    prefix = f"gid://shopify/{kind}/"
    return value[len(prefix) :] if value.startswith(prefix) else None


def _child(kind: str, method: str) -> Callable[[RequestContext, str], Node | None]:
    def resolve(ctx: RequestContext, record_id: str) -> Node | None:
        order = ctx.catalog.owner(kind, record_id)
        if order is None or not ctx.order_visible(order):
            return None
        view = OrderView(order, ctx.now, ctx.state.world.shop, ctx)
        pools: dict[str, list[Any]] = {
            "LineItem": order.line_items,
            "Refund": view.refunds,
            "OrderTransaction": view.transactions,
            "Return": view.returns,
        }
        record = next((r for r in pools[kind] if r.id == record_id), None)
        return None if record is None else getattr(view, method)(record)

    return resolve


_NODE_RESOLVERS: dict[str, Callable[[RequestContext, str], Node | None]] = {
    "Order": lambda ctx, rid: resolve_order(ctx, f"gid://shopify/Order/{rid}"),
    "LineItem": _child("LineItem", "line_item"),
    "Refund": _child("Refund", "refund"),
    "OrderTransaction": _child("OrderTransaction", "transaction"),
    "Return": _child("Return", "shopify_return"),
    **resolvers_payments.NODE_RESOLVERS,
    **resolvers_inventory.NODE_RESOLVERS,
}

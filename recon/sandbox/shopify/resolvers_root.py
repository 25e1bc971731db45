"""The root value: QueryRoot and Mutation fields wired to their resolvers for one request."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo
from graphql.execution.values import get_directive_values

from recon.sandbox.shopify.context import RequestContext
from recon.sandbox.shopify.resolvers_inventory import (
    adjust_quantities,
    resolve_inventory_item,
    resolve_location,
)
from recon.sandbox.shopify.resolvers_orders import (
    resolve_node,
    resolve_nodes,
    resolve_order,
    resolve_orders,
)
from recon.sandbox.shopify.resolvers_payments import (
    gift_card_create,
    resolve_gift_cards,
    resolve_payments_account,
)
from recon.sandbox.shopify.resolvers_refunds import refund_create, tags_add


def idempotency_key(info: GraphQLResolveInfo) -> str | None:
    """The ``@idempotent(key:)`` on the mutation field being resolved, if any."""
    directive = info.schema.get_directive("idempotent")
    assert directive is not None
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    return None if values is None else str(values["key"])


def root_value(ctx: RequestContext) -> dict[str, Any]:
    """Root fields as callables; graphql-core's default resolver calls them with the arguments."""
    return {
        "orders": lambda info, **a: resolve_orders(ctx, a),
        "order": lambda info, id: resolve_order(ctx, id),
        "nodes": lambda info, ids: resolve_nodes(ctx, ids),
        "node": lambda info, id: resolve_node(ctx, id),
        "giftCards": lambda info, **a: resolve_gift_cards(ctx, a),
        "shopifyPaymentsAccount": lambda info: resolve_payments_account(ctx),
        "inventoryItem": lambda info, id: resolve_inventory_item(ctx, id),
        "location": lambda info, id=None: resolve_location(ctx, id),
        "refundCreate": lambda info, input: refund_create(ctx, input, idempotency_key(info)),
        "inventoryAdjustQuantities": lambda info, input: adjust_quantities(
            ctx, input, idempotency_key(info)
        ),
        "tagsAdd": lambda info, id, tags: tags_add(ctx, id, tags),
        "giftCardCreate": lambda info, input: gift_card_create(ctx, input),
        "currentAppInstallation": lambda info: app_installation(ctx),
    }


def app_installation(ctx: RequestContext) -> dict[str, Any]:
    """``QueryRoot.currentAppInstallation``: recon's app and the scopes the shop granted it."""
    return {
        "id": "gid://shopify/AppInstallation/1",
        "accessScopes": [
            {"handle": scope, "description": f"{scope.replace('_', ' ').capitalize()}."}
            for scope in ctx.state.world.shop.scopes
        ],
    }

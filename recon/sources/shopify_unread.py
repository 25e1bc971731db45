"""Quarantine entries for Shopify records recon could not read, or not read whole.

A record read in part (its refund list cut short, its order gone before its last page) is kept
for review, never stored as if read cleanly: stored, it would resolve an open entry of the same
record while some of it is still unread (``recon.store.quarantine``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recon.models import (
    BALANCE_NOT_VISIBLE,
    NODES_SHAPE_FIELD,
    ORDER_NOT_VISIBLE,
    REFUND_NOT_VISIBLE,
    Quarantined,
)
from recon.sources.shopify_answers import Misshapen, PartRead

NOT_VISIBLE = ORDER_NOT_VISIBLE  # the name the client and its tests import


def not_visible(kind: str, node_gid: str, reason: str) -> Quarantined:
    """A node ``nodes(ids:)`` answered null for, kept for review with why it matters."""
    return Quarantined(
        source="shopify",
        kind=kind,
        record_id=node_gid.rsplit("/", 1)[-1],
        field="$",
        reason=reason,
        raw={"id": node_gid},
    )


def misshapen(kind: str, node_gid: str, wrong: Misshapen) -> Quarantined:
    """An id asked in a ``nodes(ids:)`` call whose answer was malformed: kept for review (its
    writes held) and asked again, never taken as not visible."""
    return Quarantined(
        source="shopify",
        kind=kind,
        record_id=node_gid.rsplit("/", 1)[-1],
        field=NODES_SHAPE_FIELD,
        reason=wrong.reason,
        raw={"id": node_gid},
    )


def paged_away(kind: str, node: Mapping[str, Any], part: PartRead) -> Quarantined:
    """A node whose inner connection could not be read to its end: kept for review."""
    node_gid = str(node.get("id"))
    why = part.reason.format(field=part.field.split(".", 1)[0])
    return Quarantined(
        source="shopify",
        kind=kind,
        record_id=node_gid.rsplit("/", 1)[-1],
        field=part.field,
        reason=f"{kind} {why}: read in part, so it is not stored as if read whole",
        raw=dict(node),
    )


def past_the_list(count: int) -> str:
    """Why a refund list of ``count`` that filled its ``first`` is not all of them."""
    return (
        f"order has at least {count} refunds and Order.refunds cannot be read past {count} "
        "(a plain list without paging, shopify-admin-api.md §7): some refunds are missing"
    )


def refund_ids(refunds: Sequence[Any]) -> set[str]:
    """The ids in a refund list as Shopify answered it."""
    return {str(r.get("id")) for r in refunds if isinstance(r, Mapping)}


def refunds_incomplete(node: Mapping[str, Any], reason: str) -> Quarantined:
    """An order whose refund list could not be read whole, and why (``reason``)."""
    order_gid = str(node.get("id"))
    return Quarantined(
        source="shopify",
        kind="order",
        record_id=order_gid.rsplit("/", 1)[-1],
        field="refunds",
        reason=reason,
        raw=dict(node),
    )


__all__ = [
    "BALANCE_NOT_VISIBLE",
    "NOT_VISIBLE",
    "REFUND_NOT_VISIBLE",
    "misshapen",
    "not_visible",
    "paged_away",
    "past_the_list",
    "refund_ids",
    "refunds_incomplete",
]

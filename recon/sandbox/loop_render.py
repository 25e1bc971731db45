"""Render world Loop returns as Loop's JSON: the list item and the Get Return Details shapes.

Shapes follow ``reference/examples/loop/`` key for key (``return-closed-refund.json`` for the
list item, ``return-details.json`` for details) and ``reference/loop-returns-api.md`` §10. Fields
the world does not model take fixed, plausible defaults, so every payload has the full key set.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from recon.sandbox.state import SandboxState
from recon.sandbox.world_loop import LoopLineItem, LoopRefund, LoopReturn

_CENT = Decimal("0.01")
_LABEL_RATE = 6.1  # label postage is not money recon reconciles; Loop sends it as a JSON number
_STATUS_PAGE_NAMESPACE = uuid.UUID("6f1c64a0-4a43-4d1e-9a63-2f1f3f6f0c5e")


def money(amount: Decimal) -> str:
    """Loop money: a string with two decimals (§1, "63.30")."""
    return str(amount.quantize(_CENT, rounding=ROUND_HALF_EVEN))


def list_timestamp(moment: datetime) -> str:
    """List-item timestamps: ``2024-03-01T10:00:00.000Z`` (UTC, milliseconds)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def plain_timestamp(moment: datetime) -> str:
    """Details and ``shopify_refund_object`` timestamps: ``2024-03-05 14:22:12``, zone-less UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def plain_processed_form(return_id: str) -> bool:
    """Whether this return's ``outcomes_processed_at.*`` use the plain-string form.

    §10.3/§14: one description shows PHP DateTime objects, other clients plain timestamps; which
    an account gets is unverified, so the sandbox serves both, by a fixed rule on the id (a
    quarter of returns, ids ending 3 mod 4), and the client must parse either.
    """
    return return_id.isdigit() and int(return_id) % 4 == 3


def _processed(moment: datetime | None, *, plain: bool) -> dict[str, Any] | str | None:
    """One ``outcomes_processed_at.*`` value: null, ``"2024-03-05 14:22:12"`` or the object form."""
    if moment is None:
        return None
    if plain:
        return plain_timestamp(moment)
    date = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return {"date": date, "timezone_type": 3, "timezone": "UTC"}


def _outcomes_processed(ret: LoopReturn) -> dict[str, Any]:
    plain = plain_processed_form(ret.id)
    return {
        "return_processed": _processed(ret.return_processed_at, plain=plain),
        "refund_processed": _processed(ret.refund_processed_at, plain=plain),
        "exchange_processed": _processed(ret.exchange_processed_at, plain=plain),
        "gift_card_processed": _processed(ret.gift_card_processed_at, plain=plain),
        "shop_cash_processed": None,
    }


def _int_or_text(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _optional_int(value: str | None) -> int | None:
    return int(value) if value is not None else None


def _order_number(ret: LoopReturn) -> str:
    digits = "".join(ch for ch in ret.order_name if ch.isdigit())
    return digits or ret.provider_order_id


class _Totals:
    """Return-level sums derived from the line items (§10.4 identities)."""

    def __init__(self, ret: LoopReturn) -> None:
        self.product = sum((li.price for li in ret.line_items), Decimal("0"))
        self.discount = sum((li.discount for li in ret.line_items), Decimal("0"))
        self.tax = sum((li.tax for li in ret.line_items), Decimal("0"))
        computed = self.product - self.discount + self.tax
        self.return_total = ret.return_total if ret.return_total is not None else computed


def _money_fields(ret: LoopReturn) -> dict[str, str]:
    totals = _Totals(ret)
    exchange = ret.exchange_credit_total
    return {
        "return_product_total": money(totals.product),
        "return_discount_total": money(totals.discount),
        "return_tax_total": money(totals.tax),
        "return_total": money(totals.return_total),
        "return_credit_total": money(totals.return_total),
        "exchange_product_total": money(exchange),
        "exchange_discount_total": money(Decimal("0")),
        "exchange_tax_total": money(Decimal("0")),
        "exchange_total": money(exchange),
        "exchange_credit_total": money(exchange),
    }


def _refund_created_at(state: SandboxState, ret: LoopReturn, refund_id: str) -> datetime:
    """When Shopify created the refund Loop points at; falls back to Loop's processing time."""
    order = state.orders_by_id.get(ret.provider_order_id)
    if order is not None:
        for refund in order.refunds:
            if refund.id == refund_id:
                return refund.created_at
    return ret.refund_processed_at or ret.updated_at


def _shopify_refund_objects(state: SandboxState, ret: LoopReturn) -> list[dict[str, Any]]:
    """``shopify_refund_object[]``: Loop's record of Shopify refunds it created (§10.3)."""
    rows: list[dict[str, Any]] = []
    linked = [r for r in ret.refunds if r.provider_refund_id]
    for index, refund in enumerate(linked):
        provider_id = refund.provider_refund_id or ""
        provider_at = _refund_created_at(state, ret, provider_id)
        rows.append(
            {
                # Loop's own row id: not in the world; derived so it is stable across requests.
                "id": int(ret.id) * 100 + index + 1,
                "return_id": int(ret.id),
                "provider_refund_id": _int_or_text(provider_id),
                "provider_created_at": plain_timestamp(provider_at),
                "created_at": plain_timestamp(provider_at),
                "updated_at": plain_timestamp(provider_at),
            }
        )
    return rows


def _list_line_item(item: LoopLineItem) -> dict[str, Any]:
    return {
        "line_item_id": item.line_item_id,
        "provider_line_item_id": item.provider_line_item_id,
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "sku": item.sku,
        "title": item.title,
        "price": money(item.price),
        "discount": money(item.discount),
        "tax": money(item.tax),
        "refund": money(item.refund),
        "refund_item": money(item.refund - item.tax),
        "refund_tax": money(item.tax),
        "returned_at": list_timestamp(item.returned_at),
        "exchange_variant": "",
        "return_reason": item.return_reason,
        "parent_return_reason": "",
        "return_comment": "",
        "barcode": "",
        "outcome": item.outcome,
        "provider_restock_location_id": item.provider_restock_location_id,
        "consolidation_tracking": None,
        "consolidation_destination_id": None,
        "condition": item.condition,
        "disposition": item.disposition,
    }


def _label_fields(ret: LoopReturn) -> dict[str, Any]:
    """Label fields; a return has a label once it carries a tracking number."""
    has_label = bool(ret.tracking_number) and ret.tracking_number != "N/A"
    url = f"https://labels.sandbox.invalid/{ret.id}.pdf" if has_label else None
    labels = []
    if has_label:
        labels.append(
            {
                "status": ret.label_status,
                "updated_at": list_timestamp(ret.updated_at),
                "url": url,
                "rate": _LABEL_RATE,
                "carrier": ret.carrier,
                "tracking_number": ret.tracking_number,
                "line_items": [int(li.line_item_id) for li in ret.line_items],
            }
        )
    return {
        "carrier": ret.carrier,
        "tracking_number": ret.tracking_number,
        "label_status": ret.label_status,
        "label_url": url,
        "label_rate": _LABEL_RATE if has_label else 0.0,
        "label_updated_at": list_timestamp(ret.updated_at) if has_label else None,
        "labels": labels,
    }


def render_list_item(ret: LoopReturn, state: SandboxState) -> dict[str, Any]:
    """One item of ``GET /warehouse/return/list``, shaped like ``return-closed-refund.json``."""
    order_number = _order_number(ret)
    status_id = uuid.uuid5(_STATUS_PAGE_NAMESPACE, ret.id)
    item: dict[str, Any] = {
        "id": ret.id,
        "state": ret.state.value,
        "created_at": list_timestamp(ret.created_at),
        "updated_at": list_timestamp(ret.updated_at),
        "edited_at": None,
        "total": money(ret.total),
        "outcome": ret.outcome,
        "order_id": ret.order_id,
        "order_name": ret.order_name,
        "provider_order_id": ret.provider_order_id,
        "order_number": order_number,
        "provider_order_number": order_number,
        "customer": ret.customer,
        "origin_country": "United States",
        "origin_country_code": "US",
        "multi_currency": ret.multi_currency,
        "currency": ret.currency,
        **_money_fields(ret),
        "gift_card": money(ret.gift_card),
        "gift_card_order_name": None,
        "gift_card_order_id": None,
        "handling_fee": money(ret.handling_fee),
        "refund": money(ret.refund),
        "upsell": money(Decimal("0")),
        "refund_before_inspection": ret.refund_before_inspection,
        "was_processed": ret.was_processed,
        # §10.1 (observed): shipping refunded as a "reimbursement"; the world models none.
        "refund_shipping_total": money(Decimal("0")),
        "refund_shipping_tax_total": money(Decimal("0")),
        "outcomes_processed_at": _outcomes_processed(ret),
        "shopify_refund_object": _shopify_refund_objects(state, ret),
        "line_items": [_list_line_item(li) for li in ret.line_items],
        "exchanges": [],
        **_label_fields(ret),
        "status_page_url": f"https://sandbox.loopreturns.invalid/#/return/{status_id}",
        "destination_id": _optional_int(ret.destination_id),
        "return_method": None,
        "package_reference": None,
        "type": ret.type,
    }
    if state.faults.loop_omit_refund_object:
        # §10.1/§10.3: shopify_refund_object[] is only observed; an account may not send it, and
        # then the refund linkage is on the details endpoint's refunds[] alone.
        del item["shopify_refund_object"]
    if state.faults.loop_php_nulls:
        _as_php_would(item)
    return item


def _as_php_would(item: dict[str, Any]) -> None:
    """No fee as ``null``, and an ``outcomes_processed_at`` with nothing processed as ``[]``.

    Loop is a PHP (Laravel) service: whether a field with no value comes as null or a value is
    not settled by the reference, and ``json_encode`` writes an associative array with no keys
    as ``[]``. The sandbox can serve both so the client is tested with each.
    """
    if item["handling_fee"] == money(Decimal("0")):
        item["handling_fee"] = None
    if not any(item["outcomes_processed_at"].values()):
        item["outcomes_processed_at"] = []


def _details_refund(refund: LoopRefund) -> dict[str, Any]:
    return {
        "gateway": refund.gateway,
        "amount": money(refund.amount),
        "currency": refund.currency,
        "provider_refund_id": refund.provider_refund_id,
        "provider": refund.provider,
    }


def _details_line_item(item: LoopLineItem) -> dict[str, Any]:
    # Details split the list title "Product - Variant" into its parts (return-details.json).
    product_title, _, variant_title = item.title.partition(" - ")
    return {
        "line_item_id": int(item.line_item_id),
        "provider_line_item_id": int(item.provider_line_item_id),
        "product_id": _optional_int(item.product_id),
        "variant_id": _optional_int(item.variant_id),
        "sku": item.sku,
        "line_item_title": product_title,
        "variant_title": variant_title,
        "title": product_title,
        "image": f"https://images.sandbox.invalid/{item.variant_id or item.line_item_id}.jpg",
        "price": money(item.price),
        "discount": money(item.discount),
        "tax": money(item.tax),
        "refund": money(item.refund),
        # Loop's own details example keeps the list format here (return-details.json).
        "returned_at": list_timestamp(item.returned_at),
        "exchange_variant": "",
        "barcode": "",
        "provider_restock_location_id": item.provider_restock_location_id,
        "consolidation_tracking": None,
    }


def render_details(ret: LoopReturn) -> dict[str, Any]:
    """``GET /warehouse/return/details``: integer ids, zone-less timestamps, ``refunds[]`` (§7)."""
    order_number = _order_number(ret)
    money_fields = _money_fields(ret)
    return {
        "id": int(ret.id),
        "created_at": plain_timestamp(ret.created_at),
        "updated_at": plain_timestamp(ret.updated_at),
        "edited_at": None,
        "order_id": int(ret.order_id),
        "order_name": ret.order_name,
        "order_number": order_number,
        "provider_order_number": _int_or_text(order_number),
        "provider_order_id": int(ret.provider_order_id),
        "total": money(ret.total),
        "customer": ret.customer,
        "multi_currency": ret.multi_currency,
        "state": ret.state.value,
        "currency": ret.currency,
        "exchange": None,
        "exchange_order_name": None,
        "exchange_order_id": None,
        "gift_card_order_name": None,
        "gift_card_order_id": None,
        "gift_card": money(ret.gift_card),
        "refund": money(ret.refund),
        "refunds": [_details_refund(r) for r in ret.refunds],
        **{k: money_fields[k] for k in list(money_fields)[:5]},
        "handling_fee": money(ret.handling_fee),
        **{k: money_fields[k] for k in list(money_fields)[5:]},
        "upsell": money(Decimal("0")),
        "line_items": [_details_line_item(li) for li in ret.line_items],
    }

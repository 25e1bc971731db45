"""Lenient parsing of Shopify GraphQL nodes into typed records, or ``Quarantined`` entries.

Money comes as ``MoneyV2``/``MoneyBag`` strings (shopify-admin-api.md §4); ids are GIDs reduced to
their numeric tail. A node that cannot be trusted is quarantined with the field that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from recon.models import (
    CLEANED,
    BalanceTransactionRecord,
    GiftCardRecord,
    OrderLine,
    OrderRecord,
    OrderStamp,
    PayoutRecord,
    Quarantined,
    RefundLineRecord,
    RefundRecord,
    TransactionRecord,
)
from recon.sources.parsing import (
    MAX_TEXT,
    BadFieldError,
    as_bool,
    as_currency,
    as_enum,
    as_id,
    as_list,
    as_mapping,
    as_money,
    as_quantity,
    as_text,
    as_time,
    collecting_notes,
    find_overlong_text,
    note_cleaned,
    opt_id,
    opt_numeric_id,
    opt_text,
    opt_time,
)

T = TypeVar("T")
# The enums recon's money and stock logic reads, as in both supported schema versions
# (reference/schema/shopify-admin-2026-01.graphql and -2026-04.graphql).
TRANSACTION_KINDS = frozenset(
    [
        "SALE",
        "CAPTURE",
        "AUTHORIZATION",
        "VOID",
        "REFUND",
        "CHANGE",
        "EMV_AUTHORIZATION",
        "SUGGESTED_REFUND",
    ]
)
TRANSACTION_STATUSES = frozenset(
    ["SUCCESS", "FAILURE", "PENDING", "ERROR", "AWAITING_RESPONSE", "UNKNOWN"]
)
RESTOCK_TYPES = frozenset({"RETURN", "CANCEL", "LEGACY_RESTOCK", "NO_RESTOCK"})


def quarantine_or(
    kind: str, node: object, build: Callable[[Mapping[str, Any]], T]
) -> T | Quarantined:
    """Run ``build`` on a node; a ``BadFieldError`` becomes a ``Quarantined`` entry of ``kind``."""
    return parse_items(kind, node, build)[0]


def parse_items(
    kind: str, node: object, build: Callable[[Mapping[str, Any]], T]
) -> list[T | Quarantined]:
    """``[record, *notes]`` when the node is usable (notes: free text that was cleaned, listed
    for review), or ``[quarantined]`` when an id, amount, currency or timestamp is bad."""
    if not isinstance(node, Mapping):
        return [
            Quarantined(
                source="shopify",
                kind=kind,
                record_id=None,
                field="$",
                reason=f"expected an object, got {type(node).__name__}",
                raw={"value": repr(node)[:1000]},
            )
        ]
    raw = dict(node)
    record_id = _record_id(raw)
    with collecting_notes() as notes:
        try:
            overlong = find_overlong_text(raw)
            if overlong is not None:  # in a field recon does not read: the record stays usable
                note_cleaned(overlong, f"text longer than {MAX_TEXT} characters (kept in raw)")
            record = build(raw)
        except BadFieldError as bad:
            return [
                Quarantined(
                    source="shopify",
                    kind=kind,
                    record_id=record_id,
                    field=bad.field,
                    reason=bad.reason,
                    raw=raw,
                )
            ]
    merged: dict[str, str] = {}
    for field, reason in notes:
        merged[field] = f"{merged[field]}; {reason}" if field in merged else reason
    cleaned: list[T | Quarantined] = [
        Quarantined(
            source="shopify",
            kind=kind,
            record_id=record_id,
            field=field,
            reason=f"{CLEANED}{reason}",
            raw=raw,
        )
        for field, reason in merged.items()
    ]
    return [record, *cleaned]


def _record_id(raw: Mapping[str, Any]) -> str | None:
    try:
        return as_id(raw.get("id"), "id")
    except BadFieldError:
        return None


def money(value: object, path: str) -> tuple[Decimal, str]:
    """A ``MoneyV2`` → (amount, currency).

    Raises:
        BadFieldError: for a missing object, a bad amount or an unknown currency.
    """
    bag = as_mapping(value, path)
    if not bag:
        raise BadFieldError(path, "missing money")
    return as_money(bag.get("amount"), f"{path}.amount"), as_currency(
        bag.get("currencyCode"), f"{path}.currencyCode"
    )


def _ref_id(value: object, path: str) -> str | None:
    """The id of a ``{ id }`` reference, or None."""
    return opt_id(as_mapping(value, path).get("id"), f"{path}.id")


def _nodes(connection: object, path: str) -> list[Any]:
    """The ``nodes`` of a connection (or ``edges[].node``), or a plain list."""
    if isinstance(connection, list):
        return connection
    conn = as_mapping(connection, path)
    if "nodes" in conn:
        return as_list(conn["nodes"], f"{path}.nodes")
    return [
        as_mapping(edge, f"{path}.edges").get("node") for edge in as_list(conn.get("edges"), path)
    ]


def parse_order(node: Mapping[str, Any], extra_lines: Sequence[Any] = ()) -> OrderRecord:
    """An ``Order`` node → ``OrderRecord``.

    Raises:
        BadFieldError: naming the first field that cannot be trusted.
    """
    lines = [*_nodes(node.get("lineItems"), "lineItems"), *extra_lines]
    return OrderRecord(
        id=as_id(node.get("id"), "id"),
        name=opt_text(node.get("name"), "name", single_line=True, clean=True) or "",
        created_at=opt_time(node.get("createdAt"), "createdAt"),
        updated_at=as_time(node.get("updatedAt"), "updatedAt"),
        cancelled_at=opt_time(node.get("cancelledAt"), "cancelledAt"),
        test=as_bool(node.get("test"), "test"),
        currency=as_currency(node.get("currencyCode"), "currencyCode"),
        presentment_currency=as_currency(
            node.get("presentmentCurrencyCode"), "presentmentCurrencyCode"
        ),
        financial_status=opt_text(
            node.get("displayFinancialStatus"), "displayFinancialStatus", single_line=True
        ),
        return_status=opt_text(node.get("returnStatus"), "returnStatus", single_line=True),
        tags=tuple(
            opt_text(tag, f"tags[{index}]", single_line=True, clean=True) or ""
            for index, tag in enumerate(as_list(node.get("tags"), "tags"))
        ),
        lines=tuple(_order_line(line, f"lineItems[{i}]") for i, line in enumerate(lines)),
        refund_ids=tuple(
            as_id(as_mapping(refund, f"refunds[{i}]").get("id"), f"refunds[{i}].id")
            for i, refund in enumerate(as_list(node.get("refunds"), "refunds"))
        ),
        raw=dict(node),
    )


def _order_line(value: object, path: str) -> OrderLine:
    line = as_mapping(value, path)
    variant = as_mapping(line.get("variant"), f"{path}.variant")
    return OrderLine(
        id=as_id(line.get("id"), f"{path}.id"),
        sku=opt_text(line.get("sku"), f"{path}.sku", single_line=True, clean=True),
        quantity=as_quantity(line.get("quantity"), f"{path}.quantity"),
        variant_id=opt_id(variant.get("id"), f"{path}.variant.id"),
        inventory_item_id=_ref_id(variant.get("inventoryItem"), f"{path}.variant.inventoryItem"),
    )


def parse_refund(
    node: Mapping[str, Any],
    extra_lines: Sequence[Any] = (),
    extra_transactions: Sequence[Any] = (),
) -> RefundRecord:
    """A ``Refund`` node (plus followed inner pages) → ``RefundRecord``.

    Raises:
        BadFieldError: naming the first field that cannot be trusted.
    """
    refund_id = as_id(node.get("id"), "id")
    order_id = _ref_id(node.get("order"), "order")
    if order_id is None:
        raise BadFieldError("order.id", "refund without an order")
    total_set = as_mapping(node.get("totalRefundedSet"), "totalRefundedSet")
    total, currency = money(total_set.get("presentmentMoney"), "totalRefundedSet.presentmentMoney")
    total_shop, shop_currency = money(total_set.get("shopMoney"), "totalRefundedSet.shopMoney")
    lines = [*_nodes(node.get("refundLineItems"), "refundLineItems"), *extra_lines]
    transactions = [*_nodes(node.get("transactions"), "transactions"), *extra_transactions]
    return RefundRecord(
        id=refund_id,
        order_id=order_id,
        note=opt_text(node.get("note"), "note", clean=True),
        created_at=opt_time(node.get("createdAt"), "createdAt"),
        processed_at=as_time(node.get("processedAt"), "processedAt"),
        total=total,
        currency=currency,
        total_shop=total_shop,
        shop_currency=shop_currency,
        lines=tuple(_refund_line(line, f"refundLineItems[{i}]") for i, line in enumerate(lines)),
        transactions=tuple(
            _transaction(tx, f"transactions[{i}]", order_id, refund_id)
            for i, tx in enumerate(transactions)
        ),
        return_id=_ref_id(node.get("return"), "return"),
        raw=dict(node),
    )


def _refund_line(value: object, path: str) -> RefundLineRecord:
    line = as_mapping(value, path)
    item = as_mapping(line.get("lineItem"), f"{path}.lineItem")
    subtotal_set = as_mapping(line.get("subtotalSet"), f"{path}.subtotalSet")
    subtotal = Decimal("0")
    if subtotal_set.get("presentmentMoney") is not None:
        subtotal, _ = money(
            subtotal_set["presentmentMoney"], f"{path}.subtotalSet.presentmentMoney"
        )
    return RefundLineRecord(
        id=opt_id(line.get("id"), f"{path}.id"),
        line_item_id=as_id(item.get("id"), f"{path}.lineItem.id"),
        sku=opt_text(item.get("sku"), f"{path}.lineItem.sku", single_line=True, clean=True),
        quantity=as_quantity(line.get("quantity"), f"{path}.quantity"),
        restock_type=as_enum(line.get("restockType"), f"{path}.restockType", RESTOCK_TYPES),
        restocked=as_bool(line.get("restocked"), f"{path}.restocked"),
        location_id=_ref_id(line.get("location"), f"{path}.location"),
        subtotal=subtotal,
    )


def _transaction(
    value: object, path: str, order_id: str, refund_id: str | None
) -> TransactionRecord:
    tx = as_mapping(value, path)
    amount_set = as_mapping(tx.get("amountSet"), f"{path}.amountSet")
    amount, currency = money(
        amount_set.get("presentmentMoney"), f"{path}.amountSet.presentmentMoney"
    )
    amount_shop, shop_currency = money(amount_set.get("shopMoney"), f"{path}.amountSet.shopMoney")
    return TransactionRecord(
        id=as_id(tx.get("id"), f"{path}.id"),
        order_id=order_id,
        refund_id=refund_id,
        kind=as_enum(tx.get("kind"), f"{path}.kind", TRANSACTION_KINDS),
        status=as_enum(tx.get("status"), f"{path}.status", TRANSACTION_STATUSES),
        gateway=opt_text(tx.get("gateway"), f"{path}.gateway", single_line=True, clean=True),
        amount=amount,
        currency=currency,
        amount_shop=amount_shop,
        shop_currency=shop_currency,
        processed_at=opt_time(tx.get("processedAt"), f"{path}.processedAt"),
        parent_id=_ref_id(tx.get("parentTransaction"), f"{path}.parentTransaction"),
        error_code=opt_text(tx.get("errorCode"), f"{path}.errorCode", single_line=True),
    )


def parse_payout(node: Mapping[str, Any]) -> PayoutRecord:
    """A ``ShopifyPaymentsPayout`` node → ``PayoutRecord`` (refunds_gross = refundsFeeGross).

    Raises:
        BadFieldError: naming the first field that cannot be trusted.
    """
    net, currency = money(node.get("net"), "net")
    summary = as_mapping(node.get("summary"), "summary")
    refunds_gross, _ = money(summary.get("refundsFeeGross"), "summary.refundsFeeGross")
    charges = summary.get("chargesGross")
    charges_gross = money(charges, "summary.chargesGross")[0] if charges else Decimal("0")
    return PayoutRecord(
        id=as_id(node.get("id"), "id"),
        issued_at=as_time(node.get("issuedAt"), "issuedAt"),
        status=as_text(node.get("status"), "status"),
        transaction_type=opt_text(node.get("transactionType"), "transactionType", single_line=True),
        currency=currency,
        net=net,
        refunds_gross=refunds_gross,
        charges_gross=charges_gross,
        raw=dict(node),
    )


def parse_balance_transaction(node: Mapping[str, Any]) -> BalanceTransactionRecord:
    """A ``ShopifyPaymentsBalanceTransaction`` node → ``BalanceTransactionRecord``.

    Raises:
        BadFieldError: naming the first field that cannot be trusted.
    """
    amount, currency = money(node.get("amount"), "amount")
    payout = as_mapping(node.get("associatedPayout"), "associatedPayout")
    return BalanceTransactionRecord(
        id=as_id(node.get("id"), "id"),
        type=as_text(node.get("type"), "type"),
        source_type=opt_text(node.get("sourceType"), "sourceType", single_line=True),
        source_id=opt_id(node.get("sourceId"), "sourceId"),
        source_order_transaction_id=opt_id(
            node.get("sourceOrderTransactionId"), "sourceOrderTransactionId"
        ),
        order_id=_ref_id(node.get("associatedOrder"), "associatedOrder"),
        amount=amount,
        fee=money(node.get("fee"), "fee")[0],
        net=money(node.get("net"), "net")[0],
        currency=currency,
        transaction_date=as_time(node.get("transactionDate"), "transactionDate"),
        payout_id=opt_id(payout.get("id"), "associatedPayout.id"),
        # PENDING: not yet in a payout (§13).
        payout_status=as_text(payout.get("status") or "PENDING", "associatedPayout.status"),
        test=as_bool(node.get("test"), "test"),
        raw=dict(node),
    )


def parse_gift_card(node: Mapping[str, Any]) -> GiftCardRecord:
    """A ``GiftCard`` node → ``GiftCardRecord``.

    Raises:
        BadFieldError: naming the first field that cannot be trusted.
    """
    value, currency = money(node.get("initialValue"), "initialValue")
    return GiftCardRecord(
        id=as_id(node.get("id"), "id"),
        created_at=as_time(node.get("createdAt"), "createdAt"),
        note=opt_text(node.get("note"), "note", clean=True),
        initial_value=value,
        currency=currency,
        order_id=_ref_id(node.get("order"), "order"),
        enabled=as_bool(node.get("enabled"), "enabled", default=True),
    )


def parse_stamp(node: object) -> OrderStamp | Quarantined:
    """An ``Order`` node of the updated-orders list (``{ id updatedAt }``) → ``OrderStamp``.

    An unreadable ``updatedAt`` does not lose the order: it counts as changed, and the full read
    (if a Loop return names it) judges the payload. An order named by an id that is not a
    Shopify id cannot be read by id (``opt_numeric_id``): it is kept for review.
    """
    raw = dict(node) if isinstance(node, Mapping) else {"value": repr(node)[:1000]}
    try:
        order_id = opt_numeric_id(raw.get("id"), "id")
        if order_id is None:
            raise BadFieldError("id", "missing id")
    except BadFieldError as bad:
        return Quarantined(
            source="shopify",
            kind="order",
            record_id=None,
            field="id" if isinstance(node, Mapping) else "$",
            reason=(
                f"the updated-orders list (OrdersUpdated) named an order recon cannot read by "
                f"id ({bad.reason}): it is read in full only if another read asks for it"
            ),
            raw=raw,
        )
    try:
        updated_at = as_time(raw.get("updatedAt"), "updatedAt")
    except BadFieldError:
        updated_at = None  # read as changed: see above
    return OrderStamp(id=order_id, updated_at=updated_at)

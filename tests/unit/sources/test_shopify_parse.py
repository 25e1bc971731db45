"""Shopify node parsing: good nodes become records; each kind of bad node is quarantined."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from recon.models import (
    BalanceTransactionRecord,
    OrderRecord,
    PayoutRecord,
    Quarantined,
    RefundRecord,
)
from recon.sources.shopify_parse import (
    parse_balance_transaction,
    parse_gift_card,
    parse_items,
    parse_order,
    parse_payout,
    parse_refund,
    quarantine_or,
)

EXAMPLES = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "examples" / "shopify"
)
MONEY = {"amount": "41.94", "currencyCode": "USD"}
REFUND: dict[str, Any] = {
    "id": "gid://shopify/Refund/929361472",
    "note": "Loop RMA #12345701",
    "createdAt": "2026-01-01T14:02:10Z",
    "processedAt": "2026-01-01T14:02:10Z",
    "order": {"id": "gid://shopify/Order/450789469"},
    "return": {"id": "gid://shopify/Return/945000954"},
    "totalRefundedSet": {"shopMoney": MONEY, "presentmentMoney": MONEY},
    "refundLineItems": {
        "nodes": [
            {
                "id": "gid://shopify/RefundLineItem/1",
                "quantity": 1,
                "restockType": "RETURN",
                "restocked": True,
                "location": {"id": "gid://shopify/Location/487838322"},
                "lineItem": {"id": "gid://shopify/LineItem/518995019", "sku": "IPOD2008RED"},
                "subtotalSet": {"presentmentMoney": MONEY},
            }
        ]
    },
    "transactions": {"nodes": []},
}


TRANSACTION: dict[str, Any] = {
    "id": "gid://shopify/OrderTransaction/1",
    "kind": "REFUND",
    "status": "SUCCESS",
    "gateway": "shopify_payments",
    "processedAt": "2026-01-01T14:02:10Z",
    "amountSet": {"shopMoney": MONEY, "presentmentMoney": MONEY},
}


def test_a_refund_with_a_transaction_parses() -> None:
    node = copy.deepcopy(REFUND)
    node["transactions"]["nodes"] = [TRANSACTION, {**TRANSACTION, "status": "unknown"}]
    record = quarantine_or("refund", node, parse_refund)
    assert isinstance(record, RefundRecord)
    assert [(t.kind, t.status) for t in record.transactions] == [
        ("REFUND", "SUCCESS"),
        ("REFUND", "unknown"),
    ]


def test_balance_transactions_from_the_example_page() -> None:
    page = json.loads((EXAMPLES / "graphql-balance-transactions-page.json").read_text())
    nodes = page["response"]["data"]["shopifyPaymentsAccount"]["balanceTransactions"]["nodes"]
    records = [quarantine_or("balance_transaction", n, parse_balance_transaction) for n in nodes]
    first = records[0]
    assert isinstance(first, BalanceTransactionRecord)
    assert (first.source_order_transaction_id, first.payout_id, first.amount) == (
        "1006917261",
        "623721858",
        Decimal("-41.94"),
    )


def test_refund_fields() -> None:
    record = quarantine_or("refund", REFUND, parse_refund)
    assert isinstance(record, RefundRecord)
    assert (record.id, record.order_id, record.return_id) == ("929361472", "450789469", "945000954")
    assert record.lines[0].location_id == "487838322" and record.lines[0].restocked


def _bad(path: list[Any], value: Any) -> dict[str, Any]:
    node = copy.deepcopy(REFUND)
    target: Any = node
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return node


BAD = [
    (
        "bad amount",
        ["totalRefundedSet", "shopMoney"],
        {"amount": "1,000.00", "currencyCode": "USD"},
        "totalRefundedSet.shopMoney.amount",
    ),
    (
        "unknown currency",
        ["totalRefundedSet", "presentmentMoney"],
        {"amount": "1.00", "currencyCode": "QQQ"},
        "totalRefundedSet.presentmentMoney.currencyCode",
    ),
    (
        "amount beyond exact arithmetic",
        ["totalRefundedSet", "presentmentMoney"],
        {"amount": "9" * 30 + ".00", "currencyCode": "USD"},
        "totalRefundedSet.presentmentMoney.amount",
    ),
    # A negative count of refunded units would read as units to restock (and refund) again.
    (
        "negative quantity",
        ["refundLineItems", "nodes", 0, "quantity"],
        -3,
        "refundLineItems[0].quantity",
    ),
    # Values outside the pinned API version's enums (shopify-admin-api.md): read as some other
    # state, they made a paid refund look missing.
    (
        "unknown restock type",
        ["refundLineItems", "nodes", 0, "restockType"],
        "RESTOCK_LATER",
        "refundLineItems[0].restockType",
    ),
    (
        "unknown transaction kind",
        ["transactions", "nodes"],
        [{**TRANSACTION, "kind": "REFUND_V2"}],
        "transactions[0].kind",
    ),
    (
        "unknown transaction status",
        ["transactions", "nodes"],
        [{**TRANSACTION, "status": "SETTLED"}],
        "transactions[0].status",
    ),
    (
        "null amount",
        ["totalRefundedSet", "shopMoney"],
        {"amount": None, "currencyCode": "USD"},
        "totalRefundedSet.shopMoney.amount",
    ),
]


@pytest.mark.parametrize(("case", "path", "value", "field"), BAD, ids=[row[0] for row in BAD])
def test_bad_refund_is_quarantined(case: str, path: list[Any], value: Any, field: str) -> None:
    result = quarantine_or("refund", _bad(path, value), parse_refund)
    assert isinstance(result, Quarantined), case
    assert (result.source, result.kind, result.record_id, result.field) == (
        "shopify",
        "refund",
        "929361472",
        field,
    )


CLEANED = [
    ("overlong note", ["note"], "n" * 10_001, "note"),
    (
        "control character in sku",
        ["refundLineItems", "nodes", 0, "lineItem", "sku"],
        "A\x07B",
        "refundLineItems[0].lineItem.sku",
    ),
    ("placeholder createdAt", ["createdAt"], "0001-01-01T00:00:00Z", "createdAt"),
]


def test_a_placeholder_transaction_date_reads_as_missing_and_keeps_the_refund() -> None:
    """Such a date used to be mirrored and then crash every reconciliation (pandas' range)."""
    money = {"amount": "5.00", "currencyCode": "USD"}
    node = _bad(
        ["transactions", "nodes"],
        [
            {
                "id": "gid://shopify/OrderTransaction/77",
                "kind": "REFUND",
                "status": "SUCCESS",
                "processedAt": "0001-01-01T00:00:00Z",
                "amountSet": {"presentmentMoney": money, "shopMoney": money},
            }
        ],
    )
    refund, *notes = parse_items("refund", node, parse_refund)
    assert isinstance(refund, RefundRecord) and refund.transactions[0].processed_at is None
    assert [n.field for n in notes] == ["transactions[0].processedAt"]


@pytest.mark.parametrize(("case", "path", "value", "field"), CLEANED, ids=[r[0] for r in CLEANED])
def test_odd_free_text_keeps_the_refund_and_is_listed(
    case: str, path: list[Any], value: Any, field: str
) -> None:
    """A refund with a strange note is still a refund: dropping it would invite paying twice."""
    refund, *notes = parse_items("refund", _bad(path, value), parse_refund)
    assert not isinstance(refund, Quarantined), case
    assert [(n.record_id, n.field) for n in notes] == [("929361472", field)]
    assert refund.note is None or len(refund.note) <= 10_000
    assert not refund.lines[0].sku or "\x07" not in refund.lines[0].sku


def test_gift_card_defaults() -> None:
    node = {
        "id": "gid://shopify/GiftCard/1",
        "createdAt": "2026-01-02T00:00:00Z",
        "note": "Generated by Loop Returns 12345701",
        "initialValue": {"amount": "80.00", "currencyCode": "USD"},
        "order": None,
    }
    card = parse_gift_card(node)
    assert card.enabled and card.order_id is None and card.initial_value == Decimal("80.00")


def test_a_negative_ordered_quantity_quarantines_the_order() -> None:
    node = {
        "id": "gid://shopify/Order/450789469",
        "updatedAt": "2026-01-01T14:02:10Z",
        "currencyCode": "USD",
        "presentmentCurrencyCode": "USD",
        "lineItems": {"nodes": [{"id": "gid://shopify/LineItem/1", "sku": "A", "quantity": -2}]},
    }
    result = quarantine_or("order", node, parse_order)
    assert isinstance(result, Quarantined)
    assert (result.record_id, result.field) == ("450789469", "lineItems[0].quantity")


ORDER: dict[str, Any] = {
    "id": "gid://shopify/Order/450789469",
    "updatedAt": "2026-01-01T14:02:10Z",
    "currencyCode": "USD",
    "presentmentCurrencyCode": "USD",
    "lineItems": {"nodes": []},
}


@pytest.mark.parametrize(("sent", "read"), [(True, True), (False, False), (None, False)])
def test_an_orders_test_flag_is_read(sent: bool | None, read: bool) -> None:
    """``test`` (a test gateway) leaves the order out of reconciliation; absent means live."""
    record = quarantine_or("order", {**ORDER, "test": sent}, parse_order)
    assert isinstance(record, OrderRecord) and record.test is read


def test_an_unreadable_test_flag_quarantines_the_order() -> None:
    """Read as live, a test order's returns would be owed money no customer paid."""
    result = quarantine_or("order", {**ORDER, "test": "maybe"}, parse_order)
    assert isinstance(result, Quarantined) and result.field == "test"


def test_a_test_mode_balance_transaction_is_marked() -> None:
    page = json.loads((EXAMPLES / "graphql-balance-transactions-page.json").read_text())
    node = page["response"]["data"]["shopifyPaymentsAccount"]["balanceTransactions"]["nodes"][0]
    live = parse_balance_transaction(node)
    assert live.test is False
    assert parse_balance_transaction({**node, "test": True}).test is True


def test_a_payouts_transaction_type_is_read_from_the_example_page() -> None:
    page = json.loads((EXAMPLES / "graphql-payouts-page.json").read_text())
    node = page["response"]["data"]["shopifyPaymentsAccount"]["payouts"]["nodes"][0]
    record = quarantine_or("payout", node, parse_payout)
    assert isinstance(record, PayoutRecord) and record.transaction_type == "DEPOSIT"

"""refundCreate, inventoryAdjustQuantities, tagsAdd, giftCardCreate and suggestedRefund."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.sandbox_shopify.inline_world import NOW, T0, Shopify, order_doc, world_doc

REFUND = """mutation($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id note totalRefundedSet { presentmentMoney { amount currencyCode } }
      refundLineItems(first: 5) { nodes { quantity restockType restocked location { id } } }
      transactions(first: 5) {
        nodes { id kind status gateway processedAt parentTransaction { id } } } }
    order { id displayFinancialStatus }
    userErrors { field message } } }"""
NO_KEY = REFUND.replace("@idempotent(key: $key) ", "").replace(", $key: String!", "")
ADJUST = """mutation($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason
      changes(quantityNames: ["available"]) { name delta quantityAfterChange } }
    userErrors { code field message } } }"""


def refund_input(amount: str = "25.00", **extra: Any) -> dict[str, Any]:
    return {
        "orderId": "gid://shopify/Order/1001",
        "note": "RMA 77",
        "refundLineItems": [
            {
                "lineItemId": "gid://shopify/LineItem/100001",
                "quantity": 1,
                "restockType": "RETURN",
                "locationId": "gid://shopify/Location/1",
            }
        ],
        "transactions": [
            {
                "orderId": "gid://shopify/Order/1001",
                "parentId": "gid://shopify/OrderTransaction/200001",
                "kind": "REFUND",
                "gateway": "shopify_payments",
                "amount": amount,
            }
        ],
        **extra,
    }


@pytest.fixture
def one(make_shop: Callable[..., Shopify]) -> Shopify:
    return make_shop(world_doc([order_doc(1, created=T0)]))


def stock(shop: Shopify, location: str = "1") -> int:
    return shop.state.world.inventory[0].available[location]


def test_refund_create_creates_refund_transaction_restock_and_ledger_row(one: Shopify) -> None:
    body = one.gql(REFUND, {"input": refund_input(), "key": "k1"})
    result = body["data"]["refundCreate"]
    assert result["userErrors"] == []
    refund = result["refund"]
    assert refund["note"] == "RMA 77"
    assert refund["totalRefundedSet"]["presentmentMoney"] == {
        "amount": "25.00",
        "currencyCode": "USD",
    }
    assert refund["refundLineItems"]["nodes"] == [
        {
            "quantity": 1,
            "restockType": "RETURN",
            "restocked": True,
            "location": {"id": "gid://shopify/Location/1"},
        }
    ]
    txn = refund["transactions"]["nodes"][0]
    assert (txn["kind"], txn["status"], txn["processedAt"]) == (
        "REFUND",
        "SUCCESS",
        "2026-01-10T00:00:00Z",
    )
    assert txn["parentTransaction"] == {"id": "gid://shopify/OrderTransaction/200001"}
    assert result["order"]["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert stock(one) == 11
    row = one.state.world.balance_transactions[-1]
    assert (row.amount, row.payout_status, row.source_order_transaction_id) == (
        -25,
        "PENDING",
        txn["id"].rsplit("/", 1)[-1],
    )


def test_same_key_same_input_replays_the_original_refund(one: Shopify) -> None:
    first = one.gql(REFUND, {"input": refund_input(), "key": "k1"})
    again = one.gql(REFUND, {"input": refund_input(), "key": "k1"})
    assert again["data"]["refundCreate"]["refund"] == first["data"]["refundCreate"]["refund"]
    assert len(one.state.orders_by_id["1001"].refunds) == 1
    assert stock(one) == 11  # restocked once
    assert len(one.state.world.balance_transactions) == 1


def test_same_key_different_input_is_refused(one: Shopify) -> None:
    one.gql(REFUND, {"input": refund_input(), "key": "k1"})
    body = one.gql(REFUND, {"input": refund_input("5.00"), "key": "k1"})
    assert body["data"]["refundCreate"]["refund"] is None
    assert body["data"]["refundCreate"]["userErrors"]
    assert len(one.state.orders_by_id["1001"].refunds) == 1


def test_missing_idempotency_key_is_rejected_at_2026_04_only(one: Shopify) -> None:
    body = one.gql(NO_KEY, {"input": refund_input()}, version="2026-04")
    assert "data" not in body
    assert body["errors"][0]["message"] == (
        "The @idempotent directive is required for this mutation but was not provided."
    )
    assert one.state.orders_by_id["1001"].refunds == []
    body = one.gql(NO_KEY, {"input": refund_input()}, version="2026-01")
    assert body["data"]["refundCreate"]["userErrors"] == []
    assert len(one.state.orders_by_id["1001"].refunds) == 1


def test_over_refund_is_refused_and_creates_nothing(one: Shopify) -> None:
    body = one.gql(REFUND, {"input": refund_input("50.01"), "key": "k2"})
    result = body["data"]["refundCreate"]
    assert result["refund"] is None
    assert result["userErrors"] == [
        {
            "field": ["transactions", "0", "amount"],
            "message": "Amount cannot exceed the maximum refundable amount",
        }
    ]
    assert one.state.orders_by_id["1001"].refunds == [] and stock(one) == 10
    one.gql(REFUND, {"input": refund_input("40.00"), "key": "k3"})
    body = one.gql(REFUND, {"input": refund_input("10.01"), "key": "k4"})
    assert body["data"]["refundCreate"]["userErrors"][0]["field"] == ["transactions", "0", "amount"]


def test_lines_of_one_item_cannot_refund_more_units_than_were_bought(one: Shopify) -> None:
    """Line item 100001 has 2 units: two refund lines for it (one per location, as recon sends
    units restocked at two locations) may refund 2 in all, not 2 each."""
    line = refund_input()["refundLineItems"][0]
    lines = [line | {"quantity": 2}, line | {"quantity": 1, "locationId": None}]
    body = one.gql(REFUND, {"input": refund_input(refundLineItems=lines), "key": "q1"})
    result = body["data"]["refundCreate"]
    assert result["refund"] is None
    assert result["userErrors"] == [
        {
            "field": ["refundLineItems", "1", "quantity"],
            "message": "Quantity cannot refund more items than were purchased",
        }
    ]
    assert one.state.orders_by_id["1001"].refunds == [] and stock(one) == 10


def test_currency_must_be_the_presentment_currency(make_shop: Callable[..., Shopify]) -> None:
    doc = order_doc(1, created=T0, presentment_currency="EUR", exchange_rate="1.10")
    shop = make_shop(world_doc([doc]))
    missing = shop.gql(REFUND, {"input": refund_input("5.00"), "key": "c1"})
    assert missing["data"]["refundCreate"]["userErrors"][0]["field"] == ["currency"]
    ok = shop.gql(REFUND, {"input": refund_input("5.00", currency="EUR"), "key": "c2"})
    assert ok["data"]["refundCreate"]["userErrors"] == []
    assert shop.state.world.balance_transactions[-1].amount == -5.50  # shop money, USD


def adjust_input(**change: Any) -> dict[str, Any]:
    return {
        "reason": "restock",
        "name": "available",
        "referenceDocumentUri": "gid://recon/LoopReturn/1",
        "changes": [
            {
                "inventoryItemId": "gid://shopify/InventoryItem/800",
                "locationId": "gid://shopify/Location/1",
                "delta": 1,
                **change,
            }
        ],
    }


def test_inventory_adjust_applies_once_per_key(one: Shopify) -> None:
    body = one.gql(ADJUST, {"input": adjust_input(changeFromQuantity=10), "key": "a1"})
    group = body["data"]["inventoryAdjustQuantities"]["inventoryAdjustmentGroup"]
    assert group["changes"] == [{"name": "available", "delta": 1, "quantityAfterChange": 11}]
    again = one.gql(ADJUST, {"input": adjust_input(changeFromQuantity=10), "key": "a1"})
    assert (
        again["data"]["inventoryAdjustQuantities"]["inventoryAdjustmentGroup"]["id"] == group["id"]
    )
    assert stock(one) == 11
    assert len(one.state.inventory_adjustments) == 1  # type: ignore[attr-defined]


def test_stale_change_from_quantity_applies_nothing(one: Shopify) -> None:
    body = one.gql(ADJUST, {"input": adjust_input(changeFromQuantity=9), "key": "a2"})
    result = body["data"]["inventoryAdjustQuantities"]
    assert result["inventoryAdjustmentGroup"] is None
    assert result["userErrors"][0]["code"] == "CHANGE_FROM_QUANTITY_STALE"
    assert stock(one) == 10 and one.state.inventory_adjustments == []  # type: ignore[attr-defined]


def test_change_from_quantity_must_be_explicit_at_2026_04(one: Shopify) -> None:
    absent = one.gql(ADJUST, {"input": adjust_input(), "key": "a3"})
    assert (
        absent["data"]["inventoryAdjustQuantities"]["userErrors"][0]["field"][-1]
        == "changeFromQuantity"
    )
    explicit_null = one.gql(ADJUST, {"input": adjust_input(changeFromQuantity=None), "key": "a4"})
    assert explicit_null["data"]["inventoryAdjustQuantities"]["userErrors"] == []
    old = one.gql(ADJUST, {"input": adjust_input(), "key": "a5"}, version="2026-01")
    assert old["data"]["inventoryAdjustQuantities"]["userErrors"] == []
    assert stock(one) == 12


def test_tags_add_and_gift_card_create(one: Shopify) -> None:
    tagged = one.gql(
        'mutation { tagsAdd(id: "gid://shopify/Order/1001", tags: ["recon-review"]) '
        "{ node { ... on Order { tags updatedAt } } userErrors { field message } } }"
    )
    assert tagged["data"]["tagsAdd"]["node"] == {
        "tags": ["recon-review"],
        "updatedAt": "2026-01-10T00:00:00Z",
    }
    card = one.gql(
        'mutation { giftCardCreate(input: {initialValue: "12.50", note: "Loop 77"}) '
        "{ giftCard { id note initialValue { amount currencyCode } } giftCardCode "
        "userErrors { code field message } } }"
    )["data"]["giftCardCreate"]
    assert card["userErrors"] == []
    assert card["giftCard"]["initialValue"] == {"amount": "12.50", "currencyCode": "USD"}
    found = one.gql('{ giftCards(first: 5, query: "source:api_client") { nodes { id note } } }')
    assert found["data"]["giftCards"]["nodes"] == [
        {"id": card["giftCard"]["id"], "note": "Loop 77"}
    ]


def test_suggested_refund_caps_by_parent(make_shop: Callable[..., Shopify]) -> None:
    shop = make_shop(world_doc([order_doc(1, created=T0, refunded="30.00")]))
    body = shop.gql(
        """query($lines: [RefundLineItemInput!]) { order(id: "gid://shopify/Order/1001") {
        suggestedRefund(refundLineItems: $lines) { amountSet { presentmentMoney { amount } }
          maximumRefundableSet { presentmentMoney { amount } }
          suggestedTransactions { kind gateway amountSet { presentmentMoney { amount } }
            maximumRefundableSet { presentmentMoney { amount } }
            parentTransaction { id } } } } }""",
        {"lines": [{"lineItemId": "gid://shopify/LineItem/100001", "quantity": 1}]},
    )
    suggestion = body["data"]["order"]["suggestedRefund"]
    assert suggestion["amountSet"]["presentmentMoney"]["amount"] == "20.00"  # 25 capped by 50 - 30
    assert suggestion["maximumRefundableSet"]["presentmentMoney"]["amount"] == "20.00"
    assert suggestion["suggestedTransactions"] == [
        {
            "kind": "SUGGESTED_REFUND",
            "gateway": "shopify_payments",
            "amountSet": {"presentmentMoney": {"amount": "20.00"}},
            "maximumRefundableSet": {"presentmentMoney": {"amount": "20.00"}},
            "parentTransaction": {"id": "gid://shopify/OrderTransaction/200001"},
        }
    ]


def test_writes_happen_at_the_sandbox_now(one: Shopify) -> None:
    one.gql(REFUND, {"input": refund_input(), "key": "k9"})
    assert one.state.orders_by_id["1001"].refunds[0].created_at == NOW

"""GraphQLGateway: sends remediation's documents with the right variables and parses the answers."""

from __future__ import annotations

import re
from decimal import Decimal

from recon.remediation.writes import GraphQLGateway, parse_adjust_payload


def _money(amount: str, currency: str = "CAD") -> dict:
    return {
        "presentmentMoney": {"amount": amount, "currencyCode": currency},
        "shopMoney": {"amount": amount, "currencyCode": "USD"},
    }


class ScriptedExecute:
    """Answers by operation name; records (operation, variables, write)."""

    def __init__(self, answers: dict[str, dict]) -> None:
        self.answers = answers
        self.sent: list[tuple[str, dict, bool]] = []

    def __call__(self, document: str, variables: dict, write: bool) -> dict:
        match = re.search(r"\b(?:query|mutation)\s+(\w+)", document)
        assert match, document
        name = match.group(1)
        self.sent.append((name, variables, write))
        return self.answers[name]


def test_reads_parse_money_as_decimal_and_writes_carry_the_key():
    execute = ScriptedExecute(
        {
            "SuggestedRefund": {
                "order": {
                    "id": "gid://shopify/Order/1",
                    "currencyCode": "USD",
                    "presentmentCurrencyCode": "CAD",
                    "suggestedRefund": {
                        "amountSet": _money("60.00"),
                        "maximumRefundableSet": _money("60.00"),
                        "suggestedTransactions": [
                            {
                                "kind": "SUGGESTED_REFUND",
                                "gateway": "shopify_payments",
                                "amountSet": _money("60.00"),
                                "maximumRefundableSet": _money("60.00"),
                                "parentTransaction": {"id": "gid://shopify/OrderTransaction/9"},
                            }
                        ],
                    },
                }
            },
            "RefundCreate": {
                "refundCreate": {"refund": {"id": "gid://shopify/Refund/5"}, "userErrors": []}
            },
            "InventoryAdjust": {
                "inventoryAdjustQuantities": {
                    "inventoryAdjustmentGroup": None,
                    "userErrors": [
                        {
                            "code": "CHANGE_FROM_QUANTITY_STALE",
                            "field": ["input"],
                            "message": "stale",
                        }
                    ],
                }
            },
        }
    )
    gateway = GraphQLGateway(execute)
    suggested = gateway.suggested_refund("gid://shopify/Order/1", [])
    assert suggested.maximum_refundable == Decimal("60.00")
    assert suggested.transactions[0].parent_id == "gid://shopify/OrderTransaction/9"
    payload = gateway.create_refund({"orderId": "gid://shopify/Order/1"}, "key-1")
    assert payload["refund"]["id"] == "gid://shopify/Refund/5"
    assert execute.sent[1] == (
        "RefundCreate",
        {"input": {"orderId": "gid://shopify/Order/1"}, "idempotencyKey": "key-1"},
        True,
    )
    result = parse_adjust_payload(gateway.adjust_inventory({"changes": []}, "key-2"))
    assert not result.ok and result.errors[0].code == "CHANGE_FROM_QUANTITY_STALE"
    assert [write for _, _, write in execute.sent] == [False, True, True]

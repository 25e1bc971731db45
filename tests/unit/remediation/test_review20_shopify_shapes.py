"""Review 20: remediation's Shopify reads against what the 2026-04 schema lets Shopify answer.

``SuggestedOrderTransaction.maximumRefundableSet`` is a nullable ``MoneyBag`` in both supported
schemas (``reference/schema/shopify-admin-2026-04.graphql``; the sandbox always sends one). When
Shopify answers null there, recon cannot cap that transaction; holding the refund for review is
the safe outcome, but the person reviewing it must be told which order and which field, not a
bare "lacks presentmentMoney" (STYLE: bad input gets an error naming the record and the field).
"""

from __future__ import annotations

import re
from typing import Any

from recon.errors import ReconError
from recon.remediation.writes import GraphQLGateway

ORDER = "gid://shopify/Order/450789469"


def _bag(amount: str) -> dict[str, Any]:
    return {
        "shopMoney": {"amount": amount, "currencyCode": "USD"},
        "presentmentMoney": {"amount": amount, "currencyCode": "USD"},
    }


def _execute(document: str, variables: dict[str, Any], write: bool) -> dict[str, Any]:
    """Shopify's answer to SuggestedRefund with a suggested transaction whose cap is null."""
    match = re.search(r"\bquery\s+(\w+)", document)
    assert match is not None and match.group(1) == "SuggestedRefund", document
    return {
        "order": {
            "id": ORDER,
            "currencyCode": "USD",
            "presentmentCurrencyCode": "USD",
            "suggestedRefund": {
                "amountSet": _bag("41.94"),
                "maximumRefundableSet": _bag("209.00"),
                "suggestedTransactions": [
                    {
                        "kind": "SUGGESTED_REFUND",
                        "gateway": "shopify_payments",
                        "amountSet": _bag("41.94"),
                        "maximumRefundableSet": None,  # nullable in the schema
                        "parentTransaction": {
                            "id": "gid://shopify/OrderTransaction/801038806",
                            "kind": "SALE",
                            "gateway": "shopify_payments",
                        },
                    }
                ],
            },
        }
    }


def test_null_transaction_cap_names_the_order_and_the_field() -> None:
    """Either the suggestion is read (the null cap handled), or the refusal says which order
    and which field, so the held refund can be reviewed."""
    gateway = GraphQLGateway(_execute)
    lines = [{"lineItemId": "gid://shopify/LineItem/518995019", "quantity": 1}]
    try:
        suggested = gateway.suggested_refund(ORDER, lines)
    except ReconError as exc:
        message = str(exc)
        assert ORDER in message or "450789469" in message, message
        assert "maximumRefundableSet" in message, message
    else:
        assert len(suggested.transactions) == 1

"""Review 16: remediation's reads before a write and the refund input it builds, against the
2026-04 schema and shopify-admin-api.md §7, §9, §10.

Shopify is scripted through ``GraphQLGateway``'s ``execute`` seam (the documents recon really
sends, answers shaped as the schema allows); nothing is patched.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLSchema, build_schema, parse
from graphql.execution.values import get_variable_values

from recon.errors import FatalHTTPError, RemediationError
from recon.remediation.write_inputs import allocate_transactions
from recon.remediation.writes import GraphQLGateway, load_document

ORDER = "gid://shopify/Order/1"
SCHEMA = Path("/work/shared/reference/schema/shopify-admin-2026-04.graphql")


@cache
def _schema() -> GraphQLSchema:
    # assume_valid: Shopify's SDL breaks one graphql-core consistency rule (schema/README.md).
    return build_schema(SCHEMA.read_text(encoding="utf-8"), assume_valid=True)


def _money(amount: str) -> dict[str, Any]:
    return {
        "presentmentMoney": {"amount": amount, "currencyCode": "USD"},
        "shopMoney": {"amount": amount, "currencyCode": "USD"},
    }


class Answers:
    """``execute(document, variables, write)`` answering by operation name."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def __call__(self, document: str, variables: dict[str, Any], write: bool) -> dict[str, Any]:
        match = re.search(r"\b(?:query|mutation)\s+(\w+)", document)
        assert match is not None
        answer = self.answers[match.group(1)]
        return dict(answer(variables) if callable(answer) else answer)


def test_a_refund_list_that_fills_the_largest_read_is_not_taken_for_all_of_them() -> None:
    """§7: ``Order.refunds`` is a plain list that ``first`` truncates silently, with no paging.

    Right before a refund write recon re-reads the order's refunds with ``first: 250`` to find
    a refund already carrying the RMA's marker (paid meanwhile, or recon's own answer lost).
    An order with 250 refunds or more answers exactly 250: the marker may be among those left
    out, and the refund would be paid twice. The gateway promises "all of them, or an error:
    never a cut list" and keeps that promise on its fallback read of 50, not on this one.
    """

    def notes(variables: dict[str, Any]) -> dict[str, Any]:
        shown = min(300, variables["first"])  # the order has 300 refunds
        refunds = [
            {"id": f"gid://shopify/Refund/{i}", "note": None, "totalRefundedSet": _money("1.00")}
            for i in range(shown)
        ]
        return {
            "order": {
                "id": ORDER,
                "test": False,
                "currencyCode": "USD",
                "presentmentCurrencyCode": "USD",
                "refunds": refunds,
            }
        }

    with pytest.raises(FatalHTTPError):
        GraphQLGateway(Answers({"OrderRefundNotes": notes})).order_refunds(ORDER)


def test_a_suggested_transaction_without_a_gateway_never_becomes_a_refund_without_one() -> None:
    """Schema: ``SuggestedOrderTransaction.gateway: String`` (nullable), while the refund's
    ``OrderTransactionInput.gateway`` is ``String!``.

    recon copies the suggestion's gateway into refundCreate (§9). With the gateway null it
    built ``gateway: null``: Shopify rejects the whole document as invalid variables, and the
    intent ends FAILED with a GraphQL coercion message, although the answer also carried the
    parent transaction's gateway (``parentTransaction { id kind gateway }``). Either the
    refund is built from a gateway that exists, or the answer is refused naming the field
    (the write then goes to review): never a refundCreate Shopify cannot accept.
    """
    suggested_answer = {
        "order": {
            "id": ORDER,
            "currencyCode": "USD",
            "presentmentCurrencyCode": "USD",
            "suggestedRefund": {
                "amountSet": _money("60.00"),
                "maximumRefundableSet": _money("60.00"),
                "suggestedTransactions": [
                    {
                        "kind": "SUGGESTED_REFUND",
                        "gateway": None,
                        "amountSet": _money("60.00"),
                        "maximumRefundableSet": _money("60.00"),
                        "parentTransaction": {
                            "id": "gid://shopify/OrderTransaction/9",
                            "kind": "SALE",
                            "gateway": "shopify_payments",
                        },
                    }
                ],
            },
        }
    }
    gateway = GraphQLGateway(Answers({"SuggestedRefund": suggested_answer}))
    lines = [{"lineItemId": "gid://shopify/LineItem/11", "quantity": 1, "restockType": "RETURN"}]
    try:
        suggested = gateway.suggested_refund(ORDER, lines)
        transactions = allocate_transactions(ORDER, Decimal("60.00"), suggested)
    except (FatalHTTPError, RemediationError) as refused:
        assert "gateway" in str(refused)
        return
    refund_input = {"orderId": ORDER, "note": "Loop RMA #1", "transactions": transactions}
    operation = parse(load_document("RefundCreate")).definitions[0]
    coerced = get_variable_values(
        _schema(),
        operation.variable_definitions,  # type: ignore[attr-defined]
        {"input": refund_input, "idempotencyKey": "k"},
    )
    errors = [error.message for error in coerced] if isinstance(coerced, list) else []
    assert errors == []

"""GraphQLGateway: sends remediation's documents with the right variables and parses the answers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from recon.errors import FatalHTTPError
from recon.remediation.actions import ActionKind, ActionState
from recon.remediation.verdicts import classify_write, parse_write
from recon.remediation.writes import GraphQLGateway, parse_adjust_payload
from recon.sources.shopify_checks import CostExceededError


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
        self.documents: list[str] = []

    def __call__(self, document: str, variables: dict, write: bool) -> dict:
        match = re.search(r"\b(?:query|mutation)\s+(\w+)", document)
        assert match, document
        name = match.group(1)
        self.sent.append((name, variables, write))
        self.documents.append(document)
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
    # The key is written into the document as a literal (shopify-admin-api.md §10).
    assert execute.sent[1] == (
        "RefundCreate",
        {"input": {"orderId": "gid://shopify/Order/1"}},
        True,
    )
    assert '@idempotent(key: "key-1")' in execute.documents[1]
    result = parse_adjust_payload(gateway.adjust_inventory({"changes": []}, "key-2"))
    assert not result.ok and result.errors[0].code == "CHANGE_FROM_QUANTITY_STALE"
    assert [write for _, _, write in execute.sent] == [False, True, True]


def _refunds_answer(count: int, test: object = False) -> dict:
    refunds = [
        {"id": f"gid://shopify/Refund/{i}", "note": None, "totalRefundedSet": _money("1.00")}
        for i in range(count)
    ]
    return {
        "order": {
            "id": "gid://shopify/Order/1",
            "test": test,
            "currencyCode": "USD",
            "presentmentCurrencyCode": "CAD",
            "refunds": refunds,
        }
    }


def test_the_re_reads_before_a_write_say_whether_the_order_is_a_test_order() -> None:
    """``Order.test`` as Shopify answers it; an answer without it is not a live order."""
    order = {"order": {"id": "gid://shopify/Order/1", "test": True}}
    execute = ScriptedExecute({"OrderRefundNotes": _refunds_answer(1, True), "OrderTest": order})
    gateway = GraphQLGateway(execute)
    assert gateway.order_refunds("gid://shopify/Order/1").test is True
    assert gateway.order_test("gid://shopify/Order/1") is True
    assert [name for name, _, _ in execute.sent] == ["OrderRefundNotes", "OrderTest"]
    execute.answers["OrderTest"] = {"order": {"id": "gid://shopify/Order/1"}}
    with pytest.raises(FatalHTTPError, match=r"order gid://shopify/Order/1: .* lacks test"):
        gateway.order_test("gid://shopify/Order/1")


class CostCapped(ScriptedExecute):
    """Refuses the refund list over ``cap`` refunds as Shopify refuses a query over 1,000."""

    def __init__(self, count: int, cap: int) -> None:
        super().__init__({})
        self.count, self.cap = count, cap

    def __call__(self, document: str, variables: dict, write: bool) -> dict:
        self.sent.append(("OrderRefundNotes", variables, write))
        if variables["first"] > self.cap:
            raise CostExceededError("query cost over the 1,000-point cap", 1014.0)
        return _refunds_answer(min(self.count, variables["first"]))


def test_a_refund_list_the_cost_cap_refuses_is_read_shorter() -> None:
    """A night whose query costs run high must not send every refund to review for good."""
    execute = CostCapped(count=3, cap=200)
    refunds = GraphQLGateway(execute).order_refunds("gid://shopify/Order/1")
    assert len(refunds.refunds) == 3
    assert [v["first"] for _, v, _ in execute.sent] == [250, 50]


def test_a_shorter_list_that_may_be_cut_is_not_trusted() -> None:
    """50 refunds or more with only 50 readable: a marker could be missing, so it is an error."""
    with pytest.raises(FatalHTTPError, match="may be incomplete"):
        GraphQLGateway(CostCapped(count=80, cap=200)).order_refunds("gid://shopify/Order/1")
    assert len(GraphQLGateway(CostCapped(count=80, cap=300)).order_refunds("x").refunds) == 80


@pytest.mark.parametrize(
    "nodes", [None, [None, None], [{"id": "gid://shopify/LineItem/8"}]],
    ids=["no-list", "too-long", "not-asked"],
)  # fmt: skip
def test_a_malformed_inventory_answer_is_an_error_not_an_item_out_of_stock(nodes) -> None:
    """A ``nodes(ids:)`` answer that cannot be matched to the ids asked was read as "no such
    line": the restock went to review as "not stocked at the location", which sends the
    warehouse looking for a stock problem that is not there. It is now a read that failed,
    naming the query and the id, and the restock waits for the next run."""
    from recon.errors import SourceError

    execute = ScriptedExecute({"LineItemInventory": {"nodes": nodes}})
    gateway = GraphQLGateway(execute)
    with pytest.raises(SourceError, match=r"LineItemInventory.*ids 7"):
        gateway.line_item_inventory(["gid://shopify/LineItem/7"], "gid://shopify/Location/1")


@pytest.mark.parametrize("nodes", [[None], []], ids=["null-in-place", "left-out"])
def test_a_line_shopify_answers_null_for_is_absent_from_the_inventory(nodes) -> None:
    """A null in place, or the id left out of the list (§6: which one Shopify does is
    unverified): the line is not shown, alike."""
    execute = ScriptedExecute({"LineItemInventory": {"nodes": nodes}})
    gateway = GraphQLGateway(execute)
    assert (
        gateway.line_item_inventory(["gid://shopify/LineItem/7"], "gid://shopify/Location/1") == []
    )


def _suggestion(**changes: object) -> dict:
    transaction = {
        "gateway": "shopify_payments",
        "amountSet": _money("60.00"),
        "maximumRefundableSet": _money("60.00"),
        "parentTransaction": {"id": "gid://shopify/OrderTransaction/9"},
    }
    suggested = {
        "amountSet": _money("60.00"),
        "maximumRefundableSet": _money("60.00"),
        "suggestedTransactions": [transaction],
    }
    for name, value in changes.items():
        target = transaction if name in transaction else suggested
        target[name] = value
    order = {"id": "gid://shopify/Order/1", "currencyCode": "USD", "presentmentCurrencyCode": "CAD"}
    return {"order": order | {"suggestedRefund": suggested}}


def _without_currencies(answer: dict) -> dict:
    order = {k: v for k, v in answer["order"].items() if not k.lower().endswith("currencycode")}
    return {"order": order}


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({"order": {"id": "gid://shopify/Order/1", "suggestedRefund": None}}, "suggested no"),
        (_without_currencies(_suggestion()), "KeyError: 'currencyCode'"),
        (_suggestion(suggestedTransactions=[{"amountSet": _money("1")}]), "KeyError: 'gateway'"),
        (_suggestion(amountSet=_money("sixty")), "SuggestedRefund answer is malformed"),
    ],
    ids=["null", "no-currency", "no-gateway", "not-a-number"],
)
def test_a_malformed_suggestion_is_a_failed_read_naming_the_order(answer, says) -> None:
    """A null ``suggestedRefund`` (the field is nullable) or a malformed one raised Python's own
    errors, which stopped the whole run with no report; it is a read that failed, naming the
    order, and the executor sends that one refund to review."""
    gateway = GraphQLGateway(ScriptedExecute({"SuggestedRefund": answer}))
    with pytest.raises(FatalHTTPError, match=f"order gid://shopify/Order/1: .*{says}"):
        gateway.suggested_refund("gid://shopify/Order/1", [])


def test_malformed_refund_and_stock_answers_are_failed_reads() -> None:
    refunds = _refunds_answer(1)
    del refunds["order"]["refunds"][0]["id"]
    gateway = GraphQLGateway(ScriptedExecute({"OrderRefundNotes": refunds}))
    with pytest.raises(FatalHTTPError, match=r"order gid://shopify/Order/1: .*KeyError: 'id'"):
        gateway.order_refunds("gid://shopify/Order/1")
    level = {"quantities": [{"name": "available", "quantity": "many"}]}
    node = {
        "id": "gid://shopify/LineItem/7",
        "variant": {"inventoryItem": {"inventoryLevel": level}},
    }
    gateway = GraphQLGateway(ScriptedExecute({"LineItemInventory": {"nodes": [node]}}))
    with pytest.raises(FatalHTTPError, match=r"line items gid://shopify/LineItem/7 at .*malformed"):
        gateway.line_item_inventory(["gid://shopify/LineItem/7"], "gid://shopify/Location/1")


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ({"refundCreate": None}, "refundCreate"),
        ({}, "refundCreate"),
        ({"inventoryAdjustQuantities": None}, "inventoryAdjustQuantities"),
    ],
    ids=["refund-null", "refund-absent", "restock-null"],
)
def test_a_write_answered_with_a_null_payload_is_an_unknown_outcome(answer, field) -> None:
    """The write was sent, and Shopify answered its payload null (or left it out) with no
    error: nothing says whether it happened. That raised a TypeError, which stopped the run
    with the intent still sending; it is an outcome unknown, which the next run re-reads."""
    mutation = "RefundCreate" if field == "refundCreate" else "InventoryAdjust"
    gateway = GraphQLGateway(ScriptedExecute({mutation: answer}))
    if field == "refundCreate":
        kind, raw = ActionKind.REFUND, gateway.create_refund({"orderId": "x"}, "key-1")
    else:
        kind, raw = ActionKind.RESTOCK, gateway.adjust_inventory({"changes": []}, "key-2")
    assert classify_write(kind, parse_write(kind, raw)).state is ActionState.UNKNOWN

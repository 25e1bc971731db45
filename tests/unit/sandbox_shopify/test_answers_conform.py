"""The emulator's answers to each of recon's read documents conform to Shopify's 2026-04 schema.

The emulator runs on its own SDL, whose custom scalars pass through whatever a resolver returns;
``tests/schema_answers.py`` walks an answer against the document and the REAL schema. Each read
document under ``recon/`` is sent here over a generated world (writes and the documents remediation
reads are covered by ``tests/e2e/test_answers_conform_sandbox.py``), and the walker itself is shown
to catch each kind of difference.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

_ROOT = Path(__file__).resolve().parents[3]
if str(_ROOT) not in sys.path:  # tests/ is not a package; the walker is imported by path
    sys.path.insert(0, str(_ROOT))

from recon.clock import VirtualClock  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sandbox.shopify.app import ShopifyEngine  # noqa: E402
from recon.sandbox.state import SandboxState  # noqa: E402
from recon.sandbox.world import World  # noqa: E402
from tests.schema_answers import answer_problems  # noqa: E402

DOCUMENTS = {p.stem: p for p in (_ROOT / "recon" / "sources" / "graphql").rglob("*.graphql")}
# Sent by remediation in the e2e apply run, whose every answer is walked there.
IN_THE_APPLY_RUN = {
    "RefundCreate",
    "InventoryAdjust",
    "TagsAdd",
    "SuggestedRefund",
    "LineItemInventory",
}
EVER = "updated_at:>='2000-01-01T00:00:00Z' AND updated_at:<'2100-01-01T00:00:00Z'"


def gid(kind: str, record_id: str) -> str:
    return f"gid://shopify/{kind}/{record_id}"


def _variables(world: World) -> dict[str, dict[str, Any]]:
    """Variables for each read document, chosen so every answer has something in it."""
    orders = [o for o in world.orders if o.created_at <= world.now]
    refunded = [o for o in orders if any(r.created_at <= world.now for r in o.refunds)]
    refunds = [r for o in refunded for r in o.refunds if r.created_at <= world.now]
    rows = [b for b in world.balance_transactions if b.transaction_date <= world.now]
    many_lines = max(orders, key=lambda o: len(o.line_items))
    return {
        "AccessScopes": {},
        "OrdersPage": {"first": 10, "query": f"{EVER} AND financial_status:partially_refunded"},
        "OrdersUpdated": {"first": 250, "query": EVER},
        # The last id never existed: nodes answers null for it.
        "OrdersById": {"ids": [gid("Order", o.id) for o in refunded[:9]] + [gid("Order", "1")]},
        "OrderLineItemsPage": {"id": gid("Order", many_lines.id), "first": 1},
        "OrderRefunds": {"id": gid("Order", refunded[0].id), "first": 5},
        "RefundsById": {"ids": [gid("Refund", r.id) for r in refunds[:8]]},
        "RefundLineItemsPage": {"id": gid("Refund", refunds[0].id), "first": 5},
        "RefundTransactionsPage": {"id": gid("Refund", refunds[0].id), "first": 5},
        "Payouts": {"first": 50, "query": "issued_at:>='2000-01-01T00:00:00Z'"},
        "BalanceTransactions": {"first": 100, "query": "processed_at:>='2000-01-01T00:00:00Z'"},
        "BalanceTransactionsById": {
            "ids": [gid("ShopifyPaymentsBalanceTransaction", b.id) for b in rows[:60]]
        },
        "GiftCards": {"first": 50, "query": "source:api_client AND created_at:>='2000-01-01'"},
        "OrderRefundNotes": {"orderId": gid("Order", refunded[0].id), "first": 20},
        "OrderTest": {"orderId": gid("Order", refunded[0].id)},
    }


@pytest.fixture(scope="module")
def world_and_engine() -> tuple[World, ShopifyEngine]:
    world, _truth = generate_world(seed=3, returns=200)
    engine = ShopifyEngine(SandboxState(world, clock=VirtualClock(world.now)))
    return world, engine


def test_every_read_document_has_variables_here_or_runs_in_the_apply_run() -> None:
    world, _truth = generate_world(seed=3, returns=20)
    assert set(DOCUMENTS) == set(_variables(world)) | IN_THE_APPLY_RUN


@pytest.mark.parametrize("name", sorted(set(DOCUMENTS) - IN_THE_APPLY_RUN))
def test_answer_conforms_to_shopifys_schema(
    name: str, world_and_engine: tuple[World, ShopifyEngine]
) -> None:
    world, engine = world_and_engine
    variables = _variables(world)[name]
    engine.bucket.give_back(10**6)  # a full bucket: throttling is tested elsewhere
    query = DOCUMENTS[name].read_text(encoding="utf-8")
    payload, _ = engine.run("2026-04", {"query": query, "variables": variables})
    assert "errors" not in payload
    assert _has_content(payload["data"]), payload["data"]
    assert answer_problems(query, payload, variables) == []


def _has_content(data: Any) -> bool:
    """Some list in the answer holds an object: the walk was not over empty pages."""
    if isinstance(data, list):
        return any(isinstance(item, dict) and item for item in data) or any(
            _has_content(item) for item in data
        )
    if isinstance(data, dict):
        return any(_has_content(value) for value in data.values()) or (
            "accessScopes" in data or "test" in data
        )
    return False


REFUND = """query R($ids: [ID!]!) { nodes(ids: $ids) { ... on Refund {
  id createdAt processedAt
  totalRefundedSet { presentmentMoney { amount currencyCode } }
  refundLineItems(first: 1) { nodes { restockType } }
} } }"""


def _refund(**changes: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": "gid://shopify/Refund/1",
        "createdAt": "2026-01-01T14:02:10Z",
        "processedAt": "2026-01-01T14:02:10Z",
        "totalRefundedSet": {"presentmentMoney": {"amount": "41.94", "currencyCode": "USD"}},
        "refundLineItems": {"nodes": [{"restockType": "RETURN"}]},
    }
    node.update(changes)
    return {"data": {"nodes": [node, None]}}


def _money(amount: Any, currency: str = "USD") -> dict[str, Any]:
    return {"presentmentMoney": {"amount": amount, "currencyCode": currency}}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"createdAt": "2026-01-01 14:02:10"}, "is not a DateTime"),
        ({"processedAt": None}, "null, the schema says DateTime!"),
        ({"totalRefundedSet": _money(41.94)}, "is not a Decimal"),
        ({"totalRefundedSet": _money("41.94", "usd")}, "is not a value of CurrencyCode"),
        ({"refundLineItems": {"nodes": [{"restockType": "return"}]}}, "RefundLineItemRestockType"),
        ({"refundLineItems": {"nodes": [{}]}}, "asked for, missing from the answer"),
        ({"id": "gid://shopify/Order/1"}, "answered but not asked for"),
        ({"id": "1"}, "is not a ID|cannot tell the concrete type"),
    ],
)
def test_the_walker_finds_what_shopify_would_never_send(change: dict[str, Any], says: str) -> None:
    assert answer_problems(REFUND, _refund(), {"ids": []}) == []
    problems = answer_problems(REFUND, _refund(**change), {"ids": []})
    assert any(re.search(says, p) for p in problems), problems


def test_an_id_of_another_type_on_a_node_object_is_named() -> None:
    query = "query O($id: ID!) { order(id: $id) { id } }"
    answer = {"data": {"order": {"id": "gid://shopify/Refund/1"}}}
    assert answer_problems(query, answer, {"id": "x"}) == [
        "$.order.id: 'gid://shopify/Refund/1' is not a Order GID"
    ]

"""``nodes(ids:)`` answers: matched back by id, and nothing read from one that cannot be.

Shopify answers ``[Node]!``; by the Relay convention one entry per id asked, ``null`` in place
for an id it cannot show, which is unverified for Shopify (shopify-admin-api.md §6). A shorter
list whose every entry is a node carrying an id asked (each once) is matched by id too: the ids
it leaves out are read as answered null (not visible), the rest are read. A list that cannot be
matched (longer, no list, a node without an id or with one not asked, an id twice, a null in
a shorter list) keeps every id of the call for review as a shape error, none marked not visible.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sources_scripted import ScriptedTransport, gql

from recon.clock import VirtualClock
from recon.models import OrderRecord, Quarantined, RefundRecord
from recon.sources.http import RetryPolicy
from recon.sources.shopify import NOT_VISIBLE, ShopifyClient
from recon.sync import not_visible_orders

NO_MORE = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}


def _client(transport: ScriptedTransport) -> ShopifyClient:
    return ShopifyClient(
        httpx.Client(transport=transport),
        base_url="https://shop.example",
        api_version="2026-04",
        token="shpat_test_token",
        clock=VirtualClock(),
        policy=RetryPolicy(base_delay=0.01),
        check_scopes=False,
    )


def _order(number: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "createdAt": "2025-12-20T16:09:21Z",
        "updatedAt": "2026-01-01T14:02:11Z",
        "cancelledAt": None,
        "currencyCode": "USD",
        "presentmentCurrencyCode": "USD",
        "displayFinancialStatus": "PAID",
        "returnStatus": "NO_RETURN",
        "test": False,
        "tags": [],
        "refunds": [],
        "lineItems": NO_MORE,
    }


@pytest.mark.parametrize(
    ("nodes", "said"),
    [
        ([_order(1), None, None, None], "4 entries for 3 ids"),  # longer
        (None, "no list"),
        ([_order(1), _order(9)], "a node for an id not asked (9)"),  # shorter, one not asked
        ([_order(1), _order(1)], "id 1 twice"),  # shorter, a duplicate
        ([_order(1), {**_order(2), "id": None}], "a node without an id"),
        ([_order(1), {}], "an empty node in a list of 2 entries"),  # whose {} is it?
        ([_order(1), None], "a null in a list of 2 entries for 3 ids"),  # neither convention
    ],
)
def test_a_nodes_list_of_another_length_marks_no_order_not_visible(
    nodes: list[Any] | None, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    transport = ScriptedTransport([gql({"nodes": nodes})])
    items = list(_client(transport).iter_orders_by_id(["1", "2", "3"]))
    assert not_visible_orders([i for i in items if isinstance(i, Quarantined)]) == []
    # Nothing is read from it: each id asked is kept for review (its writes held), naming the
    # query and the ids, and asked again next run.
    assert not [i for i in items if isinstance(i, OrderRecord)]
    assert sorted((q.kind, q.record_id, q.field) for q in items if isinstance(q, Quarantined)) == [
        ("order", "1", "nodes"),
        ("order", "2", "nodes"),
        ("order", "3", "nodes"),
    ]
    for q in items:
        assert isinstance(q, Quarantined)
        assert "OrdersById" in q.reason and said in q.reason
        assert "1, 2, 3" in q.reason
        assert q.reason != NOT_VISIBLE
    assert "OrdersById" in caplog.text and said in caplog.text


def test_a_null_in_place_is_still_not_visible_and_the_rest_read() -> None:
    transport = ScriptedTransport([gql({"nodes": [_order(1), None, _order(3)]})])
    items = list(_client(transport).iter_orders_by_id(["1", "2", "3"]))
    assert sorted(i.id for i in items if isinstance(i, OrderRecord)) == ["1", "3"]
    assert not_visible_orders([i for i in items if isinstance(i, Quarantined)]) == ["2"]


def test_a_node_in_place_of_one_asked_for_is_a_shape_error_not_a_deletion() -> None:
    """The right length, but order 2's place holds an order not asked for: 2 was not answered
    null, so it is not marked (the call's ids are kept for review)."""
    transport = ScriptedTransport([gql({"nodes": [_order(1), _order(9), _order(3)]})])
    items = list(_client(transport).iter_orders_by_id(["1", "2", "3"]))
    assert not_visible_orders([i for i in items if isinstance(i, Quarantined)]) == []
    assert sorted(q.record_id or "" for q in items if isinstance(q, Quarantined)) == [
        "1",
        "2",
        "3",
    ]


def test_refunds_from_a_short_nodes_list_with_a_null_are_held_not_read() -> None:
    """A null in a shorter list fits neither reading of §6 (nulls in place, or left out)."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert len(json.loads(request.content)["variables"]["ids"]) == 2
        return gql({"nodes": [None]})

    items = list(_client(ScriptedTransport([answer])).iter_refunds_by_id(["10", "20"]))
    assert not [i for i in items if isinstance(i, RefundRecord)]
    assert sorted((q.kind, q.record_id, q.field) for q in items if isinstance(q, Quarantined)) == [
        ("refund", "10", "nodes"),
        ("refund", "20", "nodes"),
    ]
    assert all("RefundsById" in q.reason for q in items if isinstance(q, Quarantined))


def test_an_empty_list_for_ids_asked_is_asked_again_and_the_answer_read() -> None:
    """``nodes(ids:)`` answers one entry per id asked (§6): an empty list for a non-empty ask
    is a broken answer, not "none of them visible". It was taken for the latter, and up to 250
    orders' writes were held until their recheck. It is asked again (the retry policy)."""
    transport = ScriptedTransport([gql({"nodes": []}), gql({"nodes": [_order(1), _order(2)]})])
    client = _client(transport)
    items = list(client.iter_orders_by_id(["1", "2"]))
    assert sorted(i.id for i in items if isinstance(i, OrderRecord)) == ["1", "2"]
    assert not [i for i in items if isinstance(i, Quarantined)]
    assert len(transport.requests) == 2
    assert client.retry_budget.retries_spent == 1  # drawn from the run's budget like a 5xx


@pytest.mark.parametrize("kind", ["order", "refund", "balance_transaction"])
def test_an_empty_list_asked_twice_shows_none_of_the_ids(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A second ``[]`` is taken as the answer: Shopify may leave ids it cannot show out of the
    list (§6 is unverified), and a chunk of deleted orders then answers ``[]`` for good. The
    ids read as not visible (their writes held until the recheck), after one re-ask only: the
    whole policy (8 attempts, about a minute of waits) would be spent on every such recheck."""
    transport = ScriptedTransport([gql({"nodes": []})], repeat_last=True)
    client = _client(transport)
    read = {
        "order": client.iter_orders_by_id,
        "refund": client.iter_refunds_by_id,
        "balance_transaction": client.iter_balance_transactions_by_id,
    }[kind]
    items = list(read(["1", "2"]))
    assert len(transport.requests) == 2
    assert client.retry_budget.retries_spent == 1
    held = [i for i in items if isinstance(i, Quarantined)]
    assert len(held) == len(items) == 2
    assert all(q.not_visible for q in held)
    assert sorted(q.record_id for q in held) == ["1", "2"]
    assert "an empty list for 2 ids" in caplog.text


@pytest.mark.parametrize("position", [0, 1, 2])
def test_a_shorter_list_of_nodes_asked_for_is_read_and_the_rest_are_not_visible(
    position: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Shopify may leave the ids it cannot show out of the list instead of answering null in
    place (§6: unverified). Every node names an id asked, so the answer is matched by id: the
    orders it returned are read, whatever their place, and only the one it left out is marked
    not visible, as a null would be; nothing is held as a shape error."""
    orders = [_order(1), _order(2), _order(3)]
    left_out = orders.pop(position)
    transport = ScriptedTransport([gql({"nodes": list(reversed(orders))})])
    items = list(_client(transport).iter_orders_by_id(["1", "2", "3"]))
    read = sorted(i.id for i in items if isinstance(i, OrderRecord))
    assert read == sorted(o["id"].rsplit("/", 1)[-1] for o in orders)
    held = [i for i in items if isinstance(i, Quarantined)]
    assert [(q.record_id, q.field, q.reason) for q in held] == [
        (left_out["id"].rsplit("/", 1)[-1], "$", NOT_VISIBLE)
    ]
    assert not_visible_orders(held) == [left_out["id"].rsplit("/", 1)[-1]]
    assert "malformed" not in caplog.text


def test_a_shorter_list_of_refunds_reads_those_returned() -> None:
    """The same for refunds: of 2 asked, the one answered is read, the other not visible."""
    refund = {
        "id": "gid://shopify/Refund/20",
        "note": "RMA 1001",
        "createdAt": "2026-01-02T10:00:00Z",
        "processedAt": "2026-01-02T10:00:00Z",
        "order": {"id": "gid://shopify/Order/1"},
        "totalRefundedSet": {
            "presentmentMoney": {"amount": "10.00", "currencyCode": "USD"},
            "shopMoney": {"amount": "10.00", "currencyCode": "USD"},
        },
        "refundLineItems": NO_MORE,
        "transactions": NO_MORE,
    }
    transport = ScriptedTransport([gql({"nodes": [refund]})])
    items = list(_client(transport).iter_refunds_by_id(["10", "20"]))
    assert [i.id for i in items if isinstance(i, RefundRecord)] == ["20"]
    assert [(q.record_id, q.field) for q in items if isinstance(q, Quarantined)] == [("10", "$")]

"""Balance transactions re-polled by id through the real ShopifyClient and the Shopify emulator:
a payout status that changes later, ids that resolve to null, cost-sized chunks (§1, §6, §13).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.exceptions import StarletteDeprecationWarning

from recon.clock import VirtualClock
from recon.models import BalanceTransactionRecord, Quarantined
from recon.sandbox.shopify import create_shopify_app
from recon.sandbox.state import SHOPIFY_TOKEN, SandboxState
from recon.sandbox.world_io import parse_world
from recon.sources.shopify import BALANCE_NOT_VISIBLE, ShopifyClient

with warnings.catch_warnings():  # Starlette 1.x warns at import that it prefers `httpx2`
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _balance(n: int, at: datetime) -> dict[str, Any]:
    """Balance transaction 7000+n: a 10.00 refund, not yet in a payout."""
    return {
        "id": str(7000 + n),
        "type": "REFUND",
        "currency": "USD",
        "amount": "-10.00",
        "net": "-10.00",
        "transaction_date": at.isoformat(),
    }


def _client(rows: int, **world: Any) -> tuple[ShopifyClient, SandboxState, list[int]]:
    """A client on an emulator holding ``rows`` balance transactions; the list gets ids per call."""
    doc = {
        "now": NOW.isoformat(),
        "shop": {"locations": [{"id": "1", "name": "Main"}]},
        "balance_transactions": [_balance(n, NOW - timedelta(days=40)) for n in range(rows)],
        **world,
    }
    state = SandboxState(parse_world(doc), clock=VirtualClock(NOW))
    http = TestClient(create_shopify_app(state))
    ids_per_call: list[int] = []

    def count(request: httpx.Request) -> None:
        body = request.read()
        if b"BalanceTransactionsById" in body:
            ids_per_call.append(body.count(b"ShopifyPaymentsBalanceTransaction/"))

    http.event_hooks = {"request": [count]}
    client = ShopifyClient(
        http,
        base_url="http://testserver",
        api_version="2026-04",
        token=SHOPIFY_TOKEN,
        clock=state.clock,
        check_scopes=False,
    )
    return client, state, ids_per_call


def test_a_pending_row_read_by_id_shows_its_payout_once_it_is_paid() -> None:
    payout = {"id": "6001", "issued_at": (NOW + timedelta(days=2)).isoformat(), "status": "PAID"}
    payout |= {"currency": "USD", "net": "100.00"}
    paid = {"payout_id": "6001", "payout_status": "PAID"}
    revision = {"at": (NOW + timedelta(days=2)).isoformat(), "target": "balance_transaction:7000"}
    client, state, _ = _client(1, payouts=[payout], revisions=[revision | {"set": paid}])
    (before,) = client.iter_balance_transactions_by_id(["7000"])
    assert isinstance(before, BalanceTransactionRecord)
    assert (before.payout_id, before.payout_status) == (None, "PENDING")
    state.clock.advance(timedelta(days=3))
    (after,) = client.iter_balance_transactions_by_id(["7000"])
    assert isinstance(after, BalanceTransactionRecord)
    assert (after.payout_id, after.payout_status, after.amount) == ("6001", "PAID", before.amount)


def test_an_id_that_resolves_to_null_is_quarantined_with_the_reason() -> None:
    client, _, _ = _client(1)
    items = list(client.iter_balance_transactions_by_id(["7000", "7999"]))
    assert [i.id for i in items if isinstance(i, BalanceTransactionRecord)] == ["7000"]
    assert [(q.kind, q.record_id, q.reason) for q in items if isinstance(q, Quarantined)] == [
        ("balance_transaction", "7999", BALANCE_NOT_VISIBLE)
    ]


def test_many_ids_are_read_in_chunks_of_at_most_250_each_once() -> None:
    client, _, ids_per_call = _client(600)
    wanted = [str(7000 + n) for n in range(600)]
    items = list(client.iter_balance_transactions_by_id(wanted + wanted[:10]))
    assert sorted(i.id for i in items if isinstance(i, BalanceTransactionRecord)) == wanted
    assert len(items) == 600
    # Chunks are sized from the document's cost (each id once, none refused for size or cost).
    assert sum(ids_per_call) == 600 and max(ids_per_call) <= 250
    assert len(ids_per_call) == -(-600 // max(ids_per_call))

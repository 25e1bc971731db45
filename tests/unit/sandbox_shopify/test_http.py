"""HTTP edges: auth, versions, injected faults, request ids, dropped write responses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from test_mutations import REFUND, refund_input

from recon.sandbox.faults import Faults
from recon.sandbox.shopify.app import DropWriteResponses
from tests.unit.sandbox_shopify.inline_world import T0, Shopify, order_doc, world_doc

QUERY = "{ orders(first: 1) { nodes { id } } }"


def test_wrong_token_is_401_with_shopify_body(shop: Shopify) -> None:
    response = shop.post(QUERY, token="shpat_wrong")
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_unknown_version_is_404_and_known_ones_answer(shop: Shopify) -> None:
    assert shop.post(QUERY, version="2025-07").status_code == 404
    for version in ("2026-01", "2026-04"):
        response = shop.post(QUERY, version=version)
        assert response.status_code == 200 and response.headers["X-Request-Id"]


def test_server_error_fault_is_a_5xx(make_shop: Callable[..., Shopify]) -> None:
    shop = make_shop(world_doc([]), Faults(error_rate=1.0))
    response = shop.post(QUERY)
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


def test_invalid_document_is_an_error_without_data(shop: Shopify) -> None:
    body = shop.gql("{ orders(first: 1) { nodes { refundsGross } } }")
    assert "data" not in body and "refundsGross" in body["errors"][0]["message"]


def test_a_document_sent_again_is_answered_as_the_first_time(shop: Shopify) -> None:
    """The emulator checks each distinct document once: a second copy of a valid one reads
    today's data, and a bad one (syntax or schema) is refused with the same errors each time."""
    first, again = shop.gql(QUERY), shop.gql(QUERY)
    assert first["data"] == again["data"] and again["data"]["orders"]["nodes"]
    assert again["extensions"]["cost"]["actualQueryCost"] > 0  # still executed and charged
    for bad in ("{ orders(first: 1) { nodes { refundsGross } } }", "{ orders(first: 1) {"):
        first = shop.gql(bad)
        assert "data" not in first and first["errors"] and shop.gql(bad) == first
    syntax = shop.gql("{ orders(first: 1) {")["errors"][0]
    assert syntax["message"].startswith("Syntax Error") and syntax["locations"]


def _drive(app: Any, body: bytes) -> list[dict[str, Any]]:
    """Run one POST through the ASGI app and collect what it sends."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/admin/api/2026-04/graphql.json",
        "raw_path": b"/admin/api/2026-04/graphql.json",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"x-shopify-access-token", b"shpat_sandbox_not_a_secret"),
            (b"content-type", b"application/json"),
        ],
        "scheme": "http",
        "server": ("test", 80),
        "client": ("test", 1),
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_dropped_write_is_applied_but_its_response_promises_more_than_it_sends(
    make_shop: Callable[..., Shopify],
) -> None:
    import json

    shop = make_shop(world_doc([order_doc(1, created=T0)]), Faults(drop_write_rate=1.0))
    payload = json.dumps(
        {"query": REFUND, "variables": {"input": refund_input(), "key": "d1"}}
    ).encode()
    sent = _drive(shop.client.app, payload)
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    length = int(dict(start["headers"])[b"content-length"])
    assert length > len(body)
    assert b"x-recon-drop" not in dict(start["headers"])
    assert len(shop.state.orders_by_id["1001"].refunds) == 1  # the write happened


def test_reads_are_never_dropped(make_shop: Callable[..., Shopify]) -> None:
    shop = make_shop(world_doc([]), Faults(drop_write_rate=1.0))
    assert shop.post(QUERY).json()["data"] == {"orders": {"nodes": []}}


def test_wrapper_passes_other_scopes_through() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(DropWriteResponses(inner)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]

"""Contract tests at the vendor edge: vcrpy cassettes recorded against the sandbox, replayed in CI.

Replay (the default) needs no server: clients point at ``http://sandbox.invalid`` and every request
must match a recorded one on method, path, query and body (GraphQL posts share one URL). With
``RECON_RECORD=1`` the sandbox is started on a tiny inline world and the cassettes are rewritten
(see ``tests/contract/record_cassettes.py``). Recorded requests and responses have their host
rewritten to ``sandbox.invalid`` and every credential removed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import vcr

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # tests/ is not a package
    sys.path.insert(0, str(_ROOT))

from recon.clock import VirtualClock  # noqa: E402
from recon.sandbox.server import SandboxServer  # noqa: E402
from recon.sandbox.state import LOOP_API_KEY, SHOPIFY_TOKEN, SandboxState  # noqa: E402
from recon.sandbox.world import World  # noqa: E402
from recon.sandbox.world_io import parse_world  # noqa: E402

CASSETTES = _ROOT / "tests" / "cassettes"
RECORDING = os.environ.get("RECON_RECORD") == "1"
REPLAY_ORIGIN = "http://sandbox.invalid"
REPLAY_SECRET = "replayed-no-secret"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_LOCAL_ORIGIN = re.compile(rb"https?://(?:127\.0\.0\.1|localhost|\[::1\]):\d+")
_SECRETS = (SHOPIFY_TOKEN, LOOP_API_KEY)
SECRET_HEADERS = ("X-Shopify-Access-Token", "X-Authorization", "Authorization", "Cookie")
SECRET_QUERY = ("access_token", "api_key", "apiKey", "token", "key")


def _scrub(data: bytes) -> bytes:
    data = _LOCAL_ORIGIN.sub(REPLAY_ORIGIN.encode(), data)
    for secret in _SECRETS:
        data = data.replace(secret.encode(), b"FILTERED")
    return data


def _before_record_request(request: Any) -> Any:
    # Applied on recording and on replay matching alike, so both sides compare normalised URLs.
    request.uri = _scrub(request.uri.encode()).decode()
    if "host" in {name.lower() for name in request.headers}:
        request.headers["host"] = REPLAY_ORIGIN.removeprefix("http://")
    if isinstance(request.body, bytes):
        request.body = _scrub(request.body)
    return request


def _before_record_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {})
    if isinstance(body.get("string"), bytes):
        body["string"] = _scrub(body["string"])
    return response


def contract_vcr() -> vcr.VCR:
    """The one cassette configuration of both vendors' contract tests."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        serializer="yaml",
        record_mode="all" if RECORDING else "none",
        match_on=("method", "scheme", "host", "port", "path", "query", "body"),
        filter_headers=[(name, None) for name in SECRET_HEADERS],
        filter_query_parameters=[(name, None) for name in SECRET_QUERY],
        before_record_request=_before_record_request,
        before_record_response=_before_record_response,
        decode_compressed_response=True,
    )


@dataclass(frozen=True)
class Endpoint:
    """Where the clients point and with what credentials (live sandbox, or replay)."""

    shopify_url: str
    loop_url: str
    shopify_token: str
    loop_api_key: str
    clock: VirtualClock


def _order(number: int, refunded: str, updated: str) -> dict[str, Any]:
    """Order 500N with one $80 line (2 x 40.00), a sale and one refund noted with RMA 70N."""
    oid, at = f"500{number}", f"2026-10-0{number}T09:00:00Z"
    return {
        "id": oid,
        "name": f"#100{number}",
        "created_at": at,
        "updated_at": updated,
        "currency": "USD",
        "presentment_currency": "USD",
        "line_items": [{"id": f"{oid}1", "sku": f"TEE-{number}", "quantity": 2, "price": "40.00"}],
        "transactions": [
            {"id": f"{oid}2", "kind": "SALE", "amount": "80.00", "processed_at": at},
            {
                "id": f"{oid}3",
                "kind": "REFUND",
                "amount": refunded,
                "processed_at": updated,
                "parent_id": f"{oid}2",
                "refund_id": f"{oid}4",
            },
        ],
        "refunds": [
            {
                "id": f"{oid}4",
                "note": f"Loop RMA #70{number}",
                "created_at": updated,
                "processed_at": updated,
                "lines": [
                    {
                        "id": f"{oid}5",
                        "line_item_id": f"{oid}1",
                        "quantity": 1,
                        "restock_type": "RETURN",
                        "restocked": True,
                        "location_id": "71234567890",
                        "subtotal": refunded,
                    }
                ],
            }
        ],
    }


def _return(number: int, state: str, refund: str) -> dict[str, Any]:
    at = f"2026-10-2{number}T10:00:00Z"
    return {
        "id": f"70{number}",
        "state": state,
        "created_at": at,
        "updated_at": at,
        "outcome": "refund",
        "order_id": f"90{number}",
        "provider_order_id": f"500{number}",
        "order_name": f"#100{number}",
        "currency": "USD",
        "total": "40.00",
        "refund": refund,
        "line_items": [
            {
                "line_item_id": f"80{number}",
                "provider_line_item_id": f"500{number}1",
                "sku": f"TEE-{number}",
                "price": "40.00",
                "refund": refund,
                "returned_at": at,
            }
        ],
    }


def contract_world() -> World:
    """Five orders with one refund each; five Loop returns (four closed, one open); payouts."""
    refunds = ("40.00", "40.00", "35.50", "40.00", "12.34")
    return parse_world(
        {
            "now": NOW.isoformat(),
            "shop": {"locations": [{"id": "71234567890", "name": "Main"}]},
            "orders": [_order(n, refunds[n - 1], f"2026-10-2{n}T11:00:00Z") for n in range(1, 6)],
            "loop_returns": [
                _return(n, "open" if n == 5 else "closed", refunds[n - 1]) for n in range(1, 6)
            ],
            "payouts": [
                {
                    "id": f"6000{n}",
                    "issued_at": f"2026-10-1{n}T08:00:00Z",
                    "status": "PAID",
                    "currency": "USD",
                    "net": f"{100 * n}.25",
                    "summary": {"charges_gross": f"{100 * n + 3}.25", "refunds_fee_gross": "-3.00"},
                }
                for n in range(1, 6)
            ],
        }
    )


def use_cassette(name: str) -> Any:
    """A cassette context; recording starts from an empty file (``all`` mode would append)."""
    if RECORDING:
        (CASSETTES / name).unlink(missing_ok=True)
    return contract_vcr().use_cassette(name)


@pytest.fixture
def cassette() -> Callable[[str], Any]:
    """``cassette(name)``: open a contract cassette (see ``use_cassette``)."""
    return use_cassette


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """The live sandbox when recording, else the replay host (nothing listens there)."""
    clock = VirtualClock(NOW)
    if not RECORDING:
        yield Endpoint(REPLAY_ORIGIN, f"{REPLAY_ORIGIN}/api", REPLAY_SECRET, REPLAY_SECRET, clock)
        return
    with SandboxServer(SandboxState(contract_world(), clock=clock)) as server:
        yield Endpoint(
            server.shopify_base_url,
            server.loop_base_url,
            server.shopify_token,
            server.loop_api_key,
            clock,
        )

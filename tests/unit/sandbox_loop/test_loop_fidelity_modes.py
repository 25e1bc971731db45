"""The sandbox exercises Loop's unknowns: switches for the unverified shapes, both forms served.

Datasets are inline: a closed refund return with a Loop-created Shopify refund (for the refund
object switch), and 24 closed returns in groups of four sharing one ``updated_at`` second (for the
timestamp-only cursor, where page edges fall inside those groups).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from loop_worlds import AUTH, DETAILS, LIST, NOW, TestClient, make_return, make_world

from recon.sandbox.faults import Faults
from recon.sandbox.loop import create_loop_app
from recon.sandbox.state import SandboxState

PROCESSED = datetime(2026, 10, 20, 14, 22, 12, tzinfo=UTC)
WINDOW = {"from": "2026-10-01 00:00:00", "to": "2026-11-01 12:00:00", "filter": "updated_at"}


def _client(returns, **faults) -> TestClient:
    state = SandboxState(make_world(returns), faults=Faults(**faults))
    return TestClient(create_loop_app(state))


def _refunded(return_id: int):
    return make_return(
        return_id,
        created_at=PROCESSED - timedelta(days=3),
        updated_at=PROCESSED,
        provider_refund_id=str(880000 + return_id),
        refund_processed_at=PROCESSED,
        return_processed_at=PROCESSED,
    )


def _items(client: TestClient, **extra) -> list[dict]:
    params = {**WINDOW, "state": "closed", "paginate": "true", **extra}
    response = client.get(LIST, headers=AUTH, params=params)
    assert response.status_code == 200, response.text
    return response.json()["returns"]


def test_refund_object_switch_leaves_it_out_of_list_items_but_details_keep_refunds():
    with _client([_refunded(4001)], loop_omit_refund_object=True) as client:
        [item] = _items(client)
        details = client.get(DETAILS, headers=AUTH, params={"return_id": "4001"}).json()
    assert "shopify_refund_object" not in item
    assert item["refund"] == "48.60"
    assert [r["provider_refund_id"] for r in details["refunds"]] == ["884001"]


def test_by_default_list_items_carry_the_refund_object():
    with _client([_refunded(4001)]) as client:
        [item] = _items(client)
    assert [o["provider_refund_id"] for o in item["shopify_refund_object"]] == [884001]


def test_list_items_carry_refund_shipping_totals():
    with _client([_refunded(4001)]) as client:
        [item] = _items(client)
    assert item["refund_shipping_total"] == "0.00"
    assert item["refund_shipping_tax_total"] == "0.00"


def test_outcomes_processed_at_comes_as_plain_strings_for_some_returns_objects_for_others():
    """Ids ending 3 mod 4 get ``"2024-03-05 14:22:12"`` strings; the rest the PHP object form."""
    with _client([_refunded(4003), _refunded(4001)]) as client:
        items = {item["id"]: item["outcomes_processed_at"] for item in _items(client)}
    assert items["4003"]["refund_processed"] == "2026-10-20 14:22:12"
    assert items["4003"]["exchange_processed"] is None
    assert items["4001"]["refund_processed"] == {
        "date": "2026-10-20 14:22:12.000000",
        "timezone_type": 3,
        "timezone": "UTC",
    }


def _tied_dataset():
    """24 closed returns, four per ``updated_at`` second (with distinct milliseconds)."""
    base = NOW - timedelta(days=2)
    return [
        make_return(
            2000 + n,
            created_at=base - timedelta(days=1),
            updated_at=base + timedelta(minutes=n // 4, milliseconds=100 * (n % 4)),
        )
        for n in range(24)
    ]


def _walk(client: TestClient, page_size: str) -> tuple[list[str], list[str]]:
    """Follow every next page, re-sending the window, state and paginate; (ids, cursors)."""
    seen, cursors = [], []
    resend = {**WINDOW, "state": "closed", "paginate": "true"}
    body = client.get(LIST, headers=AUTH, params={**resend, "pageSize": page_size}).json()
    while True:
        seen.extend(item["id"] for item in body["returns"])
        if body["nextPageUrl"] is None:
            return seen, cursors
        parts = urlsplit(body["nextPageUrl"])
        query = {**dict(parse_qsl(parts.query)), **resend}
        cursors.append(query["cursor"])
        body = client.get(parts.path, headers=AUTH, params=query).json()


def _decode(cursor: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def test_id_less_cursors_are_loops_shape_and_skip_rows_sharing_the_edge_second():
    returns = _tied_dataset()
    with _client(returns, loop_cursor_without_id=True) as client:
        seen, cursors = _walk(client, page_size="5")
    first = _decode(cursors[0])
    assert set(first) == {"updated_at", "_pointsToNextItems"}
    assert first["updated_at"].endswith(":00")  # whole seconds, as in Loop's sample
    assert len(seen) == len(set(seen))  # nothing repeated...
    assert len(seen) < len(returns)  # ...but rows sharing a page-edge second are lost


def test_cursors_with_the_id_tie_breaker_return_every_row_once():
    returns = _tied_dataset()
    with _client(returns) as client:
        seen, cursors = _walk(client, page_size="5")
    assert "id" in _decode(cursors[0])
    assert sorted(seen) == sorted(r.id for r in returns)


def _window_ids(client: TestClient, start: str, end: str) -> list[str]:
    params = {"from": start, "to": end, "filter": "updated_at", "state": "closed"}
    response = client.get(LIST, headers=AUTH, params={**params, "paginate": "true"})
    assert response.status_code == 200, response.text
    return sorted(str(r["id"]) for r in response.json()["returns"])


def _updated_hourly() -> list:
    """Closed returns 5001..5024, updated at 00:30, 01:30, ... 23:30 UTC on 20 October."""
    base = datetime(2026, 10, 20, 0, 30, tzinfo=UTC)
    return [
        make_return(
            5001 + h, created_at=base - timedelta(days=2), updated_at=base + timedelta(hours=h)
        )
        for h in range(24)
    ]


def test_by_default_from_and_to_are_read_in_the_zone_they_name():
    with _client(_updated_hourly()) as client:
        utc = _window_ids(client, "2026-10-20T10:00:00Z", "2026-10-20T12:00:00Z")
        offset = _window_ids(client, "2026-10-20T12:00:00+02:00", "2026-10-20T14:00:00+02:00")
    assert utc == offset == ["5011", "5012"]  # 10:30 and 11:30 UTC


def test_zone_switch_reads_from_and_to_as_wall_time_in_the_shop_zone():
    """Loop's zone for from/to is unknown (§6 trap 6): the switch serves the unkind reading, in
    which a window written in UTC lands ``loop_zone_hours`` off."""
    with _client(_updated_hourly(), loop_zone_hours=-5) as client:
        # 10:00..12:00 New York wall time is 15:00..17:00 UTC, whatever zone was written.
        ids = _window_ids(client, "2026-10-20T10:00:00Z", "2026-10-20T12:00:00Z")
        response = client.get(
            LIST,
            headers=AUTH,
            params={
                "from": "2026-10-20 00:00:00",
                "to": "2026-10-20 23:59:59",
                "filter": "updated_at",
                "state": "closed",
                "paginate": "true",
                "pageSize": "2",
            },
        )
    assert ids == ["5016", "5017"]  # 15:30 and 16:30 UTC
    next_url = response.json()["nextPageUrl"]
    # Loop's next page URL writes `to` back as the server reads it: the wall time sent.
    assert dict(parse_qsl(urlsplit(next_url).query))["to"] == "2026-10-20 23:59:59"

"""Paging through the Detailed Returns List: exactly-once with re-sent params, and Loop's traps.

Dataset: 60 returns over the last 50 hours, a dozen of each state, in groups of four sharing one
``updated_at`` second so page edges fall inside ties (the cursor's id tie-breaker must hold).
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from loop_worlds import AUTH, LIST, NOW, TestClient, make_return, make_world

from recon.sandbox.faults import Faults
from recon.sandbox.loop import create_loop_app
from recon.sandbox.state import SandboxState

STATES = ["open", "closed", "cancelled", "expired", "review"]
WINDOW = {"from": "2026-10-25 00:00:00", "to": "2026-11-01 12:00:00", "filter": "updated_at"}


def _dataset():
    returns = []
    for n in range(60):
        updated = NOW - timedelta(hours=50) + timedelta(minutes=40 * (n // 4))
        returns.append(
            make_return(
                1000 + n,
                state=STATES[n % 5],
                created_at=updated - timedelta(days=1),
                updated_at=updated,
            )
        )
    return returns


def _follow(client, url, resend):
    """GET a page URL with ``resend`` merged over its own query (httpx 0.28 would replace it)."""
    parts = urlsplit(url)
    return client.get(parts.path, headers=AUTH, params={**dict(parse_qsl(parts.query)), **resend})


def _walk(client, first_params, resend):
    """Follow nextPageUrl to the end; ``paginate=true`` and ``resend`` are merged over each next
    URL's own query (Loop's next URL lacks ``paginate``, like ``from`` and ``state``)."""
    seen, pages = [], 0
    response = client.get(LIST, headers=AUTH, params=first_params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(item["id"] for item in body["returns"])
        pages += 1
        if body["nextPageUrl"] is None:
            return seen, pages
        response = _follow(client, body["nextPageUrl"], {"paginate": "true", **resend})


@pytest.mark.parametrize("state", STATES)
def test_paging_with_params_resent_returns_every_record_exactly_once(loop_client, state):
    returns = _dataset()
    client = loop_client(returns)
    params = {**WINDOW, "state": state, "paginate": "true", "pageSize": "5"}
    seen, pages = _walk(client, params, resend={**WINDOW, "state": state})
    expected = {r.id for r in returns if r.state.value == state}
    assert len(seen) == len(set(seen)) == len(expected) == 12
    assert set(seen) == expected
    assert pages == 3


def test_default_states_page_through_open_closed_and_expired_only(loop_client):
    returns = _dataset()
    client = loop_client(returns)
    params = {**WINDOW, "paginate": "true", "pageSize": "7"}
    seen, _ = _walk(client, params, resend=WINDOW)
    expected = {r.id for r in returns if r.state.value in {"open", "closed", "expired"}}
    assert sorted(seen) == sorted(expected)


def test_next_page_url_carries_to_filter_page_size_and_cursor_but_not_from_or_state(loop_client):
    client = loop_client(_dataset())
    params = {**WINDOW, "state": "open", "paginate": "true", "pageSize": "5"}
    body = client.get(LIST, headers=AUTH, params=params).json()
    url = urlsplit(body["nextPageUrl"])
    query = parse_qs(url.query)
    assert url.scheme == "http"
    assert url.path == LIST
    # Loop's sample next URL has no paginate either (examples/loop/list-page-paginated.json).
    assert set(query) == {"to", "filter", "pageSize", "cursor"}
    assert query["to"] == ["2026-11-01 12:00:00"]
    assert query["filter"] == ["updated_at"]
    cursor = query["cursor"][0]
    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert decoded["_pointsToNextItems"] is True
    assert set(decoded) == {"updated_at", "id", "_pointsToNextItems"}
    assert body["previousPageUrl"] is None


def test_following_next_page_url_as_given_walks_back_through_all_history(loop_client):
    """The trap (reference §6.3): Loop's nextPageUrl drops ``from``; a client that does not
    re-send it receives returns from long before the window it asked for."""
    recent = [make_return(1 + n, created_at=NOW - timedelta(days=n + 1)) for n in range(4)]
    ancient = [make_return(100 + n, created_at=NOW - timedelta(days=400 + n)) for n in range(3)]
    client = loop_client(recent + ancient)
    params = {"from": "2026-10-20", "to": "2026-11-01 12:00:00", "paginate": "true"}
    naive, _ = _walk(client, {**params, "pageSize": "2"}, resend={})
    careful, _ = _walk(client, {**params, "pageSize": "2"}, resend={"from": "2026-10-20"})
    assert set(careful) == {r.id for r in recent}
    assert set(naive) == {r.id for r in recent + ancient}


def test_following_next_page_url_as_given_also_forgets_the_state(loop_client):
    returns = [
        make_return(1 + n, state=STATES[n % 5], created_at=NOW - n * timedelta(hours=1))
        for n in range(10)
    ]
    client = loop_client(returns)
    params = {
        "from": "2026-10-31",
        "to": "2026-11-01 12:00:00",
        "state": "cancelled",
        "paginate": "true",
        "pageSize": "1",
    }
    naive, _ = _walk(client, params, resend={"from": "2026-10-31"})
    states = {r.id: r.state.value for r in returns}
    assert states[naive[0]] == "cancelled"
    assert {states[i] for i in naive[1:]} == {"open", "closed", "expired"}


def test_previous_page_url_leads_back_to_the_page_before(loop_client):
    client = loop_client(_dataset())
    params = {**WINDOW, "state": "closed", "paginate": "true", "pageSize": "5"}
    first = client.get(LIST, headers=AUTH, params=params).json()
    resend = WINDOW | {"state": "closed", "paginate": "true"}
    second = _follow(client, first["nextPageUrl"], resend).json()
    back = _follow(client, second["previousPageUrl"], resend).json()
    assert [r["id"] for r in back["returns"]] == [r["id"] for r in first["returns"]]
    assert back["previousPageUrl"] is None
    assert back["nextPageUrl"] is not None


def test_pages_are_newest_first_by_the_filter_column_then_id(loop_client):
    client = loop_client(_dataset())
    body = client.get(LIST, headers=AUTH, params={**WINDOW, "paginate": "true"}).json()
    keys = [(r["updated_at"], int(r["id"])) for r in body["returns"]]
    assert keys == sorted(keys, reverse=True)


def test_without_paginate_the_answer_is_a_bare_array_of_every_match(loop_client):
    returns = [make_return(1 + n, created_at=NOW - timedelta(minutes=n + 1)) for n in range(130)]
    client = loop_client(returns)
    body = client.get(LIST, headers=AUTH, params={"from": "2026-10-31", "to": "2026-11-02"}).json()
    assert isinstance(body, list)
    assert len(body) == 130  # more than the default page size of 100: no paging at all


def test_paginated_default_page_size_is_100(loop_client):
    returns = [make_return(1 + n, created_at=NOW - timedelta(minutes=n + 1)) for n in range(130)]
    client = loop_client(returns)
    params = {"from": "2026-10-31", "to": "2026-11-02", "paginate": "true"}
    body = client.get(LIST, headers=AUTH, params=params).json()
    assert set(body) == {"returns", "nextPageUrl", "previousPageUrl"}
    assert len(body["returns"]) == 100
    assert body["nextPageUrl"] is not None


def _oldest_first_client():
    """The dataset served oldest first (``Faults.loop_oldest_first``; trap 5: no order known)."""
    state = SandboxState(make_world(_dataset()), faults=Faults(loop_oldest_first=True))
    return TestClient(create_loop_app(state))


@pytest.mark.parametrize("cursor_id", [True, False])
def test_oldest_first_pages_run_forward_in_time_and_return_every_record_once(cursor_id):
    state = SandboxState(
        make_world(_dataset()),
        faults=Faults(loop_oldest_first=True, loop_cursor_without_id=not cursor_id),
    )
    with TestClient(create_loop_app(state)) as client:
        params = {**WINDOW, "state": "closed", "paginate": "true", "pageSize": "5"}
        first = client.get(LIST, headers=AUTH, params=params).json()
        seen, pages = _walk(client, params, resend={**WINDOW, "state": "closed"})
    keys = [(r["updated_at"], int(r["id"])) for r in first["returns"]]
    assert keys == sorted(keys)  # oldest first
    assert pages == 3
    # No two closed returns share a second here, so either cursor shape reaches every one once.
    assert sorted(seen) == sorted(str(1000 + n) for n in range(60) if n % 5 == 1)


def test_oldest_first_previous_page_url_leads_back_to_the_page_before():
    with _oldest_first_client() as client:
        params = {**WINDOW, "state": "closed", "paginate": "true", "pageSize": "5"}
        first = client.get(LIST, headers=AUTH, params=params).json()
        resend = WINDOW | {"state": "closed", "paginate": "true"}
        second = _follow(client, first["nextPageUrl"], resend).json()
        back = _follow(client, second["previousPageUrl"], resend).json()
    assert [r["id"] for r in back["returns"]] == [r["id"] for r in first["returns"]]
    assert back["previousPageUrl"] is None
    assert [r["updated_at"] for r in second["returns"]] > [
        r["updated_at"] for r in first["returns"]
    ]

"""The Detailed Returns List's rules: windows, states, validation, auth, versions, limits, faults.

Each dataset is a handful of returns placed around NOW (2026-11-01 12:00 UTC) so the expected ids
can be read off the test itself.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from loop_worlds import AUTH, DETAILS, LIST, NOW, TestClient, make_return, make_world

from recon.clock import VirtualClock
from recon.sandbox.faults import Faults
from recon.sandbox.loop import create_loop_app
from recon.sandbox.state import SandboxState
from recon.sandbox.world import Revision

HOUR = timedelta(hours=1)


def ids(body: list[dict[str, object]]) -> set[str]:
    return {str(item["id"]) for item in body}


def test_no_window_means_the_last_24_hours_only(loop_client):
    client = loop_client(
        [
            make_return(1, created_at=NOW - 1 * HOUR),
            make_return(2, created_at=NOW - 23 * HOUR),
            make_return(3, created_at=NOW - 25 * HOUR),
            make_return(4, created_at=NOW - 400 * HOUR),
            make_return(5, created_at=NOW + 1 * HOUR),  # not created yet
        ]
    )
    response = client.get(LIST, headers=AUTH)
    assert response.status_code == 200
    assert ids(response.json()) == {"1", "2"}


def test_to_alone_reaches_back_to_the_beginning_and_from_alone_runs_to_now(loop_client):
    client = loop_client(
        [
            make_return(1, created_at=NOW - 1 * HOUR),
            make_return(2, created_at=NOW - 5000 * HOUR),
            make_return(3, created_at=NOW + 1 * HOUR),
        ]
    )
    only_to = client.get(LIST, headers=AUTH, params={"to": "2026-11-01 12:00:00"})
    assert ids(only_to.json()) == {"1", "2"}
    only_from = client.get(LIST, headers=AUTH, params={"from": "2026-10-31"})
    assert ids(only_from.json()) == {"1"}


@pytest.mark.parametrize(
    ("start", "status"),
    [("2026-07-03 12:00:00", 200), ("2026-07-03 11:59:59", 422)],
)
def test_windows_over_120_days_are_rejected(loop_client, start, status):
    client = loop_client([make_return(1, created_at=NOW - HOUR)])
    response = client.get(LIST, headers=AUTH, params={"from": start, "to": "2026-10-31 12:00:00"})
    assert response.status_code == status
    if status == 422:
        body = response.json()
        assert "120 days" in body["message"]
        assert list(body["errors"]) == ["to"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-10-31 00:00:00", "2026-11-01 12:00:00"),
        ("2026-10-31T00:00:00.000Z", "2026-11-01T12:00:00Z"),
        ("2026-10-31T02:00:00+02:00", "2026-11-01T13:00:00+01:00"),
        ("2026-10-31", "2026-11-01T12:00:00.000+00:00"),
    ],
)
def test_date_formats_loop_accepts_mean_the_same_utc_window(loop_client, start, end):
    client = loop_client(
        [
            make_return(1, created_at=NOW - 1 * HOUR),
            make_return(2, created_at=NOW - 36 * HOUR),  # 2026-10-31 00:00: inclusive lower edge
            make_return(3, created_at=NOW - 37 * HOUR),
        ]
    )
    response = client.get(LIST, headers=AUTH, params={"from": start, "to": end})
    assert response.status_code == 200
    assert ids(response.json()) == {"1", "2"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday", "to": "2026-11-01"}, "from"),
        ({"from": "2026-10-01", "to": "01/11/2026"}, "to"),
        ({"from": "2026-11-01", "to": "2026-10-01"}, "to"),
        ({"filter": "edited_at"}, "filter"),
        ({"state": "closed,open"}, "state"),
        ({"state": "archived"}, "state"),
        ({"paginate": "yes"}, "paginate"),
        ({"paginate": "true", "pageSize": "751"}, "pageSize"),
        ({"paginate": "true", "pageSize": "0"}, "pageSize"),
        ({"paginate": "true", "cursor": "not-a-cursor"}, "cursor"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(loop_client, params, field):
    client = loop_client([make_return(1, created_at=NOW - HOUR)])
    response = client.get(LIST, headers=AUTH, params=params)
    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["message"], str)
    assert list(body["errors"]) == [field]


def test_page_size_750_is_the_maximum_allowed(loop_client):
    client = loop_client([make_return(1, created_at=NOW - HOUR)])
    response = client.get(LIST, headers=AUTH, params={"paginate": "true", "pageSize": "750"})
    assert response.status_code == 200


ALL_STATES = ["open", "closed", "cancelled", "expired", "review"]


def _one_per_state():
    return [make_return(i + 1, state=s, created_at=NOW - HOUR) for i, s in enumerate(ALL_STATES)]


def test_without_state_cancelled_and_review_are_silently_left_out(loop_client):
    client = loop_client(_one_per_state())
    body = client.get(LIST, headers=AUTH).json()
    assert sorted(item["state"] for item in body) == ["closed", "expired", "open"]


@pytest.mark.parametrize("state", ALL_STATES)
def test_asking_for_a_state_returns_exactly_that_state(loop_client, state):
    client = loop_client(_one_per_state())
    body = client.get(LIST, headers=AUTH, params={"state": state}).json()
    assert [item["state"] for item in body] == [state]


@pytest.mark.parametrize("version", ["v1", "2026-07", "2026-10"])
def test_supported_versions_answer(loop_client, version):
    client = loop_client([make_return(1, created_at=NOW - HOUR)])
    response = client.get(f"/api/{version}/warehouse/return/list", headers=AUTH)
    assert response.status_code == 200


def test_unknown_version_is_404(loop_client):
    client = loop_client([make_return(1, created_at=NOW - HOUR)])
    assert client.get("/api/2025-01/warehouse/return/list", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Authorization": "wrong"}, {"Authorization": AUTH["X-Authorization"]}],
)
@pytest.mark.parametrize("path", [LIST, DETAILS])
def test_missing_or_wrong_key_is_401_with_loops_body(loop_client, headers, path):
    client = loop_client([make_return(1, created_at=NOW - HOUR)])
    response = client.get(path, headers=headers, params={"return_id": "1"})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}
    }


def test_300_requests_a_minute_then_429_until_the_minute_has_rolled(loop_client, clock):
    client = loop_client([make_return(1, created_at=NOW - HOUR)], rate_limit=True)
    statuses = [client.get(LIST, headers=AUTH).status_code for _ in range(300)]
    assert set(statuses) == {200}
    refused = client.get(LIST, headers=AUTH)
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too Many Attempts."}
    assert "retry-after" not in refused.headers  # Loop documents none (reference §4)
    clock.advance(timedelta(seconds=59))
    assert client.get(LIST, headers=AUTH).status_code == 429
    clock.advance(timedelta(seconds=1))
    assert client.get(LIST, headers=AUTH).status_code == 200


def test_rate_limit_is_off_unless_asked_for(loop_client):
    client = loop_client([make_return(1, created_at=NOW - HOUR)])
    statuses = {client.get(LIST, headers=AUTH).status_code for _ in range(305)}
    assert statuses == {200}


def test_server_error_fault_answers_5xx():
    state = SandboxState(
        make_world([make_return(1, created_at=NOW - HOUR)]),
        clock=VirtualClock(NOW),
        faults=Faults(error_rate=1.0),
    )

    with TestClient(create_loop_app(state)) as client:
        statuses = [client.get(LIST, headers=AUTH).status_code for _ in range(4)]
    assert set(statuses) == {500, 503}


def test_revisions_apply_as_the_clock_passes_them():
    """Return 1 is open now and closes in an hour (a revision); the index follows."""
    world = make_world([make_return(1, state="open", created_at=NOW - HOUR)])
    world.revisions.append(
        Revision(
            at=NOW + HOUR,
            target="loop_return:1",
            set={"state": "closed", "updated_at": (NOW + HOUR).isoformat()},
        )
    )
    clock = VirtualClock(NOW)

    with TestClient(create_loop_app(SandboxState(world, clock=clock))) as client:
        window = {"from": "2026-10-31", "to": "2026-11-02", "filter": "updated_at"}
        before = client.get(LIST, headers=AUTH, params={**window, "state": "open"}).json()
        clock.advance(2 * HOUR)
        after_open = client.get(LIST, headers=AUTH, params={**window, "state": "open"}).json()
        after_closed = client.get(LIST, headers=AUTH, params={**window, "state": "closed"}).json()
    assert ids(before) == {"1"}
    assert after_open == []
    assert [(r["id"], r["updated_at"]) for r in after_closed] == [("1", "2026-11-01T13:00:00.000Z")]

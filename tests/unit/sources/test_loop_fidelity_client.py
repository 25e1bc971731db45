"""LoopClient against the Loop emulator in each of its fidelity modes, and Loop's 429 policy.

Datasets: 60 closed returns in groups of five sharing one ``updated_at`` second (page edges fall
inside the groups), and a handful of closed returns refunded by Loop; 429 behaviour is scripted.
"""

from __future__ import annotations

import random
import sys
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sources_scripted import ScriptedTransport

from recon.clock import VirtualClock
from recon.models import LoopReturnRecord
from recon.sandbox.faults import Faults
from recon.sandbox.loop import create_loop_app
from recon.sandbox.state import LOOP_API_KEY, SandboxState
from recon.sandbox.world_loop import LoopReturn
from recon.sources.http import RetryPolicy
from recon.sources.loop import LoopClient
from recon.sources.loop_windows import ZONE_SHIFTS, cursor_breaks_ties

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox_loop"))
from loop_worlds import AUTH, LIST, NOW, make_return, make_world

with warnings.catch_warnings():  # Starlette's one-off import warning (see loop_worlds.py)
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

START, END = NOW - timedelta(days=30), NOW


def _sandbox(returns: list[LoopReturn], **faults: Any) -> tuple[TestClient, list[httpx.Request]]:
    state = SandboxState(make_world(returns), faults=Faults(**faults))
    http = TestClient(create_loop_app(state), base_url="http://testserver")
    sent: list[httpx.Request] = []
    http.event_hooks = {"request": [sent.append], "response": []}
    return http, sent


def _loop(http: httpx.Client, page_size: int = 750) -> LoopClient:
    return LoopClient(
        http,
        base_url="http://testserver/api",
        api_version="2026-07",
        api_key=LOOP_API_KEY,
        clock=VirtualClock(NOW),
        page_size=page_size,
        policy=RetryPolicy(zero_wait=True),
    )


def _tied(count: int = 60, per_second: int = 5) -> list[LoopReturn]:
    base = NOW - timedelta(days=3)
    return [
        make_return(
            3000 + n,
            created_at=base - timedelta(days=1),
            updated_at=base + timedelta(seconds=n // per_second, milliseconds=7 * (n % 5)),
        )
        for n in range(count)
    ]


def _ids(items: list[object]) -> list[str]:
    return [i.id for i in items if isinstance(i, LoopReturnRecord)]


@pytest.mark.parametrize("oldest_first", [False, True])  # Loop documents no order (§6 trap 5)
@pytest.mark.parametrize("page_size", [3, 4, 7])
def test_timestamp_only_cursors_still_yield_every_record_exactly_once(
    page_size: int, oldest_first: bool
) -> None:
    returns = _tied()
    http, sent = _sandbox(returns, loop_cursor_without_id=True, loop_oldest_first=oldest_first)
    with http:
        ids = _ids(list(_loop(http, page_size).iter_returns(START, END, "closed")))
    assert sorted(ids) == sorted(r.id for r in returns)
    assert len(ids) == len(set(ids))
    edge_queries = [r for r in sent if r.url.params["to"] != "2026-11-01T12:00:00Z"]
    assert edge_queries, "the page-edge second was never re-read"
    for request in edge_queries:
        low = datetime.fromisoformat(request.url.params["from"])
        high = datetime.fromisoformat(request.url.params["to"])
        # The edge second and the one before: Loop's ``from`` may be exclusive.
        assert high - low == timedelta(seconds=2)
        assert request.url.params["state"] == "closed"
        assert request.url.params["filter"] == "updated_at"


@pytest.mark.parametrize("zone_hours", [3.0, -5.0, 5.5])
def test_page_edge_seconds_are_found_when_loop_reads_windows_in_the_shop_zone(
    zone_hours: float,
) -> None:
    """Loop's zone for from/to is unknown (trap 6) and its sample cursor has no id (trap 4).

    With both, the re-read of a page-edge second written in UTC lands ``zone_hours`` off and
    brings back none of the rows the next page skipped: they were lost (18 of 60 here), and on a
    quiet store lost again every night, the page edges falling in the same places.
    """
    returns = _tied(per_second=5)
    http, sent = _sandbox(returns, loop_cursor_without_id=True, loop_zone_hours=zone_hours)
    with http:
        loop = _loop(http, 7)
        ids = _ids(list(loop.iter_returns(START, END, "closed")))
        again = _ids(list(loop.iter_returns(START, END, "closed")))
    assert sorted(ids) == sorted(again) == sorted(r.id for r in returns)
    assert len(ids) == len(set(ids))
    # The shift is searched for once, then used at every page edge: per read, 9 pages and 8
    # edge re-reads.
    assert len(sent) <= 2 * (9 + 8) + len(ZONE_SHIFTS)


def test_a_shift_learned_earlier_is_dropped_when_loop_reads_utc_again() -> None:
    """The client learned Loop's +3 h reading; then Loop reads the UTC sent (fixed, or another
    host behind the same address). Edge re-reads at the learned shift hold nothing: the search
    must try no shift too, or the skipped rows are lost."""
    returns = _tied(per_second=5)
    state = SandboxState(
        make_world(returns), faults=Faults(loop_cursor_without_id=True, loop_zone_hours=3.0)
    )
    with TestClient(create_loop_app(state), base_url="http://testserver") as http:
        loop = _loop(http, 7)
        first = _ids(list(loop.iter_returns(START, END, "closed")))
        state.faults = Faults(loop_cursor_without_id=True)
        again = _ids(list(loop.iter_returns(START, END, "closed")))
    assert sorted(first) == sorted(again) == sorted(r.id for r in returns)


def test_a_quarantined_row_at_a_page_edge_does_not_hide_its_second() -> None:
    """The page's last row is unusable (unknown currency): the next page still starts past *its*
    second, so the re-read must be of that second, not of the last usable row's."""
    returns = _tied()
    returns[4].currency = "XYZ"  # 3004: the newest of its second, last on the first 6-row page
    http, _sent = _sandbox(returns, loop_cursor_without_id=True)
    with http:
        items = list(_loop(http, 6).iter_returns(START, END, "closed"))
    quarantined = {i.record_id for i in items if not isinstance(i, LoopReturnRecord)}
    assert quarantined == {"3004"}
    kept = [i.id for i in items if isinstance(i, LoopReturnRecord)]
    assert sorted(kept) == sorted(r.id for r in returns if r.id != "3004")


def test_cursors_with_an_id_need_no_edge_requery() -> None:
    returns = _tied()
    http, sent = _sandbox(returns)
    with http:
        ids = _ids(list(_loop(http, 7).iter_returns(START, END, "closed")))
    assert sorted(ids) == sorted(r.id for r in returns)
    assert len(sent) == 9  # ceil(60 / 7) pages, nothing else


def test_next_pages_are_requested_paginated_though_the_next_url_lacks_it() -> None:
    http, sent = _sandbox(_tied(12))
    with http:
        ids = _ids(list(_loop(http, 5).iter_returns(START, END, "closed")))
    assert len(ids) == 12
    assert len(sent) == 3
    for request in sent[1:]:
        assert "cursor" in request.url.params
        assert request.url.params["paginate"] == "true"
        assert request.url.params["from"] == "2026-10-02T12:00:00Z"


def _loop_refunded(return_id: int) -> LoopReturn:
    at = NOW - timedelta(days=2)
    return make_return(
        return_id,
        created_at=at - timedelta(days=5),
        updated_at=at,
        provider_refund_id=str(990000 + return_id),
        refund_processed_at=at,
    )


def test_without_the_refund_object_the_client_takes_refunds_from_details() -> None:
    refunded = [_loop_refunded(5001 + n) for n in range(3)]
    by_hand = make_return(5100, created_at=NOW - timedelta(days=4))  # closed, no Loop refund
    http, sent = _sandbox([*refunded, by_hand], loop_omit_refund_object=True)
    with http:
        items = list(_loop(http).iter_returns(START, END, "closed"))
    links = {i.id: [r.provider_refund_id for r in i.refunds] for i in items}  # type: ignore[union-attr]
    assert links == {"5001": ["995001"], "5002": ["995002"], "5003": ["995003"], "5100": []}
    record = next(i for i in items if i.id == "5001")
    assert isinstance(record, LoopReturnRecord)
    assert record.refunds[0].amount == Decimal("48.60")
    assert record.raw["refunds"][0]["provider_refund_id"] == "995001"  # audit: what was used
    detail_calls = [r for r in sent if r.url.path.endswith("/details")]
    assert sorted(r.url.params["return_id"] for r in detail_calls) == [
        "5001",
        "5002",
        "5003",
        "5100",
    ]


def test_with_the_refund_object_no_details_are_fetched() -> None:
    refunded = [_loop_refunded(5001 + n) for n in range(3)]
    by_hand = make_return(5100, created_at=NOW - timedelta(days=4))
    http, sent = _sandbox([*refunded, by_hand])
    with http:
        items = list(_loop(http).iter_returns(START, END, "closed"))
    assert {i.id: len(i.refunds) for i in items} == {  # type: ignore[union-attr]
        "5001": 1,
        "5002": 1,
        "5003": 1,
        "5100": 0,
    }
    assert [r.url.path.rsplit("/", 1)[-1] for r in sent] == ["list"]


def test_outcomes_processed_at_parses_in_both_forms() -> None:
    """Return 5003 (3 mod 4) is served plain strings, 5001 the object form: same instant."""
    http, _ = _sandbox([_loop_refunded(5001), _loop_refunded(5003)])
    with http:
        items = list(_loop(http).iter_returns(START, END, "closed"))
    moments = {i.id: i.refund_processed_at for i in items}  # type: ignore[union-attr]
    assert moments == {"5001": NOW - timedelta(days=2), "5003": NOW - timedelta(days=2)}
    raw = {i.id: i.raw["outcomes_processed_at"]["refund_processed"] for i in items}  # type: ignore[union-attr]
    assert isinstance(raw["5003"], str) and isinstance(raw["5001"], dict)


def test_cursor_tie_breaker_is_read_not_assumed() -> None:
    assert cursor_breaks_ties("eyJ1cGRhdGVkX2F0IjoiMjAyNC0wMy0wNSAxNDoyMjoxNSIsImlkIjoiNyJ9")
    # Loop's sample shape: the timestamp only.
    assert not cursor_breaks_ties(
        "eyJ1cGRhdGVkX2F0IjoiMjAyNC0wMy0wNSAxNDoyMjoxNSIsIl9wb2ludHNUb05leHRJdGVtcyI6dHJ1ZX0"
    )
    assert not cursor_breaks_ties("not base64 json!")
    assert not cursor_breaks_ties(None)


# -- 429 from Loop ---------------------------------------------------------------------------


def _empty_page() -> httpx.Response:
    return httpx.Response(200, json={"returns": [], "nextPageUrl": None, "previousPageUrl": None})


def _timed_client(steps: list[httpx.Response], clock: VirtualClock) -> LoopClient:
    return LoopClient(
        httpx.Client(transport=ScriptedTransport(steps)),
        base_url="https://api.loopreturns.com/api",
        api_version="2026-07",
        api_key="loop-secret-key",
        clock=clock,
        policy=RetryPolicy(rng=random.Random(7)),
    )


@pytest.mark.parametrize("storms", [1, 3, 6])
def test_a_429_without_retry_after_waits_ten_to_sixty_seconds_per_attempt(storms: int) -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    client = _timed_client([httpx.Response(429)] * storms + [_empty_page()], clock)
    list(client.iter_returns(START, END, "open"))
    waited = clock.monotonic()
    # The token bucket paces at 4 a second, so at most ~0.25 s per request is pacing.
    assert 10 * storms <= waited <= 60 * storms + 0.25 * (storms + 1)


def test_a_429_with_retry_after_waits_what_it_says() -> None:
    clock = VirtualClock(datetime(2026, 1, 1, tzinfo=UTC))
    client = _timed_client(
        [httpx.Response(429, headers={"Retry-After": "2"}), _empty_page()], clock
    )
    list(client.iter_returns(START, END, "open"))
    assert 2 <= clock.monotonic() < 2.6


def test_a_php_null_fee_and_an_empty_outcome_map_are_read_not_quarantined() -> None:
    """Loop is PHP (Laravel): a zero fee may come as ``null`` and ``outcomes_processed_at`` with
    nothing processed as ``[]`` (``json_encode`` of an empty associative array). Both sent each
    such return to quarantine: its refund and restock were not reconciled that night, nor any
    night it stayed in the window. Dataset: two closed returns awaiting their outcome (no fee,
    nothing processed yet) and one processed, refunded by Loop."""
    waiting = [make_return(6001 + n, created_at=NOW - timedelta(days=2)) for n in range(2)]
    http, _ = _sandbox([*waiting, _loop_refunded(6100)], loop_php_nulls=True)
    with http:
        items = list(_loop(http).iter_returns(START, END, "closed"))
        window = {"from": "2026-10-01 00:00:00", "to": "2026-11-01 12:00:00"}
        params = {**window, "filter": "updated_at", "state": "closed", "paginate": "true"}
        raw = http.get(LIST, headers=AUTH, params=params).json()["returns"]
    sent = {r["id"]: (r["handling_fee"], r["outcomes_processed_at"]) for r in raw}
    assert sent["6001"] == (None, []) and sent["6100"][0] is None  # the payloads the switch sends
    assert [type(i).__name__ for i in items] == ["LoopReturnRecord"] * 3, items
    records = {i.id: i for i in items if isinstance(i, LoopReturnRecord)}
    assert {r.handling_fee for r in records.values()} == {Decimal("0")}
    assert (
        records["6001"].refund == Decimal("48.60") and records["6001"].refund_processed_at is None
    )
    assert records["6100"].refund_processed_at is not None

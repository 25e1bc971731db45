"""LoopClient against a scripted Loop: windows, paging, re-sent parameters, de-duplication."""

from __future__ import annotations

import copy
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sources_scripted import ScriptedTransport

from recon.clock import VirtualClock
from recon.errors import CursorLoopError, FatalHTTPError
from recon.models import LoopReturnRecord, Quarantined
from recon.sources.http import RetryPolicy
from recon.sources.loop import LoopClient
from recon.sources.loop_windows import split_windows

EXAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "examples" / "loop"
BASE = "https://api.loopreturns.com/api"
KEY = "loop-secret-key"
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 31, tzinfo=UTC)


def _item(return_id: str) -> dict[str, object]:
    item = json.loads((EXAMPLES / "return-closed-refund.json").read_text())
    item["id"] = return_id
    return item


def _page(ids: list[str], cursor: str | None) -> httpx.Response:
    # Loop's own next URL drops from and state (loop-returns-api.md §6 trap 3).
    next_url = (
        f"{BASE}/2026-07/warehouse/return/list?to=x&filter=updated_at&pageSize=2&cursor={cursor}"
        if cursor
        else None
    )
    body = {"returns": [_item(i) for i in ids], "nextPageUrl": next_url, "previousPageUrl": None}
    return httpx.Response(200, json=body)


def _client(
    transport: ScriptedTransport, clock: VirtualClock | None = None, **kw: object
) -> LoopClient:
    return LoopClient(
        httpx.Client(transport=transport),
        base_url=BASE,
        api_version="2026-07",
        api_key=KEY,
        clock=clock or VirtualClock(),
        policy=RetryPolicy(zero_wait=True),
        **kw,  # type: ignore[arg-type]
    )


def test_pages_are_followed_and_every_return_arrives_once() -> None:
    transport = ScriptedTransport(
        [_page(["1", "2"], "c1"), _page(["2", "3"], "c2"), _page(["4"], None)]
    )
    items = list(_client(transport).iter_returns(START, END, "cancelled"))
    assert [item.id for item in items if isinstance(item, LoopReturnRecord)] == ["1", "2", "3", "4"]
    assert len(transport.requests) == 3


def test_next_page_re_sends_from_to_filter_and_state() -> None:
    transport = ScriptedTransport([_page(["1"], "c1"), _page(["2"], None)])
    list(_client(transport).iter_returns(START, END, "review"))
    first, second = transport.params(0), transport.params(1)
    assert first["from"] == "2026-01-01T00:00:00Z" and first["to"] == "2026-01-31T00:00:00Z"
    for key in ("from", "to", "filter", "state", "paginate"):
        assert second[key] == first[key], key
    assert second["state"] == "review" and second["filter"] == "updated_at"
    assert second["cursor"] == "c1"
    assert transport.requests[0].headers["X-Authorization"] == KEY


def test_repeated_cursor_is_a_cursor_loop() -> None:
    transport = ScriptedTransport([_page(["1"], "same"), _page(["2"], "same")])
    with pytest.raises(CursorLoopError):
        list(_client(transport).iter_returns(START, END, "open"))


def test_next_page_on_another_host_is_refused() -> None:
    body = {"returns": [], "nextPageUrl": "https://evil.example/list?cursor=x"}
    transport = ScriptedTransport([httpx.Response(200, json=body)])
    with pytest.raises(FatalHTTPError):
        list(_client(transport).iter_returns(START, END, "open"))


@pytest.mark.parametrize(
    "body",
    [{"message": "Server busy"}, {"returns": None, "nextPageUrl": None}, {"returns": "[]"}, "ok"],
)
def test_a_200_without_a_returns_list_is_an_error_not_an_empty_page(body: object) -> None:
    """Read as an empty last page, it would move the watermark past returns never read."""
    transport = ScriptedTransport([httpx.Response(200, json=body)])
    with pytest.raises(FatalHTTPError, match="unexpected response shape"):
        list(_client(transport).iter_returns(START, END, "closed"))


def test_an_empty_page_and_a_bare_array_are_pages() -> None:
    empty = {"returns": [], "nextPageUrl": None, "previousPageUrl": None}
    transport = ScriptedTransport([httpx.Response(200, json=empty)])
    assert list(_client(transport).iter_returns(START, END, "closed")) == []
    bare = ScriptedTransport([httpx.Response(200, json=[_item("7")])])
    assert [r.id for r in _client(bare).iter_returns(START, END, "closed")] == ["7"]


@pytest.mark.parametrize(
    ("start", "end"), [(None, END), (START, None), (START.replace(tzinfo=None), END)]
)
def test_refuses_a_call_without_a_full_aware_window(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError):
        list(_client(ScriptedTransport([])).iter_returns(start, end, "open"))


def test_windows_are_at_most_window_days_and_overlap() -> None:
    windows = split_windows(START, START + timedelta(days=365), days=120)
    assert all(end - start <= timedelta(days=120) for start, end in windows)
    assert windows[0][0] == START and windows[-1][1] == START + timedelta(days=365)
    for (_, previous_end), (next_start, _) in itertools.pairwise(windows):
        assert next_start == previous_end - timedelta(minutes=10)
    with pytest.raises(ValueError):
        split_windows(START, END, days=121)


def test_long_range_is_split_and_duplicates_across_windows_dropped() -> None:
    transport = ScriptedTransport([_page(["1", "2"], None), _page(["2", "3"], None)])
    client = _client(transport, window_days=100)
    items = list(client.iter_returns(START, START + timedelta(days=150), "closed"))
    assert [item.id for item in items if isinstance(item, LoopReturnRecord)] == ["1", "2", "3"]
    spans = [
        datetime.fromisoformat(transport.params(i)["to"])
        - datetime.fromisoformat(transport.params(i)["from"])
        for i in range(2)
    ]
    assert all(span <= timedelta(days=100) for span in spans)


def test_a_bad_return_is_quarantined_and_the_rest_returned() -> None:
    bad = _item("9")
    bad["line_items"][0]["refund"] = None  # type: ignore[index]
    body = {"returns": [_item("1"), bad, _item("2")], "nextPageUrl": None}
    items = list(
        _client(ScriptedTransport([httpx.Response(200, json=body)])).iter_returns(
            START, END, "closed"
        )
    )
    assert [type(item).__name__ for item in items] == [
        "LoopReturnRecord",
        "Quarantined",
        "LoopReturnRecord",
    ]
    quarantined = items[1]
    assert isinstance(quarantined, Quarantined)
    assert (quarantined.record_id, quarantined.field) == ("9", "line_items[0].refund")


def test_429_is_retried_and_requests_are_paced_under_300_a_minute() -> None:
    clock = VirtualClock()
    steps = [httpx.Response(429), _page(["1"], None)] + [_page([], None) for _ in range(5)]
    transport = ScriptedTransport(steps)
    client = _client(transport, clock)
    items = list(client.iter_all_states(START, END))
    assert [item.id for item in items] == ["1"]
    assert [transport.params(i)["state"] for i in range(1, 6)] == [
        "open",
        "closed",
        "cancelled",
        "expired",
        "review",
    ]


def test_get_return_parses_details_shape() -> None:
    details = json.loads((EXAMPLES / "return-details.json").read_text())
    transport = ScriptedTransport([httpx.Response(200, json=copy.deepcopy(details))])
    record = _client(transport).get_return("12345701")
    assert isinstance(record, LoopReturnRecord)
    assert record.refunds[0].provider_refund_id == "918273645123"
    assert transport.params(0)["return_id"] == "12345701"


def test_a_return_changed_between_two_windows_keeps_its_later_copy() -> None:
    """Return 2 is read by the first window, then changes (Loop closes it) before the second
    window, which reads it again: the later copy is passed on too (the store keeps the later
    ``updated_at``), where the first copy alone was kept and the mirror missed the change. A
    copy read again unchanged (the windows' overlap) is passed on once, as before."""
    changed = _item("2")
    changed["updated_at"] = "2026-01-20T09:00:00.000Z"
    later = {"returns": [changed, _item("3")], "nextPageUrl": None, "previousPageUrl": None}
    transport = ScriptedTransport(
        [_page(["1", "2"], None), httpx.Response(200, json=later), _page(["3"], None)]
    )
    client = _client(transport, window_days=60)
    items = list(client.iter_returns(START, START + timedelta(days=150), "closed"))
    copies = [(i.id, i.updated_at.isoformat()) for i in items if isinstance(i, LoopReturnRecord)]
    assert copies == [
        ("1", "2024-03-05T14:22:15+00:00"),
        ("2", "2024-03-05T14:22:15+00:00"),
        ("2", "2026-01-20T09:00:00+00:00"),
        ("3", "2024-03-05T14:22:15+00:00"),
    ]

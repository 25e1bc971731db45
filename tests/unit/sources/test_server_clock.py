"""What the responses' HTTP ``Date`` headers say of the host clock (``ServerClock``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
from sources_scripted import ScriptedTransport

from recon.clock import VirtualClock
from recon.sources.http import RetryingSender, RetryPolicy
from recon.sources.server_clock import ServerClock, host_ahead

URL = "https://shop.example/admin/api/2026-04/graphql.json"
NOW = datetime(2026, 11, 3, 2, 0, 0, tzinfo=UTC)


def dated(moment: datetime, status: int = 200) -> httpx.Response:
    return httpx.Response(status, headers={"Date": format_datetime(moment, usegmt=True)})


def send_all(clock: VirtualClock, steps: list[httpx.Response]) -> RetryingSender:
    transport = ScriptedTransport(steps)
    sender = RetryingSender(
        httpx.Client(transport=transport),
        clock=clock,
        policy=RetryPolicy(zero_wait=True),
        service="shopify",
    )
    while transport.steps:
        sender.send(httpx.Request("POST", URL, json={"q": 1}))
    return sender


def test_the_reading_is_the_response_with_the_host_least_ahead() -> None:
    """Three answers dated 3h, 2h59m58s (the fastest) and 3h01m behind the host: the host is
    taken as 2h59m58s ahead, with the host's and the API's times of that answer. A 429's Date
    counts too (it was answered, then retried)."""
    clock = VirtualClock(NOW)
    sender = send_all(
        clock,
        [
            dated(NOW - timedelta(hours=3)),
            dated(NOW - timedelta(hours=3) + timedelta(seconds=2), status=429),
            dated(NOW - timedelta(hours=3, minutes=1)),
        ],
    )
    reading = sender.server_clock.reading()
    assert reading is not None
    assert reading.host == NOW and reading.server == NOW - timedelta(hours=3, seconds=-2)
    assert reading.host_ahead == timedelta(hours=2, minutes=59, seconds=58)


def test_an_answer_without_a_readable_date_is_not_counted() -> None:
    clock = VirtualClock(NOW)
    sender = send_all(
        clock, [httpx.Response(200), httpx.Response(200, headers={"Date": "yesterday-ish"})]
    )
    assert sender.server_clock.reading() is None
    assert host_ahead("Shopify", sender.server_clock, timedelta(hours=1)) == timedelta(0)


def test_reset_forgets_the_readings() -> None:
    clock = VirtualClock(NOW)
    sender = send_all(clock, [dated(NOW)])
    sender.server_clock.reset()
    assert sender.server_clock.reading() is None


def test_only_a_skew_past_a_quarter_of_the_look_back_counts() -> None:
    clock = VirtualClock(NOW)
    at_quarter, past = ServerClock(clock), ServerClock(clock)
    at_quarter.observe(dated(NOW - timedelta(minutes=15)))
    past.observe(dated(NOW - timedelta(minutes=16)))
    assert host_ahead("Loop", at_quarter, timedelta(hours=1)) == timedelta(0)
    assert host_ahead("Loop", past, timedelta(hours=1)) == timedelta(minutes=16)
    assert host_ahead("Loop", None, timedelta(hours=1)) == timedelta(0)

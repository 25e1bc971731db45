"""The retry policy: what is retried, how long it waits, and what it never leaks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from sources_scripted import ScriptedTransport

from recon.clock import VirtualClock
from recon.errors import (
    AuthError,
    FatalHTTPError,
    OutcomeUnknownError,
    RetryExhaustedError,
    ThrottledError,
)
from recon.sources.http import RetryingSender, RetryPolicy, parse_retry_after

TOKEN = "shpat_supersecret123"
URL = "https://shop.example/admin/api/2026-04/graphql.json"


def _sender(transport: ScriptedTransport, clock: VirtualClock, **policy: object) -> RetryingSender:
    http = httpx.Client(transport=transport)
    return RetryingSender(
        http,
        clock=clock,
        policy=RetryPolicy(**policy),
        service="shopify",
        secrets=(TOKEN,),  # type: ignore[arg-type]
    )


def _request(transport: ScriptedTransport, clock: VirtualClock, **policy: object) -> httpx.Request:
    return httpx.Request("POST", URL, headers={"X-Shopify-Access-Token": TOKEN}, json={"q": 1})


def test_429_waits_retry_after_then_succeeds() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport(
        [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"ok": 1})]
    )
    response = _sender(transport, clock).send(_request(transport, clock))
    assert response.json() == {"ok": 1}
    assert len(transport.requests) == 2
    assert clock.monotonic() == pytest.approx(7.0)


def test_retry_after_as_http_date() -> None:
    clock = VirtualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    later = format_datetime(clock.now() + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, clock) == pytest.approx(30.0)
    assert parse_retry_after("garbage", clock) is None


def test_5xx_exhaustion_raises_retry_exhausted_with_request_id() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport(
        [httpx.Response(503, headers={"X-Request-Id": "req-42"})], repeat_last=True
    )
    with pytest.raises(RetryExhaustedError, match="req-42"):
        _sender(transport, clock, max_attempts=4).send(_request(transport, clock))
    assert len(transport.requests) == 4
    assert clock.monotonic() > 0  # backed off between attempts, on the virtual clock


def test_backoff_is_capped_full_jitter() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    waits = [policy.backoff(attempt) for attempt in range(1, 30)]
    assert all(0 <= wait <= 5.0 for wait in waits)
    assert max(waits[:1]) <= 1.0


def test_timeouts_and_resets_are_retried_for_reads() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport(
        [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset"), httpx.Response(200)]
    )
    assert _sender(transport, clock).send(_request(transport, clock)).status_code == 200
    assert len(transport.requests) == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthError), (403, AuthError), (404, FatalHTTPError), (422, FatalHTTPError)],
)
def test_other_4xx_are_fatal_at_once(status: int, error: type[Exception]) -> None:
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.Response(status, headers={"X-Request-Id": "r-9"})])
    with pytest.raises(error, match="r-9"):
        _sender(transport, clock).send(_request(transport, clock))
    assert len(transport.requests) == 1


@pytest.mark.parametrize(
    "failure", [httpx.Response(503), httpx.ReadTimeout("t"), httpx.RemoteProtocolError("dropped")]
)
def test_write_with_unknown_outcome_is_not_resent(failure: object) -> None:
    clock = VirtualClock()
    transport = ScriptedTransport([failure, httpx.Response(200)])  # type: ignore[list-item]
    with pytest.raises(OutcomeUnknownError):
        _sender(transport, clock).send(_request(transport, clock), write=True)
    assert len(transport.requests) == 1


def test_write_is_resent_when_it_provably_did_not_run() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport(
        [httpx.ConnectError("refused"), httpx.Response(429), httpx.Response(200)]
    )
    response = _sender(transport, clock).send(_request(transport, clock), write=True)
    assert response.status_code == 200
    assert len(transport.requests) == 3


def test_zero_wait_does_not_move_the_clock() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport(
        [httpx.Response(429, headers={"Retry-After": "60"}), httpx.Response(200)]
    )
    _sender(transport, clock, zero_wait=True).send(_request(transport, clock))
    assert clock.monotonic() == 0


def test_a_wait_beyond_the_limit_is_not_waited_out() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.Response(429, headers={"Retry-After": "3600"})])
    with pytest.raises(ThrottledError):
        _sender(transport, clock, max_wait=300).send(_request(transport, clock))
    assert clock.monotonic() == 0


def test_logs_and_errors_of_a_failing_request_hold_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock()
    leaky = httpx.Response(400, text=f"bad token {TOKEN} X-Shopify-Access-Token: {TOKEN}")
    transport = ScriptedTransport([httpx.ReadTimeout(f"timeout with {TOKEN}"), leaky])
    request = httpx.Request(
        "GET", f"{URL}?access_token={TOKEN}&page=2", headers={"X-Shopify-Access-Token": TOKEN}
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(FatalHTTPError) as caught:
        _sender(transport, clock).send(request)
    assert caplog.records, "the retry should have been logged"
    assert TOKEN not in caplog.text
    assert TOKEN not in str(caught.value)
    assert "page=2" in caplog.text


@pytest.mark.parametrize(
    ("floor", "low", "high"),
    [(None, 0.0, 0.5), (10.0, 10.0, 60.0)],
    ids=["no-floor-backs-off-like-5xx", "floor-waits-10-to-60s"],
)
def test_429_without_retry_after_uses_the_throttle_floor_when_one_is_set(
    floor: float | None, low: float, high: float
) -> None:
    """Shopify's default keeps the sub-second backoff; a floored policy (Loop) waits seconds."""
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.Response(429), httpx.Response(200, json={"ok": 1})])
    sender = _sender(transport, clock, throttle_min_delay=floor, throttle_max_delay=60.0)
    sender.send(_request(transport, clock))
    assert low <= clock.monotonic() <= high


def test_throttle_backoff_stays_between_floor_and_cap_on_every_attempt() -> None:
    policy = RetryPolicy(throttle_min_delay=10.0, throttle_max_delay=60.0)
    waits = [policy.throttle_backoff(attempt) for attempt in range(1, 9) for _ in range(50)]
    assert min(waits) >= 10.0 and max(waits) <= 60.0
    assert max(waits) > 40.0  # the range widens with attempts (jitter, not a fixed pause)


@pytest.mark.parametrize(
    ("service", "hint"),
    [("shopify", "[shop] token_env"), ("loop", "[loop] api_key_env")],
)
def test_refused_credentials_name_the_setting_to_check(service: str, hint: str) -> None:
    """401 on a first install: the engineer is told which setting names the credential."""
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.Response(401)])
    sender = RetryingSender(
        httpx.Client(transport=transport),
        clock=clock,
        policy=RetryPolicy(),
        service=service,
        secrets=(TOKEN,),  # type: ignore[arg-type]
    )
    with pytest.raises(AuthError) as refused:
        sender.send(_request(transport, clock))
    assert hint in str(refused.value)

"""The per-run retry budget: failures' retries and the seconds they cost, per API, per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sources_scripted import ScriptedTransport, gql, throttled

from recon.clock import VirtualClock
from recon.errors import OutcomeUnknownError, RetryBudgetExhaustedError, RetryExhaustedError
from recon.sources.http import RetryingSender, RetryPolicy
from recon.sources.loop import LoopClient
from recon.sources.retry_budget import RetryBudget
from recon.sources.shopify import ShopifyClient

URL = "https://shop.example/admin/api/2026-04/graphql.json"


def _sender(
    transport: ScriptedTransport, clock: VirtualClock, budget: RetryBudget, **policy: object
) -> RetryingSender:
    return RetryingSender(
        httpx.Client(transport=transport),
        clock=clock,
        policy=RetryPolicy(**policy),  # type: ignore[arg-type]
        service="shopify",
        budget=budget,
    )


def _post() -> httpx.Request:
    return httpx.Request("POST", URL, json={"query": "{ shop { id } }"})


def _flaky(requests: int, failures_each: int) -> list[httpx.Response]:
    """``requests`` requests that each fail ``failures_each`` times (503) before a 200."""
    steps: list[httpx.Response] = []
    for n in range(requests):
        steps += [httpx.Response(503, headers={"X-Request-Id": f"req-{n}"})] * failures_each
        steps.append(httpx.Response(200, json={"n": n}))
    return steps


def test_retries_of_every_request_draw_on_one_budget_that_stops_the_run() -> None:
    """Each request would succeed on its own attempts; together they outrun the run's budget."""
    clock = VirtualClock()
    transport = ScriptedTransport(_flaky(requests=10, failures_each=2))
    sender = _sender(transport, clock, RetryBudget("shopify", retries=5), max_attempts=4)
    assert sender.send(_post()).json() == {"n": 0}
    assert sender.send(_post()).json() == {"n": 1}
    with pytest.raises(RetryBudgetExhaustedError) as caught:
        sender.send(_post())
    message = str(caught.value)
    assert "shopify" in message
    assert "5 retries" in message
    assert "[sync] retry_budget" in message
    assert "HTTP 503 (X-Request-Id req-2)" in message  # the last failure
    assert len(transport.requests) == 2 * 3 + 2  # nothing sent once the budget ran out
    assert isinstance(caught.value, RetryExhaustedError)  # exit 1, like any exhausted retries


def test_once_spent_the_budget_lets_a_request_try_once_but_never_retry() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport(_flaky(requests=3, failures_each=1))
    budget = RetryBudget("shopify", retries=1)
    sender = _sender(transport, clock, budget)
    assert sender.send(_post()).json() == {"n": 0}  # one retry: the budget is spent
    with pytest.raises(RetryBudgetExhaustedError):
        sender.send(_post())  # 503, and no retry left
    assert sender.send(_post()).json() == {"n": 1}  # an answer on the first try still counts
    with pytest.raises(RetryBudgetExhaustedError):
        sender.send(_post())
    assert len(transport.requests) == 5
    budget.reset()  # the next run starts with the whole budget
    assert (budget.retries_spent, budget.seconds_spent) == (0, 0)
    transport.steps.insert(0, httpx.Response(503))
    assert sender.send(_post()).json() == {"n": 2}  # retried again


def test_throttling_waits_are_not_counted_as_failures() -> None:
    """429 and THROTTLED are the server pacing us, not failing: a healthy busy night goes on."""
    clock = VirtualClock()
    steps = [httpx.Response(429, headers={"Retry-After": "2"})] * 5 + [httpx.Response(200)]
    transport = ScriptedTransport(steps)
    budget = RetryBudget("shopify", retries=0, seconds=600)
    assert _sender(transport, clock, budget).send(_post()).status_code == 200
    assert budget.retries_spent == 0
    assert budget.seconds_spent == 0  # nor is their time lost to failures
    assert budget.throttle_seconds_spent == pytest.approx(10.0)  # it is waiting on pacing


def test_a_long_throttled_backfill_is_not_stopped_by_the_failure_seconds_budget() -> None:
    """Two hundred requests each paced once by a 429 (Retry-After 20 s): 4,000 s of waiting,
    more than twice ``retry_budget_seconds``, on a run that never failed a request."""
    clock = VirtualClock()
    steps = [httpx.Response(429, headers={"Retry-After": "20"}), httpx.Response(200)] * 200
    transport = ScriptedTransport(steps)
    budget = RetryBudget("loop", retries=200, seconds=1800)
    sender = _sender(transport, clock, budget)
    assert all(sender.send(_post()).status_code == 200 for _ in range(200))
    assert budget.throttle_seconds_spent == pytest.approx(4000.0)
    assert clock.monotonic() == pytest.approx(4000.0)


def test_the_throttle_budget_bounds_an_api_that_keeps_throttling() -> None:
    """A stuck API answering 429 to most requests cannot hold the run for ever: past
    ``[sync] throttle_budget_seconds`` of throttle waits the run stops, naming the API."""
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.Response(429, headers={"Retry-After": "100"})] * 3)
    budget = RetryBudget("loop", retries=50, seconds=1800, throttle_seconds=250)
    with pytest.raises(RetryBudgetExhaustedError) as caught:
        _sender(transport, clock, budget, max_attempts=50).send(_post())
    message = str(caught.value)
    assert message.startswith("loop: this run's throttle budget is spent: 200 s waited")
    assert "[sync] throttle_budget_seconds" in message and "HTTP 429" in message
    assert clock.monotonic() == pytest.approx(200.0)  # the third wait was not waited out
    assert len(transport.requests) == 3


def test_the_seconds_budget_stops_before_a_failure_wait_that_would_overrun_it() -> None:
    """A 503 that names a Retry-After is a failure: its wait counts toward the seconds budget."""
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.Response(503, headers={"Retry-After": "100"})] * 3)
    budget = RetryBudget("loop", retries=50, seconds=250)
    with pytest.raises(RetryBudgetExhaustedError, match=r"250 s.*retry_budget_seconds"):
        _sender(transport, clock, budget).send(_post())
    assert clock.monotonic() == pytest.approx(200.0)  # the third wait was not waited out
    assert len(transport.requests) == 3


def test_time_lost_in_failed_attempts_counts_toward_the_seconds_budget() -> None:
    """A timeout costs its whole timeout, not only the backoff after it."""
    clock = VirtualClock()

    def timeout(request: httpx.Request) -> httpx.Response:
        clock.advance(timedelta(seconds=30))  # the attempt hung for http_timeout_seconds
        raise httpx.ReadTimeout("timed out", request=request)

    transport = ScriptedTransport([timeout], repeat_last=True)
    budget = RetryBudget("shopify", retries=100, seconds=100)
    with pytest.raises(RetryBudgetExhaustedError, match="ReadTimeout"):
        _sender(transport, clock, budget, max_attempts=50, zero_wait=True).send(_post())
    assert len(transport.requests) == 4  # 3 x 30 s spent; the 4th failure took it past 100 s


def test_a_write_with_an_unknown_outcome_is_still_never_resent() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.Response(503), httpx.Response(200)])
    budget = RetryBudget("shopify", retries=10)
    with pytest.raises(OutcomeUnknownError):
        _sender(transport, clock, budget).send(_post(), write=True)
    assert len(transport.requests) == 1
    assert budget.retries_spent == 0


def test_a_write_that_did_not_run_is_not_resent_past_the_budget() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.ConnectError("refused"), httpx.Response(200)])
    with pytest.raises(RetryBudgetExhaustedError, match="ConnectError"):
        _sender(transport, clock, RetryBudget("shopify", retries=0)).send(_post(), write=True)
    assert len(transport.requests) == 1


def test_shopify_throttled_bodies_are_free_and_internal_errors_count() -> None:
    clock = VirtualClock()
    internal = gql(None, errors=[{"message": "x", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}])
    transport = ScriptedTransport(
        [
            throttled(requested=100, available=0, restore=50),
            gql({"shop": {"id": "1"}}),
            internal,
            gql({"shop": {"id": "1"}}),
        ]
    )
    budget = RetryBudget("shopify", retries=1)
    client = ShopifyClient(
        httpx.Client(transport=transport),
        base_url="https://shop.example",
        api_version="2026-04",
        token="shpat_x",
        clock=clock,
        check_scopes=False,
        retry_budget=budget,
    )
    assert client.retry_budget is budget
    client.execute("query Q { shop { id } }", {})
    assert budget.retries_spent == 0
    client.execute("query Q { shop { id } }", {})
    assert budget.retries_spent == 1


def test_the_loop_client_spends_its_own_budget_and_names_loop() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.Response(500)], repeat_last=True)
    budget = RetryBudget("loop", retries=3)
    client = LoopClient(
        httpx.Client(transport=transport),
        base_url="https://api.loopreturns.com/api",
        api_version="2026-07",
        api_key="loop-key",
        clock=clock,
        retry_budget=budget,
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(RetryBudgetExhaustedError, match=r"^loop: .*3 retries"):
        list(client.iter_returns(start, start + timedelta(days=1), "closed"))
    assert len(transport.requests) == 4


def test_a_budget_of_one_retry_says_so_in_words() -> None:
    clock = VirtualClock()
    transport = ScriptedTransport([httpx.Response(502)], repeat_last=True)
    with pytest.raises(RetryBudgetExhaustedError, match=r"spent: 1 retry after failures \("):
        _sender(transport, clock, RetryBudget("shopify", retries=1)).send(_post())

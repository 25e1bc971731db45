"""When Loop and Shopify both fail in one sync, the run's error names both, in a fixed order.

The two APIs are read in two threads; when both give up at nearly the same moment, which thread
reports first is down to timing. The operator must read the same error whichever won the race,
and learn of both outages at once (not fix one, rerun, and find the other).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from recon.errors import AuthError, ReconError, RetryExhaustedError, SourceError
from recon.fetch import FetchPlan, fetch
from recon.models import LoopReturnRecord, OrderRecord, Quarantined
from tests.fakes import FakeLoop, FakeShopify

WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
LOOP_DOWN = RetryExhaustedError("loop GET /api/v1/warehouse/return/list: HTTP 503 x3")
SHOPIFY_DOWN = AuthError("shopify POST /admin/api/graphql.json: HTTP 401: token refused")


class FailingLoop(FakeLoop):
    """Loop fails once both sides are reading (``go``), ``delay`` seconds later."""

    def __init__(self, go: threading.Barrier, delay: float, error: Exception) -> None:
        super().__init__()
        self.go, self.delay, self.error = go, delay, error

    def iter_returns(
        self, start: datetime, end: datetime, state: str
    ) -> Iterator[LoopReturnRecord | Quarantined]:
        self.go.wait(10)
        time.sleep(self.delay)
        raise self.error
        yield  # pragma: no cover - a generator like the real one


class FailingShopify(FakeShopify):
    """Shopify's sweep fails once both sides are reading (``go``), ``delay`` seconds later."""

    def __init__(self, go: threading.Barrier, delay: float, error: Exception) -> None:
        super().__init__()
        self.go, self.delay, self.error = go, delay, error

    def iter_refunded_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderRecord | Quarantined]:
        self.go.wait(10)
        time.sleep(self.delay)
        raise self.error
        yield  # pragma: no cover - a generator like the real one


def _fail_both(loop_delay: float, shopify_delay: float) -> ReconError:
    go = threading.Barrier(2)  # both sides are past their first check, inside a request
    loop = FailingLoop(go, loop_delay, LOOP_DOWN)
    shopify = FailingShopify(go, shopify_delay, SHOPIFY_DOWN)
    with pytest.raises(SourceError) as failed:
        fetch(FetchPlan.for_window(WINDOW), loop, shopify)
    return failed.value


@pytest.mark.parametrize(
    ("loop_delay", "shopify_delay"),
    [(0.0, 0.3), (0.3, 0.0), (0.0, 0.0)],
    ids=["loop-first", "shopify-first", "together"],
)
def test_both_failures_are_named_loop_first_whichever_came_first(
    loop_delay: float, shopify_delay: float
) -> None:
    error = _fail_both(loop_delay, shopify_delay)
    assert str(error) == f"both APIs failed: {LOOP_DOWN}; {SHOPIFY_DOWN}"
    # A refused token is the one to fix first: the exit code says auth (3), whatever came first.
    assert error.exit_code == AuthError.exit_code


def test_a_failure_that_does_not_name_its_api_is_named_by_its_side() -> None:
    go = threading.Barrier(2)
    loop = FailingLoop(go, 0.3, SourceError("HTTP 502"))
    shopify = FailingShopify(go, 0.0, SourceError("HTTP 500"))
    with pytest.raises(SourceError, match=r"^both APIs failed: loop: HTTP 502; shopify: HTTP 500$"):
        fetch(FetchPlan.for_window(WINDOW), loop, shopify)


def test_one_failure_alone_is_raised_as_it_is() -> None:
    loop = FailingLoop(threading.Barrier(1), 0.0, LOOP_DOWN)
    with pytest.raises(RetryExhaustedError) as failed:
        fetch(FetchPlan.for_window(WINDOW), loop, FakeShopify())
    assert failed.value is LOOP_DOWN

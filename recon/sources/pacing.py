"""Client-side pacing: Shopify's GraphQL cost bucket and a token bucket for Loop's 300/minute.

The goal is zero THROTTLED responses and zero 429s: wait before sending rather than after being
refused (shopify-admin-api.md §15, loop-returns-api.md §4). Refusals are still handled by
``recon.sources.http``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recon.clock import Clock

logger = logging.getLogger(__name__)
PACING_MARGIN_POINTS = 2.0


@dataclass(frozen=True)
class ThrottleStatus:
    """``extensions.cost.throttleStatus`` of one GraphQL response."""

    maximum: float
    available: float
    restore_rate: float

    @classmethod
    def from_extensions(cls, extensions: object) -> ThrottleStatus | None:
        """Read it from a response's ``extensions``; None when absent or malformed."""
        if not isinstance(extensions, Mapping):
            return None
        cost = extensions.get("cost")
        status = cost.get("throttleStatus") if isinstance(cost, Mapping) else None
        if not isinstance(status, Mapping):
            return None
        try:
            return cls(
                maximum=float(status["maximumAvailable"]),
                available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


def requested_cost(extensions: object) -> float | None:
    """``extensions.cost.requestedQueryCost``, when present."""
    cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
    value: Any = cost.get("requestedQueryCost") if isinstance(cost, Mapping) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class CostBucket:
    """Tracks Shopify's leaky bucket from every response and sleeps before a query that won't fit.

    Before the first response nothing is known, so nothing is waited for.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._status: ThrottleStatus | None = None
        self._seen_at = 0.0

    def observe(self, extensions: object) -> None:
        """Record the throttle status of a response (THROTTLED ones included)."""
        status = ThrottleStatus.from_extensions(extensions)
        if status is None:
            return
        with self._lock:
            self._status = status
            self._seen_at = self._clock.monotonic()

    def estimated_available(self) -> float | None:
        """Last available + restore rate x elapsed, capped at the maximum."""
        with self._lock:
            status, seen_at = self._status, self._seen_at
        if status is None:
            return None
        elapsed = max(0.0, self._clock.monotonic() - seen_at)
        return min(status.maximum, status.available + status.restore_rate * elapsed)

    def wait_needed(self, cost: float) -> float:
        """Seconds until ``cost`` points are available (0 when they are or nothing is known)."""
        available = self.estimated_available()
        status = self._status
        if available is None or status is None or status.restore_rate <= 0:
            return 0.0
        # A query dearer than the bucket can ever hold waits only for a full bucket. The margin
        # covers ``currentlyAvailable`` being rounded in responses and clock granularity: without
        # it a query paced to the exact point is refused THROTTLED by a fraction of a point.
        needed = min(cost + PACING_MARGIN_POINTS, status.maximum)
        return max(0.0, (needed - available) / status.restore_rate)

    def pace(self, cost: float) -> None:
        """Sleep until a query of ``cost`` points fits in the bucket."""
        wait = self.wait_needed(cost)
        if wait > 0:
            logger.debug("shopify: pacing %.2fs before a query of cost %.0f", wait, cost)
            self._clock.sleep(wait)

    def throttled_wait(self, extensions: object) -> float:
        """Wait after a THROTTLED response: (requested - available) / restoreRate (§15).

        No jitter, although §15 says "plus jitter". Jitter breaks up clients that would retry in
        step against one shared limit; recon has none here. The bucket is per app *per store*,
        so an agency running many shops in one process or one cron minute drains as many
        separate buckets, and they never contend. Within one shop the run lock admits one run,
        whose Shopify reads are one thread and whose writes follow them, so recon's requests to
        one bucket are sequential. Another client of the same app on the same store is not in
        step with us, so jitter would not spread us apart from it. The wait is computed from
        the refusal's own throttle status, so it is exactly what the bucket needs; jitter would
        only lengthen it. (A second refusal just computes a fresh wait. 5xx backoff and Loop's
        429 wait do carry jitter: there the wait is a guess, and Loop's key may be shared.)
        """
        status = ThrottleStatus.from_extensions(extensions)
        requested = requested_cost(extensions)
        if status is None or status.restore_rate <= 0:
            return 1.0  # no status to go on: a short fixed pause, then the policy's budget decides
        needed = min(requested if requested is not None else status.maximum, status.maximum)
        return max(0.0, needed - status.available) / status.restore_rate


class RequestPacer:
    """Pacing for one request across its attempts.

    A THROTTLED answer's wait is computed from that answer's fresh throttle status and Shopify's
    own requested cost (§15), so it already covers the retry: pacing again for the client's
    estimate on top of it only over-waits (an estimate above Shopify's figure would add another
    (estimate - requested) / restoreRate). The attempt after a THROTTLED wait is therefore not
    paced again.
    """

    def __init__(self, bucket: CostBucket, cost: float) -> None:
        self._bucket = bucket
        self._cost = cost
        self._covered = False

    def pace(self) -> None:
        """Before an attempt: sleep until the query fits, unless a THROTTLED wait just did."""
        if self._covered:
            self._covered = False
            return
        self._bucket.pace(self._cost)

    def throttled(self, extensions: object) -> float:
        """Seconds to wait after a THROTTLED answer; the next ``pace`` is then skipped."""
        self._bucket.observe(extensions)
        self._covered = ThrottleStatus.from_extensions(extensions) is not None
        return self._bucket.throttled_wait(extensions)


class TokenBucket:
    """At most ``per_minute`` requests in any 60-second window, at most ``burst`` at once.

    Tokens refill at (per_minute - burst) / 60 per second, so a full burst plus a minute of refill
    never exceeds ``per_minute``: Loop's 300/minute is never crossed (loop-returns-api.md §4).
    """

    def __init__(self, clock: Clock, *, per_minute: int = 300, burst: int = 5) -> None:
        if burst < 1 or per_minute <= burst:
            raise ValueError("TokenBucket needs burst >= 1 and per_minute > burst")
        self._clock = clock
        self._rate = (per_minute - burst) / 60.0
        self._capacity = float(burst)
        self._tokens = float(burst)
        self._at = clock.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is there. Returns the seconds waited."""
        with self._lock:
            now = self._clock.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
            self._at = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self._rate
        if wait > 0:
            self._clock.sleep(wait)
        return wait

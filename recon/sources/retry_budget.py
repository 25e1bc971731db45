"""The per-run retry budget of one API: retries after failures, their seconds, and throttle waits.

``[sync] max_retries`` caps one request; nothing capped a run. Against an API answering most
requests with 5xx or timeouts, every request of thousands could retry six times and the run
would outlast its window and its run lock's lease. One ``RetryBudget`` per API (Loop, Shopify)
is shared by every request of one run, in every thread, and stops the run when either figure
is spent:

- ``retries``: retries after a *failure* (5xx, 408, timeouts, dropped connections,
  ``INTERNAL_SERVER_ERROR``). Throttling (429, ``THROTTLED``) is not counted: it is the server
  pacing a healthy run (shopify-admin-api.md §15: the wait is what the bucket needs to refill;
  loop-returns-api.md §4: 300/minute per key, possibly shared with other integrations), and
  counting it would stop a busy night that is making progress.
- ``seconds``: time lost to failures: failed attempts (a timeout costs its whole timeout) and the
  waits before retrying them. Throttle waits are not counted here either: a big backfill that is
  legitimately paced for hours is making progress, and a budget meant for errors must not stop it.
- ``throttle_seconds``: time spent waiting out throttling (the refused attempt and the wait the
  server asked for), bounded on its own and much higher, so that an API that keeps throttling
  cannot hold the run (and its lock) for ever. Each request is also bounded by its attempts
  (``[sync] max_retries``), throttled ones included.

Pacing before a first attempt (the client's own cost bucket or token bucket) is not retrying and
is not counted anywhere.

Per API, not one for both: the two have separate limits and fail separately, the Loop and
Shopify reads run in parallel threads, and the error names the API that failed. A run that
stops on its budget keeps what it committed (watermarks and backfill checkpoints move only with
committed data), so the next run resumes.
"""

from __future__ import annotations

import threading

from recon.errors import RetryBudgetExhaustedError


class RetryBudget:
    """Retries and retry seconds one run may spend on one API; ``None`` is no limit.

    Thread-safe: the sync's threads and remediation share one per API.
    """

    def __init__(
        self,
        service: str,
        *,
        retries: int | None = None,
        seconds: float | None = None,
        throttle_seconds: float | None = None,
    ) -> None:
        if retries is not None and retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        for name, value in (("seconds", seconds), ("throttle_seconds", throttle_seconds)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        self.service = service
        self.retries = retries
        self.seconds = seconds
        self.throttle_seconds = throttle_seconds
        self._lock = threading.Lock()
        self._retries_spent = 0
        self._seconds_spent = 0.0
        self._throttle_spent = 0.0

    @property
    def retries_spent(self) -> int:
        """Retries after failures so far this run."""
        with self._lock:
            return self._retries_spent

    @property
    def seconds_spent(self) -> float:
        """Seconds lost to failed attempts and the waits before retrying them so far this run."""
        with self._lock:
            return self._seconds_spent

    @property
    def throttle_seconds_spent(self) -> float:
        """Seconds spent waiting out throttling (429, THROTTLED) so far this run."""
        with self._lock:
            return self._throttle_spent

    def reset(self) -> None:
        """Start a new run with the whole budget."""
        with self._lock:
            self._retries_spent = 0
            self._seconds_spent = 0.0
            self._throttle_spent = 0.0

    def spend(self, failure: str, *, counted: bool, lost: float, wait: float) -> None:
        """Charge one retry before its wait: ``lost`` seconds already gone, ``wait`` to come.

        ``counted`` is False for throttling: its seconds go to the throttle budget, not to the
        failures' retries and seconds. The refused attempt's time is charged even when the retry
        is refused.

        Raises:
            RetryBudgetExhaustedError: the retry would exceed a limit; ``failure`` (the request
                and why it failed) is named as the last failure.
        """
        with self._lock:
            if not counted:
                self._spend_throttle(failure, lost, wait)
                return
            self._seconds_spent += max(0.0, lost)
            retries = self._retries_spent + 1
            if self.retries is not None and retries > self.retries:
                spent = self._retries_spent
                raise self._exhausted(
                    "retry",
                    f"{spent} {'retry' if spent == 1 else 'retries'} after failures "
                    f"([sync] retry_budget = {self.retries})",
                    failure,
                )
            if self.seconds is not None and self._seconds_spent + wait > self.seconds:
                raise self._exhausted(
                    "retry",
                    f"{self._seconds_spent:.0f} s lost to failed attempts and retry waits, and "
                    f"the next wait ({wait:.0f} s) would pass {self.seconds:.0f} s "
                    "([sync] retry_budget_seconds)",
                    failure,
                )
            self._retries_spent = retries
            self._seconds_spent += max(0.0, wait)

    def _spend_throttle(self, failure: str, lost: float, wait: float) -> None:
        """Charge a throttle wait (the caller holds the lock)."""
        self._throttle_spent += max(0.0, lost)
        cap = self.throttle_seconds
        if cap is not None and self._throttle_spent + wait > cap:
            raise self._exhausted(
                "throttle",
                f"{self._throttle_spent:.0f} s waited out for throttling (429, THROTTLED), and "
                f"the next wait ({wait:.0f} s) would pass {cap:.0f} s "
                "([sync] throttle_budget_seconds)",
                failure,
            )
        self._throttle_spent += max(0.0, wait)

    def summary(self) -> str:
        """``3/200 retries, 12/1800 s, throttled 40/7200 s`` for log lines."""
        with self._lock:
            retries, seconds = self._retries_spent, self._seconds_spent
            throttled = self._throttle_spent
        cap = "" if self.retries is None else f"/{self.retries}"
        secs = "" if self.seconds is None else f"/{self.seconds:.0f}"
        waits = "" if self.throttle_seconds is None else f"/{self.throttle_seconds:.0f}"
        return f"{retries}{cap} retries, {seconds:.0f}{secs} s, throttled {throttled:.0f}{waits} s"

    def _exhausted(self, kind: str, spent: str, failure: str) -> RetryBudgetExhaustedError:
        return RetryBudgetExhaustedError(
            f"{self.service}: this run's {kind} budget is spent: {spent}; last failure: "
            f"{failure}. The run stops; what it committed stays, and the next run resumes "
            "from there"
        )

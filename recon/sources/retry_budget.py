"""The per-run retry budget of one API: retries after failures, and the seconds retrying cost.

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
- ``seconds``: time lost to retrying of any kind: failed attempts (a timeout costs its whole
  timeout) plus every wait before a retry, throttling included, since that is wall time the run
  spends past its window either way. Pacing before a first attempt is not retrying and is not
  counted.

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
        self, service: str, *, retries: int | None = None, seconds: float | None = None
    ) -> None:
        if retries is not None and retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if seconds is not None and seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        self.service = service
        self.retries = retries
        self.seconds = seconds
        self._lock = threading.Lock()
        self._retries_spent = 0
        self._seconds_spent = 0.0

    @property
    def retries_spent(self) -> int:
        """Retries after failures so far this run."""
        with self._lock:
            return self._retries_spent

    @property
    def seconds_spent(self) -> float:
        """Seconds lost to failed attempts and retry waits so far this run."""
        with self._lock:
            return self._seconds_spent

    def reset(self) -> None:
        """Start a new run with the whole budget."""
        with self._lock:
            self._retries_spent = 0
            self._seconds_spent = 0.0

    def spend(self, failure: str, *, counted: bool, lost: float, wait: float) -> None:
        """Charge one retry before its wait: ``lost`` seconds already gone, ``wait`` to come.

        ``counted`` is False for throttling (only its seconds are charged). The failed
        attempt's time is charged even when the retry is refused.

        Raises:
            RetryBudgetExhaustedError: the retry would exceed either limit; ``failure`` (the
                request and why it failed) is named as the last failure.
        """
        with self._lock:
            self._seconds_spent += max(0.0, lost)
            retries = self._retries_spent + (1 if counted else 0)
            if self.retries is not None and retries > self.retries:
                spent = self._retries_spent
                raise self._exhausted(
                    f"{spent} {'retry' if spent == 1 else 'retries'} after failures "
                    f"([sync] retry_budget = {self.retries})",
                    failure,
                )
            if self.seconds is not None and self._seconds_spent + wait > self.seconds:
                raise self._exhausted(
                    f"{self._seconds_spent:.0f} s lost to failed attempts and retry waits, and "
                    f"the next wait ({wait:.0f} s) would pass {self.seconds:.0f} s "
                    "([sync] retry_budget_seconds)",
                    failure,
                )
            self._retries_spent = retries
            self._seconds_spent += max(0.0, wait)

    def summary(self) -> str:
        """``3/200 retries, 12/1800 s`` for log lines."""
        with self._lock:
            retries, seconds = self._retries_spent, self._seconds_spent
        cap = "" if self.retries is None else f"/{self.retries}"
        secs = "" if self.seconds is None else f"/{self.seconds:.0f}"
        return f"{retries}{cap} retries, {seconds:.0f}{secs} s"

    def _exhausted(self, spent: str, failure: str) -> RetryBudgetExhaustedError:
        return RetryBudgetExhaustedError(
            f"{self.service}: this run's retry budget is spent: {spent}; last failure: "
            f"{failure}. The run stops; what it committed stays, and the next run resumes "
            "from there"
        )

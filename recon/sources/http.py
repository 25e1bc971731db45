"""The one HTTP retry policy: classify each outcome once, wait (Retry-After or backoff), give up.

Outcomes (shopify-admin-api.md §16-17, loop-returns-api.md §4):

    success (< 400, no retry verdict from the body)   -> returned
    body verdict (THROTTLED, INTERNAL_SERVER_ERROR,   -> retried; THROTTLED is safe for writes;
      an empty nodes(ids:) list for ids asked)           an empty list is asked once more, then
                                                         returned as it is (``last_answer``)
    429                                               -> retried, Retry-After honoured (writes too:
                                                         the request was refused before executing);
                                                         without the header, the policy's throttle
                                                         backoff (Loop: at least ~10 s, see below)
    5xx, 408, timeout, connection reset               -> retried for reads; OutcomeUnknownError for
                                                         writes (the write may have happened)
    connect error (nothing was sent)                  -> retried, reads and writes
    401, 403                                          -> AuthError
    other 4xx                                         -> FatalHTTPError

Waits go through the injected clock, so a ``VirtualClock`` makes tests instant; ``zero_wait``
skips waiting altogether. Every message carries the response's ``X-Request-Id`` and no secret.
Besides each request's attempts, every retry draws on the run's ``RetryBudget`` for the API
(``recon.sources.retry_budget``): failures count toward its retries and seconds, throttle waits
only toward its throttle seconds.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

from recon.clock import Clock
from recon.errors import (
    AuthError,
    FatalHTTPError,
    OutcomeUnknownError,
    RetryExhaustedError,
    ThrottledError,
)
from recon.sources.redact import protect_logger, redact_text, redact_url
from recon.sources.retry_budget import RetryBudget
from recon.sources.server_clock import ServerClock

logger = logging.getLogger(__name__)

# Nothing reached the server: safe to resend even a write.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
_BACKOFF = -1.0  # "no wait was prescribed": use the policy's backoff
# Attempts for an answer that may be true though doubtful (``BodyVerdict.last_answer``): one
# re-ask tells a passing glitch apart; the whole policy (8 attempts, ~1 min of waits) would be
# spent on every recheck of a deleted order if Shopify leaves hidden ids out of ``nodes``.
_ANSWER_ATTEMPTS = 2
_THROTTLE_BACKOFF = -2.0  # a 429 without Retry-After: use the policy's throttle backoff
_WAIT_SLICE = 1.0  # seconds a retry wait sleeps between checks for cancellation


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts budget and backoff shape. ``zero_wait`` turns every wait into no wait (tests).

    ``throttle_min_delay``: a 429 that names no ``Retry-After`` waits at least this long (with
    jitter, at most ``throttle_max_delay``); ``None`` backs off like a 5xx. A 429 with the header
    always waits what the header says.
    """

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_wait: float = 300.0  # a single requested wait beyond this is not waited out
    zero_wait: bool = False
    throttle_min_delay: float | None = None
    throttle_max_delay: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter, capped: uniform(0, min(cap, base * 2**n))."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(attempt - 1, 0)))
        return self.rng.uniform(0, ceiling)

    def throttle_backoff(self, attempt: int) -> float:
        """The wait after a 429 without ``Retry-After``: uniform(floor, min(cap, floor * 2**n)).

        A limit counted over a rolling minute (Loop, §4) is not freed by a sub-second pause: an
        over-limit key stays over it until old requests age out, and the key may be shared with
        other integrations whose traffic recon cannot see. So the wait starts at the floor,
        doubles its jitter range per attempt and stops at the cap.
        """
        if self.throttle_min_delay is None:
            return self.backoff(attempt)
        floor = min(self.throttle_min_delay, self.throttle_max_delay)
        ceiling = min(self.throttle_max_delay, floor * (2 ** max(attempt, 1)))
        return self.rng.uniform(floor, ceiling)


@dataclass(frozen=True)
class BodyVerdict:
    """What a response body says beyond its status: retry after ``wait`` (None: backoff)."""

    reason: str
    wait: float | None = None
    executed: bool = False  # True: the request may have run (a write must not be resent)
    throttle: bool = False  # True: the server is pacing us (THROTTLED), not failing
    # True: an answer that may be wrong but is whole (an empty ``nodes(ids:)`` list, which may
    # be a glitch or Shopify's true answer: §6 is unverified) is asked once more, not under the
    # whole policy, and the second response is returned for the caller to judge instead of
    # ``RetryExhaustedError``.
    last_answer: bool = False


@dataclass(frozen=True)
class _Retry:
    """A retriable outcome: the wait (seconds, ``_BACKOFF`` or ``_THROTTLE_BACKOFF``) and why."""

    wait: float
    reason: str
    throttle: bool = False
    answer: httpx.Response | None = None  # returned when the attempts run out (``last_answer``)


BodyCheck = Callable[[httpx.Response], BodyVerdict | None]
Pace = Callable[[], object]


def request_id(response: httpx.Response | None) -> str:
    """The server's request id for error messages, or ``-``."""
    if response is None:
        return "-"
    return response.headers.get("X-Request-Id") or response.headers.get("x-request-id") or "-"


def parse_retry_after(value: str | None, clock: Clock) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - clock.now()).total_seconds())


# Where an engineer looks when an API refuses recon (config/recon.example.toml lists the scopes).
_CREDENTIAL_HINTS = {
    "shopify": "; check the Admin API access token in the variable [shop] token_env names, and "
    "its scopes (config/recon.example.toml lists them)",
    "loop": "; check the Loop API key in the variable [loop] api_key_env names (Returns scope)",
}


class RetryingSender:
    """Sends one request under the policy. One instance per API client; its state is the run's
    ``budget`` for that API (unlimited when none is given) and what the responses' ``Date``
    headers say of the host clock (``server_clock``)."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        clock: Clock,
        policy: RetryPolicy | None = None,
        service: str,
        secrets: tuple[str, ...] = (),
        budget: RetryBudget | None = None,
    ) -> None:
        self._http = http
        self._clock = clock
        self.policy = policy or RetryPolicy()
        self.budget = budget or RetryBudget(service)
        self._service = service
        self._secrets = secrets
        self._interrupt: Callable[[], object] | None = None
        self.server_clock = ServerClock(clock)
        protect_logger("httpx", secrets)

    @contextlib.contextmanager
    def interrupted_by(self, check: Callable[[], object]) -> Iterator[None]:
        """While inside, ``check`` runs before every attempt; it raises to stop this client.

        The sync's two reading threads use it to stop one side when the other fails
        (``recon.fetch.Stop``): before its next page, or its next retry of the same one.
        """
        self._interrupt = check
        try:
            yield
        finally:
            self._interrupt = None

    def send(
        self,
        request: httpx.Request,
        *,
        write: bool = False,
        check_body: BodyCheck | None = None,
        pace: Pace | None = None,
        attempts: int | None = None,
    ) -> httpx.Response:
        """Send, retrying what is safe to retry, and return the successful response.

        ``attempts`` caps this request's attempts below the policy's (1: no retry, so nothing
        is drawn from the run's budget): a best-effort read that must not cost the run.

        Raises:
            AuthError: on 401/403.
            FatalHTTPError: on any other 4xx.
            OutcomeUnknownError: a write got a 5xx, a timeout or a dropped connection.
            RetryExhaustedError: the request's attempts ran out.
            RetryBudgetExhaustedError: the run's retry budget for this API ran out.
            ThrottledError: the server asked for a wait longer than ``policy.max_wait``.
        """
        where = f"{self._service} {request.method} {redact_url(str(request.url))}"
        most = min(self.policy.max_attempts, attempts or self.policy.max_attempts)
        answers = 0  # attempts that gave a whole but doubtful answer (``last_answer``)
        for attempt in range(1, most + 1):
            if self._interrupt is not None:
                self._interrupt()
            if pace is not None:
                pace()  # pacing before an attempt is not retrying: the budget does not see it
            began = self._clock.monotonic()
            outcome = self._attempt(request, where, write=write, check_body=check_body)
            if isinstance(outcome, httpx.Response):
                return outcome
            answers += outcome.answer is not None  # a throttle or 5xx before it does not count
            if attempt == most or (outcome.answer is not None and answers >= _ANSWER_ATTEMPTS):
                if outcome.answer is not None:
                    logger.warning("%s: %s after %d attempts", where, outcome.reason, attempt)
                    return outcome.answer
                raise RetryExhaustedError(
                    f"{where}: gave up after {attempt} attempts; last failure: {outcome.reason}"
                )
            seconds = self._delay(outcome, where, attempt)
            self.budget.spend(
                f"{where}: {outcome.reason}",
                counted=not outcome.throttle,
                lost=self._clock.monotonic() - began,
                wait=0.0 if self.policy.zero_wait else seconds,
            )
            self._wait(seconds, where, outcome.reason, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, request: httpx.Request, where: str, *, write: bool, check_body: BodyCheck | None
    ) -> httpx.Response | _Retry:
        """One try: the response on success, else what to wait and why."""
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            reason = redact_text(f"{type(exc).__name__}: {exc}", self._secrets)
            if write and not isinstance(exc, _NOT_SENT):
                raise OutcomeUnknownError(f"{where}: write outcome unknown ({reason})") from exc
            return _Retry(_BACKOFF, reason)
        self.server_clock.observe(response)  # any status: an error page is dated too
        verdict = check_body(response) if check_body is not None else None
        if verdict is not None:
            reason = f"{verdict.reason} (X-Request-Id {request_id(response)})"
            if write and verdict.executed:
                raise OutcomeUnknownError(f"{where}: write outcome unknown ({reason})")
            wait = verdict.wait if verdict.wait is not None else _BACKOFF
            if verdict.throttle:
                # A throttle answered with Retry-After (Shopify's 429 THROTTLED, §17) waits at
                # least that long, though the body's throttleStatus, if any, says less.
                after = parse_retry_after(response.headers.get("Retry-After"), self._clock)
                if after is not None and (wait < 0 or after > wait):
                    wait = after
            answer = response if verdict.last_answer else None
            return _Retry(wait, reason, throttle=verdict.throttle, answer=answer)
        return self._classify_status(response, where, write=write)

    def _classify_status(
        self, response: httpx.Response, where: str, *, write: bool
    ) -> httpx.Response | _Retry:
        status = response.status_code
        rid = request_id(response)
        if status < 400:
            return response
        reason = f"HTTP {status} (X-Request-Id {rid})"
        if status == 429:
            # Retry-After present: honour it. Absent (Loop documents none, §4): the policy's
            # throttle backoff, which for Loop is seconds, not the sub-second 5xx backoff.
            after = self._backoff_for(response)
            wait = _THROTTLE_BACKOFF if after == _BACKOFF else after
            return _Retry(wait, reason, throttle=True)
        if status >= 500 or status == 408:
            if write:
                raise OutcomeUnknownError(f"{where}: write outcome unknown ({reason})")
            return _Retry(self._backoff_for(response), reason)
        if status in (401, 403):
            raise AuthError(
                f"{where}: {reason}: the {self._service} credentials were refused or lack a scope"
                + _CREDENTIAL_HINTS.get(self._service, "")
            )
        detail = redact_text(response.text[:300], self._secrets)
        raise FatalHTTPError(f"{where}: {reason}: {detail}")

    def _backoff_for(self, response: httpx.Response | None) -> float:
        """Retry-After when the server gave one, else exponential backoff with full jitter."""
        header = response.headers.get("Retry-After") if response is not None else None
        after = parse_retry_after(header, self._clock)
        return after if after is not None else _BACKOFF

    def _delay(self, retry: _Retry, where: str, attempt: int) -> float:
        """Seconds to wait before the next attempt.

        Raises:
            ThrottledError: the server asked for a wait longer than ``policy.max_wait``.
        """
        if retry.wait == _BACKOFF:
            seconds = self.policy.backoff(attempt)
        elif retry.wait == _THROTTLE_BACKOFF:
            seconds = self.policy.throttle_backoff(attempt)
        else:
            seconds = retry.wait
        if seconds > self.policy.max_wait:
            raise ThrottledError(
                f"{where}: asked to wait {seconds:.0f}s (> {self.policy.max_wait:.0f}s): "
                f"{retry.reason}"
            )
        return seconds

    def _wait(self, seconds: float, where: str, reason: str, attempt: int) -> None:
        logger.warning(
            "%s: %s; retry %d/%d in %.2fs (this run: %s)",
            where,
            reason,
            attempt,
            self.policy.max_attempts - 1,
            seconds,
            self.budget.summary(),
        )
        if not self.policy.zero_wait:
            self._sleep(seconds)

    def _sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` in slices, checking ``interrupted_by``'s check between them: a wait
        of minutes (a ``Retry-After``) ends soon after the other side of the sync fails.

        Raises:
            recon.errors.SyncCancelledError: from the check, when the wait was interrupted.
        """
        remaining = seconds
        while remaining > 0:
            step = min(remaining, _WAIT_SLICE)
            self._clock.sleep(step)
            remaining -= step
            if self._interrupt is not None and remaining > 0:
                self._interrupt()

"""Loop Returns client: the Detailed Returns List, windowed, paged, paced and de-duplicated.

Traps handled (loop-returns-api.md §6): no window means "last 24 hours", no state means "not
cancelled, not review", windows over 120 days are refused, and ``nextPageUrl`` drops ``from``,
``state`` and ``paginate``, so every page re-sends them. A cursor keyed on the timestamp alone
(trap 4) can skip rows sharing the page-edge second, so that second is re-read (``_edge_second``).
A closed refund return whose list item carries no refund linkage at all is completed from Get
Return Details (§10.3, ``_with_details_refunds``); one whose details cannot be read is kept as the
list gave it, with an entry saying its refund link is unknown, and asked again later
(``iter_details``).

Time zone of ``from``/``to`` (trap 6, unknown): windows are sent in UTC with an explicit ``Z``. A
server that ignored the zone and read them in the shop's zone would shift a window by at most
±14 hours; the nightly look-back (``[sync] lookback_hours``, 72 by default) re-reads far more than
that, so such a shift can delay a return by a night but never lose it. A backfill has no
look-back: it asks Loop for 14 hours more at each end of its range (``recon.backfill.loop_window``).
The page-edge re-read of one second would miss entirely, so it finds and keeps the shift
(``_edge_second``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from recon.clock import Clock
from recon.config import DETAILS_REASK_STOP_AFTER
from recon.errors import (
    CursorLoopError,
    FatalHTTPError,
    RetryBudgetExhaustedError,
    RetryExhaustedError,
)
from recon.models import (
    RETURN_DETAILS_FAILING,
    RETURN_DETAILS_UNREAD,
    LoopReturnRecord,
    Quarantined,
)
from recon.ports import LOOP_STATES
from recon.sources.http import RetryingSender, RetryPolicy
from recon.sources.loop_parse import parse_return, parse_return_items
from recon.sources.loop_windows import (
    FURTHEST_ZONE,
    MAX_WINDOW_DAYS,
    ZONE_SHIFTS,
    LoopItem,
    check_window,
    cursor_breaks_ties,
    edge_moment,
    from_loop_time,
    holds_second,
    loop_time,
    page_parts,
    split_windows,
)
from recon.sources.pacing import TokenBucket
from recon.sources.retry_budget import RetryBudget
from recon.sources.server_clock import ServerClock

logger = logging.getLogger(__name__)

MAX_PAGE = "750"  # §6: Loop's largest pageSize
# The page-edge re-read starts this far before the edge second: Loop's `from` may be exclusive.
_EDGE_MARGIN = timedelta(seconds=1)
LIST_PATH = "/warehouse/return/list"
DETAILS_PATH = "/warehouse/return/details"
THROTTLE_MIN_SECONDS, THROTTLE_MAX_SECONDS = 10.0, 60.0  # 429 without Retry-After (§4)
# Re-asks of unread details stop for the night after this many Loop failed to answer running
# (the default of ``[loop] details_reask_stop_after``).
REASK_FAILURES_IN_A_ROW = DETAILS_REASK_STOP_AFTER


def loop_policy(policy: RetryPolicy | None = None) -> RetryPolicy:
    """The retry policy for Loop: ``policy`` (or the default) with Loop's 429 wait unless set.

    §4: 300 requests per rolling minute per API key, possibly shared with the merchant's other
    Loop integrations, and no ``Retry-After`` documented. A 429 that carries the header waits
    what it says; one without waits 10-60 s (jittered, doubling per attempt), since a 5xx-style
    sub-second retry would only land inside the same full minute again.
    """
    chosen = policy or RetryPolicy()
    if chosen.throttle_min_delay is not None:
        return chosen
    return replace(
        chosen, throttle_min_delay=THROTTLE_MIN_SECONDS, throttle_max_delay=THROTTLE_MAX_SECONDS
    )


class LoopClient:
    """Reads Loop returns; implements ``recon.ports.LoopSource``.

    ``retry_budget`` is the run's budget for Loop (``recon.sources.retry_budget``);
    ``details_reask_stop_after`` ends a night's re-asks of unread details (``iter_details``).
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        base_url: str,
        api_version: str,
        api_key: str,
        clock: Clock,
        page_size: int = 750,
        window_days: int = 100,
        policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        details_reask_stop_after: int = REASK_FAILURES_IN_A_ROW,
    ) -> None:
        if not 1 <= page_size <= 750:
            raise ValueError(f"page_size must be 1..750 (Loop's maximum), got {page_size}")
        if not 1 <= window_days <= MAX_WINDOW_DAYS:
            raise ValueError(f"window_days must be 1..{MAX_WINDOW_DAYS}, got {window_days}")
        if details_reask_stop_after < 1:
            raise ValueError(
                f"details_reask_stop_after must be at least 1, got {details_reask_stop_after}"
            )
        self._reask_stop_after = details_reask_stop_after
        self._http = http
        self._root = f"{base_url.rstrip('/')}/{api_version}"
        self._api_key = api_key
        self._page_size = page_size
        self._window_days = window_days
        self._sender = RetryingSender(
            http,
            clock=clock,
            policy=loop_policy(policy),
            service="loop",
            secrets=(api_key,),
            budget=retry_budget,
        )
        self._bucket = TokenBucket(clock)
        # How far Loop's reading of from/to is off the UTC sent, once a page edge showed it.
        self._zone_shift: timedelta | None = None
        self._origin = _origin_of(self._root)

    def interrupted_by(
        self, check: Callable[[], object]
    ) -> contextlib.AbstractContextManager[None]:
        """While inside, ``check`` runs before every request and retry (``RetryingSender``)."""
        return self._sender.interrupted_by(check)

    @property
    def retry_budget(self) -> RetryBudget:
        """This client's retry budget (one run's retries to Loop)."""
        return self._sender.budget

    @property
    def server_clock(self) -> ServerClock:
        """What Loop's ``Date`` headers say of the host clock (``recon.sync`` reads it)."""
        return self._sender.server_clock

    def iter_returns(self, start: datetime, end: datetime, state: str) -> Iterator[LoopItem]:
        """Returns of one state updated in [start, end), each copy once.

        Raises:
            ValueError: without both bounds, with naive datetimes, or with an unknown state.
            SourceError: subclasses from the retry policy, or ``CursorLoopError``.
        """
        check_window(start, end)
        if state not in LOOP_STATES:
            raise ValueError(f"state must be one of {', '.join(LOOP_STATES)}, got {state!r}")
        yield from self._completed(self._dedupe(self._iter_windows(start, end, state), {}))

    def iter_all_states(self, start: datetime, end: datetime) -> Iterator[LoopItem]:
        """Returns of every state (one call sequence per state: §6 trap 2), each copy once.

        Raises:
            ValueError: as ``iter_returns``.
        """
        check_window(start, end)
        seen: dict[str, LoopItem] = {}
        for state in LOOP_STATES:
            yield from self._completed(self._dedupe(self._iter_windows(start, end, state), seen))

    def get_return(self, return_id: str, *, attempts: int | None = None) -> LoopItem:
        """One return from Get Return Details (integer ids, zone-less timestamps: §7);
        ``attempts`` caps the request's attempts (``RetryingSender.send``).

        Raises:
            FatalHTTPError: if the body is not a return object.
        """
        url = f"{self._root}{DETAILS_PATH}"
        body = self._get(url, {"return_id": return_id}, attempts=attempts)
        if isinstance(body, dict) and isinstance(body.get("return"), dict):
            body = body["return"]
        if not isinstance(body, dict):
            raise FatalHTTPError(f"loop return details {return_id}: expected an object")
        return parse_return(body)

    def iter_details(self, records: Sequence[LoopReturnRecord]) -> Iterator[LoopItem]:
        """Mirrored returns whose details could not be read before, completed from Get Return
        Details now (``recon.sync_plan`` picks them): each record with Loop's ``refunds[]``,
        or as it was with a new entry when the details still cannot be read.

        Each is asked once, with no retry: a re-ask is a best-effort repair of one record (its
        writes stay held while it fails), so it draws nothing from the run's retry budget.
        Retried, some fifty returns failing with 5xx on the night they fall due (they failed
        together, so they do) spent the budget and stopped the night, and every recheck after.

        Once Loop fails to answer ``details_reask_stop_after`` of them in a row (``[loop]``,
        3 by default; 5xx, timeouts) the night stops asking: the rest keep their entries as they
        are and are asked on a later night. A hung details endpoint costs three timeouts, not
        one per return due, while Shopify's reads of the orders wait for Loop's side to finish.

        Raises:
            SourceError: as any Loop call (refused credentials).
        """
        in_a_row = 0
        for record in records:
            items = list(self._with_details_refunds(record, attempts=1))
            yield from items
            failed = any(
                isinstance(i, Quarantined) and i.reason.startswith(RETURN_DETAILS_FAILING)
                for i in items
            )
            in_a_row = in_a_row + 1 if failed else 0
            if in_a_row >= self._reask_stop_after:
                logger.warning(
                    "loop: Get Return Details failed %d times in a row; the other returns "
                    "due to be asked again wait for a later night",
                    in_a_row,
                )
                return

    def _completed(self, items: Iterator[LoopItem]) -> Iterator[LoopItem]:
        """Each listed copy completed from Get Return Details where its list item lacks the
        refund link (``_with_details_refunds``), once per copy passed on by ``_dedupe``."""
        for item in items:
            yield from self._with_details_refunds(item)

    @staticmethod
    def _dedupe(items: Iterator[LoopItem], seen: dict[str, LoopItem]) -> Iterator[LoopItem]:
        """Each return once as read: a copy read again unchanged (windows and pages overlap)
        is dropped; one that changed since (read again by a later window or state) is passed
        on, and the store keeps the later ``updated_at`` (``recon.store.sql.latest_by_id``)."""
        for item in items:
            # An entry is one per record and field: a cleaning note and an unread-details entry
            # of the same return are two.
            key = (
                item.id
                if isinstance(item, LoopReturnRecord)
                else f"q:{item.record_id}:{item.field}"
            )
            if isinstance(item, Quarantined) and item.record_id is None:
                yield item  # nothing to de-duplicate on
                continue
            if seen.get(key) == item:
                continue
            seen[key] = item
            yield item

    def _iter_windows(self, start: datetime, end: datetime, state: str) -> Iterator[LoopItem]:
        for window_start, window_end in split_windows(start, end, days=self._window_days):
            params = {
                "from": loop_time(window_start),
                "to": loop_time(window_end),
                "filter": "updated_at",
                "state": state,
                "paginate": "true",
                "pageSize": str(self._page_size),
            }
            yield from self._iter_pages(params)

    def _iter_pages(self, params: dict[str, str], *, edges: bool = True) -> Iterator[LoopItem]:
        """Every page of one list query; ``edges`` re-reads each page-edge second (trap 4)."""
        url: str | None = f"{self._root}{LIST_PATH}"
        query = dict(params)
        seen_cursors: set[str] = set()
        while url is not None:
            returns, next_url = page_parts(self._get(url, query))
            # Details are asked after de-duplication (``_completed``): a return listed twice
            # (overlapping windows, a page-edge second read again) costs one details call, and
            # one answer, so a second call failing cannot unlink what the first one read.
            items = [item for raw in returns for item in parse_return_items(raw)]
            yield from items
            if not next_url:
                return
            url, query = self._next_request(next_url, params)
            cursor = query.get("cursor") or next_url
            if cursor in seen_cursors:
                raise CursorLoopError(
                    f"loop returns list ({params['state']}, {params['from']}..{params['to']}): "
                    "the server repeated a page cursor"
                )
            seen_cursors.add(cursor)
            if edges and not cursor_breaks_ties(query.get("cursor")):
                yield from self._edge_second(params, edge_moment(returns, items))

    def _edge_second(self, params: dict[str, str], edge: datetime | None) -> Iterator[LoopItem]:
        """Re-read the second of the page's last row, paged, same state and filter (§6 trap 4).

        Loop's sample cursor holds the filter column's timestamp and no id, so the next page may
        start strictly past that second: rows sharing it that did not fit on this page would be
        skipped (or, the other way round, repeated; repeats are dropped by id). Asking for
        [T - 1 s, T + 1 s] once per page edge brings every such row back, whether Loop's bounds
        include their instant or not. The edge query asks for
        Loop's largest page, since its own next page would again start past T: only more than
        750 rows updated within one second could still slip, which is not a realistic load.

        Loop's zone for ``from``/``to`` is unknown too (trap 6): a server reading them as wall
        time in the shop's zone answers the re-read with another second, and the skipped rows
        would be lost (again every night on a quiet store, the page edges falling in the same
        places). A re-read that holds no row of T is therefore asked again shifted by each real
        UTC offset until one holds T's rows; that shift is kept for the client's later edges.
        """
        if edge is None:
            return
        second = edge.replace(microsecond=0)
        start, end = from_loop_time(params["from"]), from_loop_time(params["to"])
        # A second of margin below: a Loop reading ``from`` as "after" (unverified either way)
        # answered [T, T + 1 s] without T's rows, and they stayed unread night after night.
        low, high = second - _EDGE_MARGIN, second + timedelta(seconds=1)
        if start <= edge <= end:  # kept inside the window asked for, and its margin
            low, high = max(low, start - _EDGE_MARGIN), min(high, end)
        elif not start - FURTHEST_ZONE <= edge <= end + FURTHEST_ZONE:
            return  # no zone explains it: a server that ignored the window, nothing to re-read
        # An edge just outside it is a server that read the window in another zone: its rows
        # are served by no other query of this window (a backfill's windows barely overlap), so
        # the second is re-read whole, and the zone search below runs for it as for any other
        # edge.
        tried = self._zone_shift or timedelta(0)
        items = self._read_between(params, low + tried, high + tried)
        if holds_second(items, second):
            yield from items
            return
        for shift in (timedelta(0), *ZONE_SHIFTS):  # no shift too: Loop may read UTC again
            if shift == tried:
                continue
            shifted = self._read_between(params, low + shift, high + shift)
            if holds_second(shifted, second):
                logger.warning(
                    "loop reads from/to as wall time at UTC%+g h%s (§6 trap 6): page-edge "
                    "re-reads are shifted to match",
                    shift.total_seconds() / 3600,
                    ", not as the UTC sent" if shift else ", as sent, again",
                )
                self._zone_shift = shift
                yield from items
                yield from shifted
                return
        logger.warning(
            "loop returns list (%s): the re-read of page-edge second %s held none of its rows; "
            "rows sharing it may be missing until a later run",
            params["state"],
            second.isoformat(),
        )
        yield from items

    def _read_between(
        self, params: dict[str, str], low: datetime, high: datetime
    ) -> list[LoopItem]:
        query = {**params, "from": loop_time(low), "to": loop_time(high), "pageSize": MAX_PAGE}
        return list(self._iter_pages(query, edges=False))

    def _with_details_refunds(
        self, item: LoopItem, *, attempts: int | None = None
    ) -> Iterator[LoopItem]:
        """Complete a closed refund return's linkage from Get Return Details when the list lacks it.

        Two cases (§10.1, §10.3): ``shopify_refund_object[]`` is only *observed* on list items;
        ``refunds[]`` with ``provider_refund_id`` is *documented* only on the details endpoint.
        When the list item carries the array (even empty), it is Loop's record of the refunds it
        created and is trusted as is: an empty one means Loop issued none (Auto-Refund off, refund
        made by staff or by recon), and asking details for each such return would cost a call per
        return per run. When the array is absent and no ``refunds[]`` id is present, the return
        is refunded (closed, ``refund`` > 0) yet unlinked, so details are fetched (paced like any
        Loop call) and their ``refunds[]`` taken; without this the engine would find no link for
        a refund Loop itself made and raise false findings (MISSING_REFUND, MISSING_RESTOCK,
        UNMATCHED_REFUND).

        Yields the item, and after it an entry (``RETURN_DETAILS_UNREAD``, field ``refunds``) when
        the details could not be read: a 404, or a 5xx until its attempts ran out. The return is
        kept as the list gave it rather than failing the night (and every night, the watermark
        never moving), but its refund link is unknown: the entry marks it unreadable, so recon
        holds its refund and restock for review (a refund Loop made may be the one "missing"),
        and the next nights ask for the details again (``recon.sync_plan``) until they answer.
        What a 404 there means is not documented (loop-returns-api.md §7, §14): the return
        deleted in Loop, or one this key's shop does not own (a key scoped to another shop of a
        multi-store account), or a passing fault. Both readings are designed for: the entry holds
        the writes whichever it is, and a details 404 that is for good is asked again only at
        the recheck pace, as a record Shopify answers null for, not every night.
        """
        if not isinstance(item, LoopReturnRecord) or not _needs_details(item):
            yield item
            return
        try:
            details = self.get_return(item.id, attempts=attempts)
        except RetryBudgetExhaustedError:
            raise  # Loop is failing as a whole: the run stops, as for any other call
        except (FatalHTTPError, RetryExhaustedError) as exc:
            logger.warning("loop return %s: details unavailable (%s)", item.id, exc)
            yield item
            # Which it was goes in the entry: Loop failing (asked again nightly) or refusing.
            failing = isinstance(exc, RetryExhaustedError)
            yield _details_unread(item, str(exc), failing=failing)
            return
        if isinstance(details, Quarantined):  # answered, but its refunds cannot be trusted
            yield item
            yield _details_unread(item, f"its answer's {details.field}: {details.reason}")
            return
        if not details.refunds:
            yield item
            return
        raw = {**item.raw, "refunds": details.raw.get("refunds", [])}  # audit: what was used
        yield item.model_copy(update={"refunds": details.refunds, "raw": raw})

    def _next_request(self, next_url: str, params: dict[str, str]) -> tuple[str, dict[str, str]]:
        """Split ``nextPageUrl`` and re-apply every first-page parameter (§6 trap 3).

        Loop's sample next URL keeps ``to``, ``filter``, ``pageSize`` and ``cursor`` only: without
        ``from`` and ``state`` it walks back through all history and every state, and without
        ``paginate=true`` it would answer a bare array, so all of ``params`` go over its query.

        Raises:
            FatalHTTPError: if the next page points at another host (the key must not leak).
        """
        parts = urlsplit(next_url)
        if _origin_of(next_url) != self._origin:
            raise FatalHTTPError("loop nextPageUrl points at another host; refusing to follow it")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        query.update(params)
        return f"{parts.scheme}://{parts.netloc}{parts.path}", query

    def _get(self, url: str, params: dict[str, str], *, attempts: int | None = None) -> Any:
        request = self._http.build_request(
            "GET",
            url,
            params=params,
            headers={"X-Authorization": self._api_key, "Accept": "application/json"},
        )
        response = self._sender.send(request, pace=self._bucket.acquire, attempts=attempts)
        try:
            return response.json()
        except ValueError as exc:
            raise FatalHTTPError(f"loop {request.url.path}: response is not JSON") from exc


def _details_unread(record: LoopReturnRecord, why: str, *, failing: bool = False) -> Quarantined:
    """The entry of a return stored without its refund link: its details could not be read.

    ``failing``: Loop failed to answer (5xx, a timeout, throttling until the attempts ran out),
    so the reason starts ``RETURN_DETAILS_FAILING`` and the return is asked again every night;
    otherwise (a 404, an unusable answer) it is paced as a record that may be gone for good.
    """
    prefix = RETURN_DETAILS_FAILING if failing else RETURN_DETAILS_UNREAD
    return Quarantined(
        source="loop",
        kind="return",
        record_id=record.id,
        field="refunds",
        reason=(
            f"{prefix}Loop's Get Return Details could not be read ({why}); the "
            "return is kept as the list gave it and asked for again; recon's refund and restock "
            "of it wait for review until a read links or clears its refunds"
        ),
        raw=dict(record.raw),
    )


def _needs_details(record: LoopReturnRecord) -> bool:
    """Closed, refunded to the payment method, no provider refund id and no refund-object array."""
    if record.state != "closed" or record.refund <= 0:
        return False
    if any(refund.provider_refund_id for refund in record.refunds):
        return False
    return record.raw.get("shopify_refund_object") is None


def _origin_of(url: str) -> tuple[str, str, int | None]:
    """A URL's origin as the web compares it: scheme and host in lower case, the default port
    as none (``https://API.loopreturns.com:443`` is ``https://api.loopreturns.com``). A
    ``[loop] base_url`` spelled either way follows Loop's next pages; another host is refused.
    An unparsable URL has no origin (the empty one), so it matches no real one."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return ("", "", None)
    return (parsed.scheme, parsed.host, parsed.port)

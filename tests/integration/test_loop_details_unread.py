"""A closed refund return whose Loop details could not be read is read again, at a bounded pace.

Over real HTTP against the sandbox (the Loop emulator with list items that carry no
``shopify_refund_object``, so recon asks Get Return Details for each closed refund return's
``refunds[]``), on a virtual clock, with a SQLite or PostgreSQL mirror. For one return (the
victim) Get Return Details answers 404 or 5xx. Before, the return was kept as the list gave it
(no refund link) and, once the look-back had passed it, never asked about again unless it
changed in Loop: a refund Loop made stayed unlinked, and the engine could raise a false
MISSING_REFUND on a paid return.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.models import RETURN_DETAILS_FAILING, RETURN_DETAILS_UNREAD  # noqa: E402
from recon.remediation.holds import hold_reason  # noqa: E402
from recon.remediation.runner import contexts_for  # noqa: E402
from recon.sandbox.faults import Faults  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sandbox.world import World  # noqa: E402
from recon.sandbox.world_loop import LoopState  # noqa: E402
from recon.sources.http import RetryPolicy  # noqa: E402
from recon.sources.loop import REASK_FAILURES_IN_A_ROW  # noqa: E402
from recon.sources.retry_budget import RetryBudget  # noqa: E402
from recon.store.sql import SqlStore  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    SandboxRig,
    mirror_records,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)

SETTINGS = sync_settings_for_tests(initial_days=400, lookback_hours=72, not_visible_recheck_days=30)


class DetailsRefused:
    """ASGI wrapper around the Loop emulator: Get Return Details of ``victim`` (one id, or a
    set of them) answers ``status`` (None: the emulator answers); counts the victims' details
    requests."""

    def __init__(self, app: Any, victim: str | frozenset[str], status: int | None) -> None:
        self.app = app
        self.victims = {victim} if isinstance(victim, str) else set(victim)
        self.status = status
        self.asked = 0
        self.asked_ids: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        query = scope.get("query_string", b"").decode().split("&")
        if (
            scope["type"] == "http"
            and scope["path"].endswith("/warehouse/return/details")
            and any(f"return_id={victim}" in query for victim in self.victims)
        ):
            self.asked += 1
            self.asked_ids += [q.removeprefix("return_id=") for q in query if "return_id=" in q]
            if self.status is not None:
                body = b'{"message": "Return not found."}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": self.status,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _world() -> tuple[World, str]:
    """A generated world and its victim: a closed return Loop refunded itself (its details
    carry ``refunds[]`` with a provider refund id), last updated over four days before the
    world's now, so no nightly look-back after the first night lists it again."""
    world, _truth = generate_world(seed=23, returns=20)
    world = normalise_generated_world(world)
    victim = min(
        r.id
        for r in world.loop_returns
        if r.state == LoopState.CLOSED
        and r.refunds
        and any(f.provider_refund_id for f in r.refunds)
        and r.updated_at <= world.now - timedelta(days=4)
    )
    return world, victim


def _link(store: SqlStore, victim: str) -> list[str | None]:
    record = mirror_records(store)["loop_returns"][victim]
    return [r.get("provider_refund_id") for r in record["refunds"]]


def _open_entries(store: SqlStore, victim: str) -> list[str]:
    return [
        e.entry.reason
        for e in store.quarantine_entries()
        if e.entry.kind == "return" and e.entry.record_id == victim and e.resolved_at is None
    ]


def _night(rig: SandboxRig, days: float) -> None:
    rig.clock.advance(timedelta(days=days))
    run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)


def _rig(
    tmp_path: Path,
    store_url: str,
    world: World,
    refused: tuple[str | frozenset[str], int],
    wrapped: list[Any],
    budget: RetryBudget | None = None,
) -> Any:
    """A sandbox rig whose Loop answers ``refused`` (victims, status) to Get Return Details."""

    def wrapper(app: Any) -> Any:
        wrapped.append(DetailsRefused(app, *refused))
        return wrapped[-1]

    return sandbox_rig(
        world,
        tmp_path,
        faults=Faults(loop_omit_refund_object=True),
        loop_wrapper=wrapper,
        policy=RetryPolicy(max_attempts=2, zero_wait=True),
        store_url=store_url,
        budgets={"loop": budget} if budget is not None else None,
    )


def test_details_that_failed_are_asked_again_the_next_night_and_link_the_refund(
    tmp_path: Path, store_url: str
) -> None:
    """Night 1: the victim's details fail (503 until the attempts run out). The return is
    mirrored as the list gave it, with an open entry saying its refund link is unknown, which
    marks it unreadable (recon's writes on it wait). Night 2, past the look-back (the list no
    longer names it): its details are asked again by id, answer, and link Loop's refund; the
    entry is resolved, releasing the writes."""
    world, victim = _world()
    wrapped: list[DetailsRefused] = []
    with _rig(tmp_path, store_url, world, (victim, 503), wrapped) as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        details = wrapped[0]
        assert details.asked == 2  # the list read asked, with its one retry
        assert _link(rig.store, victim) == []
        reasons = _open_entries(rig.store, victim)
        assert len(reasons) == 1 and reasons[0].startswith(RETURN_DETAILS_UNREAD)
        assert "503" in reasons[0]
        context = contexts_for(rig.store.load_snapshot())[victim]
        held = hold_reason(context, {}, context.loop_return.provider_order_id or "")
        assert context.return_unreadable and "Get Return Details" in held  # its writes wait

        details.status, details.asked = None, 0
        _night(rig, 4)
        assert details.asked == 1
        loop_return = next(r for r in rig.state.world.loop_returns if r.id == victim)
        expected = [f.provider_refund_id for f in loop_return.refunds]
        assert _link(rig.store, victim) == expected
        assert _open_entries(rig.store, victim) == []
        context = contexts_for(rig.store.load_snapshot())[victim]
        assert not context.return_unreadable


def test_details_that_stay_unavailable_are_asked_at_the_recheck_pace_not_every_night(
    tmp_path: Path, store_url: str
) -> None:
    """Get Return Details answers 404 for the victim every time. After the first failure it
    is asked the next night (most failures are one-off); once it failed again, only every
    ``not_visible_recheck_days``, as a record Shopify answered null for: a 404 that is for good
    costs one call a month, not one a night. The entry stays open all along (its writes wait)."""
    world, victim = _world()
    wrapped: list[DetailsRefused] = []
    with _rig(tmp_path, store_url, world, (victim, 404), wrapped) as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        details = wrapped[0]
        assert details.asked == 1  # a 404 is not retried
        asked = []
        for days in (4, 1, 1, 27, 1):  # nights 2..6: the last on day 34, 30 days after night 2
            details.asked = 0
            _night(rig, days)
            asked.append(details.asked)
        assert asked == [1, 0, 0, 0, 1]
        reasons = _open_entries(rig.store, victim)
        assert reasons and all(r.startswith(RETURN_DETAILS_UNREAD) for r in reasons)
        assert "404" in reasons[-1]
        assert _link(rig.store, victim) == []


def test_a_link_read_before_is_kept_when_the_look_back_rereads_the_same_return_and_fails(
    tmp_path: Path, store_url: str
) -> None:
    """Night 1 reads the victim's details and links Loop's refund. Night 2's look-back lists the
    same return again (unchanged: same ``updated_at``) and its details fail this time. Before,
    the mirror's link was written over with none (and the refund Loop made linked nothing: a
    false MISSING_REFUND); the mirror's link of that same version now stands, and nothing is
    unknown, so no entry holds its writes."""
    world, victim = _world()
    wrapped: list[DetailsRefused] = []
    with _rig(tmp_path, store_url, world, (victim, 503), wrapped) as rig:
        details = wrapped[0]
        details.status = None
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        linked = _link(rig.store, victim)
        assert linked and all(linked)

        details.status, details.asked = 503, 0
        # The victim was updated over four days ago: a look-back that long lists it again.
        updated = next(r.updated_at for r in world.loop_returns if r.id == victim)
        hours = int((rig.clock.now() - updated).total_seconds() // 3600) + 48
        reread = sync_settings_for_tests(initial_days=400, lookback_hours=hours)
        rig.clock.advance(timedelta(days=1))
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, reread)
        assert details.asked == 2  # listed again, its details asked (and retried)
        assert _link(rig.store, victim) == linked
        assert _open_entries(rig.store, victim) == []


def _victims(world: World) -> frozenset[str]:
    """Every closed return Loop refunded itself, updated over four days before ``world.now``
    (as ``_world``'s victim): their details are asked by id once the look-back passed them."""
    return frozenset(
        r.id
        for r in world.loop_returns
        if r.state == LoopState.CLOSED
        and r.refunds
        and any(f.provider_refund_id for f in r.refunds)
        and r.updated_at <= world.now - timedelta(days=4)
    )


def test_re_asking_many_unread_details_while_loop_fails_does_not_stop_the_night(
    tmp_path: Path, store_url: str
) -> None:
    """Night 1: the details of a dozen returns fail (503) and are quarantined. Night 2, past
    the look-back, they are all due, and still answer 503. Before, each re-ask retried, drawing
    on the run's retry budget: a dozen of them (fifty with the default budget of 200) spent it,
    and the nightly stopped (and again at every recheck). A re-ask is one attempt now, outside
    the budget: the night completes, each return asked was asked once (three, then the night
    stops asking: Loop is failing), and every entry stays open (the writes still wait). A
    later night, Loop answering, links every one."""
    world, _victim = _world()
    victims = _victims(world)
    assert len(victims) >= 10
    budget = RetryBudget("loop", retries=len(victims) * 2)  # the first asks' retries fit
    wrapped: list[DetailsRefused] = []
    with _rig(tmp_path, store_url, world, (victims, 503), wrapped, budget) as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        details = wrapped[0]
        assert all(_open_entries(rig.store, v) for v in victims)

        budget.reset()
        budget.retries = 5  # fewer retries than there are returns to ask again
        details.asked = 0
        _night(rig, 4)  # raised RetryBudgetExhaustedError before
        assert (
            details.asked == REASK_FAILURES_IN_A_ROW
        )  # one attempt each, until three failed in a row
        assert budget.retries_spent == 0
        unreadable = rig.store.load_snapshot().unreadable
        for victim in victims:
            assert _link(rig.store, victim) == []
            assert ("return", victim) in unreadable  # the hold on its writes stays

        details.status = None
        _night(rig, SETTINGS.not_visible_recheck_days)
        assert rig.store.load_snapshot().unreadable & {("return", v) for v in victims} == set()
        for victim in victims:
            assert _open_entries(rig.store, victim) == []
            assert _link(rig.store, victim) and all(_link(rig.store, victim))


def test_details_that_keep_failing_with_a_server_error_are_asked_every_night(
    tmp_path: Path, store_url: str
) -> None:
    """Get Return Details answers 503 for the victim every time (Loop down for a while): unlike
    a 404 (deleted, or another shop's), it is asked again every night while its entry is open,
    not every ``not_visible_recheck_days``, and the entry says Loop failed to answer."""
    world, victim = _world()
    wrapped: list[DetailsRefused] = []
    with _rig(tmp_path, store_url, world, (victim, 503), wrapped) as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        details = wrapped[0]
        asked = []
        for days in (4, 1, 1, 27, 1):
            details.asked = 0
            _night(rig, days)
            asked.append(details.asked)
        assert asked == [1, 1, 1, 1, 1]  # one attempt each night
        reasons = _open_entries(rig.store, victim)
        assert reasons and all(r.startswith(RETURN_DETAILS_UNREAD) for r in reasons)
        assert "503" in reasons[-1] and "failed to answer" in reasons[-1]
        assert ("return", victim) in rig.store.load_snapshot().unreadable


def test_re_asks_stop_for_the_night_once_loop_fails_three_in_a_row(
    tmp_path: Path, store_url: str
) -> None:
    """A dozen returns due, Loop failing every details call (as it would time out, 30 s
    each): after three failures in a row the night stops asking (the rest wait, still due),
    so a hung endpoint costs the night three calls, not a hundred timeouts before Shopify's
    reads of the orders can start. The next night asks three others first (those asked
    longest ago)."""
    world, _victim = _world()
    victims = _victims(world)
    wrapped: list[DetailsRefused] = []
    with _rig(tmp_path, store_url, world, (victims, 503), wrapped) as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        details = wrapped[0]
        details.asked_ids.clear()
        _night(rig, 4)
        first = list(details.asked_ids)
        assert len(first) == REASK_FAILURES_IN_A_ROW
        details.asked_ids.clear()
        _night(rig, 1)
        assert len(details.asked_ids) == REASK_FAILURES_IN_A_ROW and not set(
            details.asked_ids
        ) & set(first)
        unreadable = rig.store.load_snapshot().unreadable
        assert all(("return", v) in unreadable for v in victims)


def _entries(store: SqlStore, victim: str) -> list[tuple[bool, int]]:
    """The victim's open entries, oldest first: (Loop failed to answer, times seen)."""
    return [
        (e.entry.reason.startswith(RETURN_DETAILS_FAILING), e.times)
        for e in store.quarantine_entries()
        if e.entry.kind == "return" and e.entry.record_id == victim
    ]


def test_details_that_keep_failing_are_one_entry_counting_its_nights_not_a_row_a_night(
    tmp_path: Path, store_url: str
) -> None:
    """Get Return Details answers 503 for the victim for six nights (Loop down for a week).
    Before, each night's failed re-ask added an open entry: finance's quarantine list showed
    one return six times (thirty after a month). The repeats now count into its one open
    entry (times, last seen), which still says Loop failed to answer and holds the writes. A
    404 after them is an entry of its own, and sets the pace: not asked the next night."""
    world, victim = _world()
    wrapped: list[DetailsRefused] = []
    with _rig(tmp_path, store_url, world, (victim, 503), wrapped) as rig:
        run_sync(rig.store, rig.loop, rig.shopify, rig.clock, SETTINGS)
        details = wrapped[0]
        for days in (4, 1, 1, 1, 1):
            _night(rig, days)
        assert _entries(rig.store, victim) == [(True, 6)]
        (entry,) = [e for e in rig.store.quarantine_entries() if e.entry.record_id == victim]
        assert entry.last_seen_at is not None
        assert entry.last_seen_at >= entry.quarantined_at + timedelta(days=8)
        assert ("return", victim) in rig.store.load_snapshot().unreadable

        details.status, details.asked = 404, 0
        _night(rig, 1)
        assert details.asked == 1  # Loop's last answer was a failure: asked the next night
        assert _entries(rig.store, victim) == [(True, 6), (False, 1)]
        details.asked = 0
        _night(rig, 1)
        assert details.asked == 0  # a 404 last: the recheck pace
        assert ("return", victim) in rig.store.load_snapshot().unreadable

"""Remediation survives a kill at every point of its write path, and lost write responses.

The sandbox runs here, in the test process, so it outlives recon; recon runs in a child process
(``crash_child.py``) that talks to the sandbox over HTTP as if it were a real shop. Each crash case
kills the child with ``os._exit(137)`` at one named point, reruns it to completion, then runs a
third time, and checks what a merchant would check in Shopify: one refund per missing refund, with
Loop's amount and the RMA in its note, one stock movement per returned unit, and nothing twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from shop_config import real_shop_config
from sqlalchemy.orm import sessionmaker
from stock import units_to_restock

from recon.remediation.crash import CRASH_ENV, CRASH_POINTS
from recon.remediation.ledger import ActionView, list_actions
from recon.remediation.planner import TERMINAL_STATES, ActionKind, idempotency_key
from recon.remediation.write_inputs import note_names_rma
from recon.sandbox.generator import generate_world
from recon.sandbox.server import SandboxServer
from recon.sandbox.shopify.context import AdjustmentGroup
from recon.sandbox.state import SandboxState
from recon.sandbox.truth import GroundTruth
from recon.sandbox.world import Plan
from recon.service import RUN_LEASE
from recon.store.sql import SqlStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("crash_child.py")
SHOP = "crash-sweep"
KILLED = 137
CHILD_TIMEOUT = 90  # seconds of real time; one night of this world takes a few


class TravelClock:
    """Real time plus an offset the test moves forward: the sandbox's clock.

    The child's clock is the same real time plus the same offset, so recon's ``as_of`` and the
    sandbox's ``now`` agree (the world is generated at the real ``now``).
    """

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def travel(self, delta: timedelta) -> None:
        """Jump forward, e.g. past a crashed run's lease."""
        self.offset += delta


@dataclass
class Shop:
    """A sandbox shop served from this process, and where the child's files go."""

    state: SandboxState
    truth: GroundTruth
    clock: TravelClock
    config: Path
    store_url: str
    tmp: Path

    @property
    def planted_refunds(self) -> list[Any]:
        return [p for p in self.truth.findings if p.category == "MISSING_REFUND"]

    @property
    def planted_restocks(self) -> list[Any]:
        return [p for p in self.truth.findings if p.category == "MISSING_RESTOCK"]


def _config(tmp: Path, server: Any) -> Path:
    return real_shop_config(tmp, server, SHOP)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    """A 200-return world (2 missing refunds, 2 missing restocks) served on localhost ports."""
    clock = TravelClock()
    world, truth = generate_world(seed=4, returns=200, now=clock.now().replace(microsecond=0))
    # A big bucket on Plus: throttling is not what this test is about.
    world.shop.plan = Plan.PLUS
    world.shop.bucket_size = 20_000
    state = SandboxState(world, clock=clock)
    with SandboxServer(state) as server:
        yield Shop(
            state,
            truth,
            clock,
            _config(tmp_path, server),
            f"sqlite:///{tmp_path / 'recon.db'}",
            tmp_path,
        )


@dataclass(frozen=True)
class Night:
    """How one child run ended, and its summary when it finished."""

    returncode: int
    stderr: str
    summary: dict[str, Any] | None


def run_child(
    shop: Shop, *, crash_at: str | None = None, auto_apply: list[str] | None = None
) -> Night:
    """Run one nightly job in a fresh process, as cron would (``auto_apply`` overrides the file)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RECON_")}
    env["RECON_SHOPIFY_TOKEN"] = shop.state.shopify_token
    env["RECON_LOOP_API_KEY"] = shop.state.loop_api_key
    env["CRASH_CHILD_CLOCK_SHIFT"] = str(shop.clock.offset.total_seconds())
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    if auto_apply is not None:
        env["RECON_REMEDIATION__AUTO_APPLY"] = json.dumps(auto_apply)
    summary = shop.tmp / "summary.json"
    summary.unlink(missing_ok=True)
    done = subprocess.run(  # noqa: S603 - our own script, with our own interpreter
        [sys.executable, str(CHILD), str(shop.config), str(summary)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    report = json.loads(summary.read_text()) if summary.exists() else None
    return Night(done.returncode, done.stderr[-4000:], report)


def ledger(shop: Shop) -> list[ActionView]:
    store = SqlStore(shop.store_url)
    try:
        with sessionmaker(store.engine)() as session:
            return list_actions(session, SHOP)
    finally:
        store.engine.dispose()


def recon_refunds(shop: Shop) -> list[Any]:
    """Every refund the emulator created (it stamps the idempotency key on them)."""
    return [r for o in shop.state.world.orders for r in o.refunds if r.idempotency_key]


def movements(shop: Shop) -> list[AdjustmentGroup]:
    return list(shop.state.inventory_adjustments)  # type: ignore[attr-defined]


def _item_of(shop: Shop, rma: str, line: str) -> str:
    order = shop.state.orders_by_id[shop.state.returns_by_id[rma].provider_order_id]
    item = next(li.inventory_item_id for li in order.line_items if li.id == line)
    assert item is not None
    return item


def assert_each_refund_issued_once(shop: Shop) -> None:
    """One refund per missing refund, on its order, RMA in the note, Loop's amount; no others."""
    for planted in shop.planted_refunds:
        assert planted.rma is not None and planted.shopify_order_id is not None
        order = shop.state.orders_by_id[planted.shopify_order_id]
        marker = f"Loop RMA #{planted.rma}"
        mine = [r for r in order.refunds if note_names_rma(r.note, marker)]
        assert len(mine) == 1, (planted.key, [r.note for r in order.refunds])
        paid = sum((t.amount for t in order.transactions if t.refund_id == mine[0].id), Decimal(0))
        assert paid == shop.state.returns_by_id[planted.rma].refund, planted.key
    expected = {
        idempotency_key(SHOP, p.rma or "", ActionKind.REFUND, 1) for p in shop.planted_refunds
    }
    keys = Counter(r.idempotency_key for r in recon_refunds(shop))
    assert keys == Counter(expected), "recon created a refund nobody intended, or one twice"


def assert_each_unit_restocked_once(shop: Shop) -> None:
    """One ``inventoryAdjustQuantities`` movement per missing-restock unit; never both it and a
    refund RETURN restock for one unit; no movement for anything else."""
    adjusts = [g for g in movements(shop) if g.source == "inventoryAdjustQuantities"]
    assert len({g.idempotency_key for g in adjusts}) == len(adjusts), "one key applied twice"
    refund_keys = {
        idempotency_key(SHOP, p.rma or "", ActionKind.REFUND, 1): p.rma
        for p in shop.planted_refunds
    }
    by_refund = Counter(
        (refund_keys[g.idempotency_key or ""], c.inventory_item_id)
        for g in movements(shop)
        if g.source == "refundCreate"
        for c in g.changes
    )
    expected_total = 0
    for planted in shop.planted_restocks:
        assert planted.rma is not None
        line = planted.key.split("line=")[1]
        item, units = (
            _item_of(shop, planted.rma, line),
            units_to_restock(shop.state, planted.rma, line),
        )
        uri = f"gid://recon/LoopReturn/{planted.rma}"
        changes = [
            c
            for g in adjusts
            if g.reference_document_uri == uri
            for c in g.changes
            if c.inventory_item_id == item
        ]
        assert sum(c.delta for c in changes) == units, planted.key
        assert all(c.delta > 0 for c in changes), planted.key
        assert (planted.rma, item) not in by_refund, f"{planted.key} restocked twice"
        expected_total += units
    moved = sum(c.delta for g in adjusts for c in g.changes)
    assert moved == expected_total, "a stock movement nobody intended"


def assert_ledger_settled(shop: Shop) -> list[ActionView]:
    """Every intent is terminal, and every refund/restock intent is done."""
    actions = ledger(shop)
    assert actions, "the run recorded no intent"
    unsettled = [
        (a.id, a.kind, a.state, a.reason) for a in actions if a.state not in TERMINAL_STATES
    ]
    assert not unsettled, unsettled
    writes = [a for a in actions if a.kind in ("refund", "restock")]
    assert {(a.kind, a.rma) for a in writes} == {
        *(("refund", p.rma) for p in shop.planted_refunds),
        *(("restock", p.rma) for p in shop.planted_restocks),
    }
    assert all(a.state == "done" for a in actions), [(a.kind, a.state, a.reason) for a in actions]
    return actions


def assert_third_night_is_quiet(shop: Shop, settled: list[ActionView]) -> None:
    """A further run plans nothing new, writes nothing, and finds nothing left to fix."""
    refunds, moved = len(recon_refunds(shop)), len(movements(shop))
    third = run_child(shop)
    assert third.returncode == 0, third.stderr
    assert third.summary is not None
    left = [k for k in third.summary["open"] if k.startswith(("MISSING_REFUND", "MISSING_RESTOCK"))]
    assert not left, left
    assert ledger(shop) == settled
    assert (len(recon_refunds(shop)), len(movements(shop))) == (refunds, moved)


def test_the_world_plants_something_to_fix(shop: Shop) -> None:
    """The sweep below is only meaningful if there are refunds and restocks to apply."""
    assert len(shop.planted_refunds) >= 1
    assert len(shop.planted_restocks) >= 1


def crash_then_rerun(shop: Shop, point: str, first_policy: list[str] | None = None) -> list[Any]:
    """Kill the first night at ``point``; rerun after its lease ran out. Returns the ledger as the
    crash left it."""
    first = run_child(shop, crash_at=point, auto_apply=first_policy)
    assert first.returncode == KILLED, first.stderr
    crashed = ledger(shop)
    # The crashed run still holds the run lock; the next run comes after its lease ran out.
    shop.clock.travel(RUN_LEASE + timedelta(minutes=5))
    second = run_child(shop)
    assert second.returncode == 0, second.stderr
    return crashed


def assert_killed_at(crashed: list[ActionView], point: str, kind: str) -> None:
    """The kill really happened on the write path of the first ``kind`` intent."""
    states = Counter(a.state for a in crashed)
    if point == "after_intent_commit":
        assert set(states) <= {"planned", "proposed"}, states
        return
    sending = [a for a in crashed if a.state == "sending"]
    assert [a.kind for a in sending] == [kind], [(a.kind, a.state) for a in crashed]
    assert not states["done"], "nothing can be done before the first write finished"


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_killed_at_a_write_step_then_rerun_moves_money_and_stock_once(
    shop: Shop, point: str
) -> None:
    """Refunds are applied first, so the kill lands on the first refund's write."""
    crashed = crash_then_rerun(shop, point)
    assert_killed_at(crashed, point, "refund")
    assert_each_refund_issued_once(shop)
    assert_each_unit_restocked_once(shop)
    settled = assert_ledger_settled(shop)
    assert_third_night_is_quiet(shop, settled)


@pytest.mark.parametrize("point", CRASH_POINTS[1:])
def test_killed_at_a_restock_write_step_then_rerun_moves_stock_once(shop: Shop, point: str) -> None:
    """The first night auto-applies restocks only (refunds wait for approval), so the kill lands
    on a restock's write; the rerun, under the full policy, finishes everything."""
    crashed = crash_then_rerun(shop, point, first_policy=["MISSING_RESTOCK"])
    assert_killed_at(crashed, point, "restock")
    assert_each_refund_issued_once(shop)
    assert_each_unit_restocked_once(shop)
    settled = assert_ledger_settled(shop)
    assert_third_night_is_quiet(shop, settled)


def test_dropped_write_responses_are_resolved_by_the_next_run(shop: Shop) -> None:
    shop.state.faults.drop_write_rate = 1.0  # every write applied, every response lost
    first = run_child(shop)
    assert first.returncode == 0, first.stderr
    writes = [a for a in ledger(shop) if a.kind in ("refund", "restock")]
    assert writes and all(a.state == "unknown" for a in writes), [(a.kind, a.state) for a in writes]
    assert recon_refunds(shop), "the writes should have been applied despite the lost answers"
    shop.state.faults.drop_write_rate = 0.0
    second = run_child(shop)
    assert second.returncode == 0, second.stderr
    assert_each_refund_issued_once(shop)
    assert_each_unit_restocked_once(shop)
    settled = assert_ledger_settled(shop)
    assert_third_night_is_quiet(shop, settled)

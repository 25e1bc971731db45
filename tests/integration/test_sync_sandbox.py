"""Sync against the sandbox over real HTTP, on a virtual clock shared by emulators and clients.

(a) A generated world with four days of future activity: one backfill, then six simulated nights;
the mirror must equal a fresh backfill of the whole range made at the end. (b) A backfill killed
after its second window resumes from the checkpoint and ends with the rows of an uninterrupted
run. (c) Corrupt Loop payloads on the wire are quarantined and listed; the run completes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.backfill import CRASH_ENV, backfill, loop_window, split_windows  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sandbox.world import World  # noqa: E402
from recon.sandbox.world_io import dump_world  # noqa: E402
from recon.store.sql import SqlStore  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    Corruption,
    CorruptReturns,
    LoggedRequest,
    mirror_records,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)

CHILD = Path(__file__).with_name("sandbox_backfill_child.py")
NIGHTS = 6  # the world's activity runs four days past its now; two quiet nights follow


def _world(seed: int, returns: int, future_days: int = 0) -> World:
    world, _truth = generate_world(seed=seed, returns=returns, future_days=future_days)
    return normalise_generated_world(world)


def _range_start(world: World) -> datetime:
    """A day before the oldest record of any kind, so a backfill from here misses nothing."""
    moments = [o.created_at for o in world.orders] + [r.created_at for r in world.loop_returns]
    moments += [p.issued_at for p in world.payouts]
    moments += [b.transaction_date for b in world.balance_transactions]
    return min(moments) - timedelta(days=1)


@pytest.mark.slow
def test_nightly_syncs_end_with_the_same_mirror_as_one_fresh_backfill(tmp_path: Path) -> None:
    world = _world(seed=11, returns=40, future_days=4)
    start, settings = _range_start(world), sync_settings_for_tests()
    with sandbox_rig(world, tmp_path) as rig:
        backfill(
            rig.store,
            rig.loop,
            rig.shopify,
            rig.clock,
            settings,
            start=start,
            end=world.now,
            progress=False,
        )
        after_backfill = mirror_records(rig.store)
        for _night in range(NIGHTS):
            rig.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
            run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
        nightly = mirror_records(rig.store)
        end = rig.clock.now()
        visible_returns = {r.id for r in rig.state.visible_returns()}
        visible_payouts = {p.id for p in rig.state.visible_payouts()}
        fresh = rig.new_store("fresh.db")
        backfill(
            fresh,
            rig.loop,
            rig.shopify,
            rig.clock,
            settings,
            start=start,
            end=end,
            progress=False,
        )
        rebuilt = mirror_records(fresh)
        fresh.close()
    assert nightly != after_backfill, "the future days changed nothing: the test proves nothing"
    assert set(nightly["loop_returns"]) == visible_returns  # nothing missed
    assert set(nightly["payouts"]) == visible_payouts
    for table, records in rebuilt.items():
        assert set(nightly[table]) == set(records), table  # same ids, nothing extra
        changed = [
            i
            for i, record in records.items()
            if _but_lines(nightly[table][i]) != _but_lines(record)
        ]
        assert changed == [], f"{table}: stale records in the nightly mirror"
    lines_differ = [i for i, o in rebuilt["orders"].items() if nightly["orders"][i] != o]
    # An order found by the lean OrdersPage sweep must still be mirrored with its line items.
    assert lines_differ == [], "order line items depend on the fetch path"


def _but_lines(record: dict[str, Any]) -> dict[str, Any]:
    """An order record without its line items (they are compared on their own)."""
    return {k: v for k, v in record.items() if k != "lines"}


def _child_backfill(
    world_file: Path, db: Path, start: datetime, end: datetime, crash_after: int | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_after is not None:
        env[CRASH_ENV] = str(crash_after)
    args = [
        sys.executable,
        str(CHILD),
        str(world_file),
        f"sqlite:///{db}",
        start.isoformat(),
        end.isoformat(),
    ]
    # S603: the arguments are this test's own interpreter, script and temporary paths.
    return subprocess.run(  # noqa: S603
        args, env=env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.mark.slow
def test_a_killed_backfill_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    world = _world(seed=5, returns=30)
    world_file = tmp_path / "world.json"
    dump_world(world, world_file)
    start, end = _range_start(world), world.now
    db = tmp_path / "resumed.db"
    crashed = _child_backfill(world_file, db, start, end, crash_after=2)
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    store = SqlStore(f"sqlite:///{db}")
    committed = sorted(store.completed_windows(start, end))
    store.close()
    assert len(committed) == 2  # the kill came right after the second checkpoint

    with sandbox_rig(world, tmp_path, store_url=f"sqlite:///{db}") as rig:
        backfill(
            rig.store,
            rig.loop,
            rig.shopify,
            rig.clock,
            sync_settings_for_tests(),
            start=start,
            end=end,
            progress=False,
        )
        resumed = mirror_records(rig.store)
        loop_froms = _loop_froms(rig.log.requests)
        total_windows = len(rig.store.completed_windows(start, end))
        before_whole = len(rig.log.requests)
        whole = rig.new_store("whole.db")
        backfill(
            whole,
            rig.loop,
            rig.shopify,
            rig.clock,
            sync_settings_for_tests(),
            start=start,
            end=end,
            progress=False,
        )
        uninterrupted = mirror_records(whole)
        whole.close()
        whole_froms = _loop_froms(rig.log.requests[before_whole:])
    # Loop is asked a little more than each window (``loop_window``): its own ``from``.
    windows = split_windows(start, end, sync_settings_for_tests().backfill_window_days)
    loop_starts = (loop_window(w, windows)[0] for w in committed)
    done_froms = {lo.strftime("%Y-%m-%dT%H:%M:%SZ") for lo in loop_starts}
    assert done_froms <= whole_froms  # an uninterrupted run does fetch those windows
    assert loop_froms and not (loop_froms & done_froms), "a committed window was fetched again"
    assert total_windows > 2
    assert resumed == uninterrupted


def _loop_froms(requests: list[LoggedRequest]) -> set[str | None]:
    return {r.params.get("from") for r in requests if r.api == "loop"}


# --- (c) corrupt payloads on the wire ---------------------------------------------------------

CORRUPTIONS: dict[str, tuple[Corruption, str]] = {
    # name: (what is done to the rendered return, the field the quarantine must name)
    "null total": (lambda r: r.update(total=None), "total"),
    "thousands separator": (lambda r: r.update(refund="1,000.00"), "refund"),
    "unknown currency": (lambda r: r.update(currency="XYZ"), "currency"),
    "100,000-char note": (
        lambda r: r["line_items"][0].update(return_comment="n" * 100_000),
        "line_items[0].return_comment",
    ),
    "control characters": (lambda r: r.update(order_name="#10\x00\x07\x1b01"), "order_name"),
}


CLEANED_FIELDS = {"line_items[0].return_comment", "order_name"}


def test_corrupt_loop_payloads_are_quarantined_and_the_run_completes(tmp_path: Path) -> None:
    world = _world(seed=23, returns=20)
    victims = sorted(r.id for r in world.loop_returns)[: len(CORRUPTIONS)]
    damage = {
        rid: corrupt for rid, (corrupt, _f) in zip(victims, CORRUPTIONS.values(), strict=True)
    }
    expected_field = {rid: f for rid, (_c, f) in zip(victims, CORRUPTIONS.values(), strict=True)}
    start = _range_start(world)

    def wrapper(app: Any) -> Any:
        return CorruptReturns(app, damage)

    with sandbox_rig(world, tmp_path, loop_wrapper=wrapper) as rig:
        stats = backfill(
            rig.store,
            rig.loop,
            rig.shopify,
            rig.clock,
            sync_settings_for_tests(),
            start=start,
            end=world.now,
            progress=False,
        )
        quarantined = rig.store.list_quarantined()
        mirrored = set(mirror_records(rig.store)["loop_returns"])
    listed = {q.record_id: q.field for q in quarantined if q.source == "loop"}
    assert listed == expected_field
    assert stats.quarantined == len(CORRUPTIONS)
    # Untrusted free text costs no record (it is cleaned, the original kept for review); bad
    # money and currency do: those returns are held back.
    cleaned = {rid for rid, field in expected_field.items() if field in CLEANED_FIELDS}
    assert len(cleaned) == 2
    healthy = {r.id for r in world.loop_returns if r.created_at <= world.now} - set(victims)
    assert mirrored == healthy | cleaned
    reasons = {q.record_id: q.reason for q in quarantined if q.source == "loop"}
    assert all(reasons[rid].startswith("kept after cleaning") for rid in cleaned)
    assert not any(reasons[rid].startswith("kept") for rid in set(victims) - cleaned)
    note = next(q for q in quarantined if q.field == "line_items[0].return_comment")
    assert len(note.raw["line_items"][0]["return_comment"]) == 100_000  # kept for review

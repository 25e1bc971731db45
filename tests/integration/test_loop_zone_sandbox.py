"""Nightly syncs stay complete whichever zone Loop reads ``from``/``to`` in (§6 trap 6, unknown).

recon sends Loop windows in UTC with a ``Z``. A server that ignored the zone and read the digits as
wall time in the shop's zone would shift every window by the shop's offset: ahead of UTC (+10) a
window ends hours before the run, so the newest changes arrive a night late; behind UTC (-10) it
starts hours late, which the nightly look-back covers. The sandbox serves both readings
(``Faults.loop_zone_hours``), here with timestamp-only cursors and small pages (trap 4) as well.
Dataset: a generated world (seed 11, 60 returns) with four days of future activity; six nights.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:  # tests/ is not a package; the helpers are imported by path
    sys.path.insert(0, _ROOT)

from recon.backfill import backfill  # noqa: E402
from recon.sandbox.faults import Faults  # noqa: E402
from recon.sandbox.generator import generate_world  # noqa: E402
from recon.sync import run_sync  # noqa: E402
from tests.integration.sandbox_helpers import (  # noqa: E402
    mirror_records,
    normalise_generated_world,
    sandbox_rig,
    sync_settings_for_tests,
)

NIGHTS = 6


@pytest.mark.slow
@pytest.mark.parametrize("zone_hours", [10.0, -10.0])
def test_returns_arrive_at_most_a_night_late_when_loop_reads_windows_in_the_shop_zone(
    tmp_path: Path, zone_hours: float
) -> None:
    world = normalise_generated_world(generate_world(seed=11, returns=60, future_days=4)[0])
    moments = [o.created_at for o in world.orders] + [r.created_at for r in world.loop_returns]
    start, settings = min(moments) - timedelta(days=1), sync_settings_for_tests()
    faults = Faults(loop_zone_hours=zone_hours, loop_cursor_without_id=True)
    late: list[str] = []
    with sandbox_rig(world, tmp_path, faults=faults, loop_page_size=5) as rig:
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
        for _night in range(NIGHTS):
            rig.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
            run_sync(rig.store, rig.loop, rig.shopify, rig.clock, settings)
            now, mirrored = rig.clock.now(), mirror_records(rig.store)["loop_returns"]
            for ret in rig.state.visible_returns():
                record = mirrored.get(ret.id)
                if (
                    record is None
                    or record["updated_at"][:19] != f"{ret.updated_at:%Y-%m-%dT%H:%M:%S}"
                ):
                    # Only a change inside the hours the shifted window cut off may be missing.
                    assert zone_hours > 0 and ret.updated_at > now - timedelta(hours=zone_hours)
                    late.append(ret.id)
            final = {
                r.id
                for r in rig.state.visible_returns()
                if mirrored.get(r.id, {}).get("updated_at", "")[:19]
                == f"{r.updated_at:%Y-%m-%dT%H:%M:%S}"
            }
        assert final == {r.id for r in rig.state.visible_returns()}  # nothing lost in the end
    if zone_hours > 0:
        assert late, "no change fell in the cut-off hours: the test proves nothing"

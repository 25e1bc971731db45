"""Backfill a world file against its own sandbox in a child process (the kill -9 test).

argv: world file, store URL, range start, range end (ISO 8601). The crash hook is the backfill's
own ``RECON_TEST_CRASH_AFTER_WINDOWS``; the process then ends with status 137, like a SIGKILL.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recon.backfill import backfill
from recon.sandbox.world_io import load_world
from tests.integration.sandbox_helpers import sandbox_rig, sync_settings_for_tests


def main(world_file: str, store_url: str, start: str, end: str) -> None:
    world = load_world(Path(world_file))
    with (
        tempfile.TemporaryDirectory() as tmp,
        sandbox_rig(world, Path(tmp), store_url=store_url) as rig,
    ):
        backfill(
            rig.store,
            rig.loop,
            rig.shopify,
            rig.clock,
            sync_settings_for_tests(),
            start=datetime.fromisoformat(start),
            end=datetime.fromisoformat(end),
            progress=False,
        )


if __name__ == "__main__":
    main(*sys.argv[1:5])

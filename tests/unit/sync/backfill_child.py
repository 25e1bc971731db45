"""Run one backfill in a child process (for the crash/resume test): argv = db url, log dir."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from recon.backfill import backfill
from recon.clock import VirtualClock
from recon.config import SyncSettings
from recon.store.sql import SqlStore
from tests.fakes import EPOCH, sample_dataset

START, END = EPOCH - timedelta(days=1), EPOCH + timedelta(days=23)
SETTINGS = SyncSettings(backfill_window_days=3)  # 8 windows


def main(url: str, log_dir: Path) -> None:
    clock = VirtualClock(EPOCH + timedelta(days=40))
    loop, shopify = sample_dataset(returns=40).fakes(log_dir)
    store = SqlStore(url, clock=clock)
    backfill(store, loop, shopify, clock, SETTINGS, start=START, end=END, progress=False)
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))

"""Test-only child process: one nightly run of recon against a shop served by the test process.

The crash sweep (``test_crash_sweep.py``) runs recon here so that ``os._exit`` at a crash point
kills only this process while the sandbox, in the test process, keeps what was written.

Usage: ``python crash_child.py CONFIG.toml SUMMARY.json``. The settings file points at the sandbox
as if it were a real shop (``[sandbox] enabled = false``); the tokens come through the environment
variables it names. ``RECON_TEST_CRASH_AT`` names the crash point, if any (see
``recon.remediation.executor``). ``CRASH_CHILD_CLOCK_SHIFT`` (seconds, default 0) moves this
process's clock forward together with the sandbox's, e.g. to a run after a crashed run's lease
expired. Exit codes: 0 done (summary written), 1 a ``ReconError``, 137 killed at the crash point.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

SHIFT_ENV = "CRASH_CHILD_CLOCK_SHIFT"


def main(config: Path, summary: Path) -> int:
    """Run one night and write what it saw (open findings, the ledger) to ``summary``."""
    from recon.bootstrap import build_app
    from recon.clock import SystemClock
    from recon.config import load_settings
    from recon.errors import ReconError
    from recon.service import run_nightly

    shift = timedelta(seconds=float(os.environ.get(SHIFT_ENV, "0")))
    try:
        settings = load_settings(config)
        with build_app(settings, clock=SystemClock(shift=shift)) as app:
            outcome = run_nightly(app)
    except ReconError as exc:
        print(f"recon failed: {exc}", file=sys.stderr)
        return 1
    report = {
        "as_of": outcome.as_of.isoformat(),
        "open": sorted(f.key for f in outcome.open_findings),
        "actions": outcome.actions,
        "notes": outcome.notes,
    }
    summary.write_text(json.dumps(report, default=str, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))

"""One night of recon for the chaos campaign, in a process of its own (a crash kills only it).

``python bench/chaos_child.py CONFIG.toml SUMMARY.json``: the settings point at the campaign's
sandbox as at a real shop; tokens come through the environment variables they name;
``RECON_TEST_CRASH_AT`` names a crash point (``recon.remediation.crash``);
``CHAOS_CLOCK_SHIFT`` (seconds) moves this process's clock with the sandbox's.
Exit codes: 0 done (summary written), 2 a ``ReconError`` (printed as ``recon failed: <class>:
<message>``; the campaign accepts it only when the night's faults explain the class), 137 killed
at the crash point; anything else (a traceback) is a bug the campaign reports.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHIFT_ENV = "CHAOS_CLOCK_SHIFT"
RECON_ERROR = 2


def main(config: Path, summary: Path) -> int:
    """Run one night; write its findings file, open keys and notes to ``summary``."""
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
        # The campaign reads the class to tell a failure the faults explain from a bug.
        print(f"recon failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return RECON_ERROR
    report = {
        "findings": str(outcome.files["findings"]),
        "open": sorted(f.key for f in outcome.open_findings),
        "notes": outcome.notes,
    }
    summary.write_text(json.dumps(report, default=str, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))

"""Run every benchmark at the size its issue names, one after another, printing their figures."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ["bench_world.py", "--returns", "100000"],
    ["bench_engine.py", "--returns", "1000000"],
    ["bench_engine_small.py"],
    ["bench_report.py", "--rows", "100000"],
    ["bench_sync.py", "--orders", "50000", "--returns", "10000"],
]


def main() -> int:
    """Run each benchmark in its own process (so peak-memory figures are its own)."""
    failed = 0
    for script, *args in RUNS:
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / script), *args])  # noqa: S603
        print(f"=== {script}: exit {code}, {time.perf_counter() - started:.0f} s", flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

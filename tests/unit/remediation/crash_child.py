"""A remediation run in its own process, for the real ``os._exit`` crash test and key stability.

Usage: ``crash_child.py run <sqlite file> <shop json> <holder> <minutes later>``, or
``crash_child.py key``.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from remediation_world import T0, FakeGateway, sessions_for
from run_helpers import run

from recon.clock import VirtualClock
from recon.remediation.crash import crashpoint
from recon.remediation.planner import ActionKind, idempotency_key


def main(argv: list[str]) -> None:
    if argv[0] == "key":
        print(idempotency_key("sandbox", "12345701", ActionKind.REFUND, 1))
        return
    _, db, shop_file, holder, minutes = argv
    clock = VirtualClock(T0)
    clock.advance(timedelta(minutes=int(minutes)))
    sessions = sessions_for(f"sqlite:///{db}")
    gateway = FakeGateway(path=Path(shop_file))
    run(sessions, gateway, clock, holder=holder, run_id=holder, crash=crashpoint)


if __name__ == "__main__":
    main(sys.argv[1:])

"""A signal stops an idle ``schedule`` wherever it lands in the loop that waits for it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# ``schedule``'s idle loop (``recon.cli.schedule``), with SIGTERM sent to itself at the
# ``point``-th call made while the main thread is inside ``Interrupt.wait``: the signal lands
# there, as one sent by systemd or cron lands wherever the main thread happens to be.
CHILD = """
import os, signal, sys
from recon.interrupt import Interrupt, on_signals

point, calls, inside = int(sys.argv[1]), [0], [0]

def profile(frame, event, arg):
    own = frame.f_code.co_name == "wait" and frame.f_globals["__name__"] == "recon.interrupt"
    if own and event in ("call", "return"):
        inside[0] += 1 if event == "call" else -1
        return
    if inside[0] and event in ("call", "c_call"):
        calls[0] += 1
        if calls[0] == point:
            sys.setprofile(None)
            os.kill(os.getpid(), signal.SIGTERM)

with on_signals(Interrupt()) as interrupt:
    sys.setprofile(profile)
    while not interrupt.wait(0.05):
        pass
    sys.setprofile(None)
print("stopped", interrupt.name)
"""


@pytest.mark.slow
@pytest.mark.parametrize("point", range(1, 16))
def test_sigterm_anywhere_in_the_idle_wait_stops_the_schedule(point: int) -> None:
    """SIGTERM landing while the waiting main thread held the lock inside ``threading.Event``
    ran the handler there, which took that lock again: the process hung for good, and a
    second SIGTERM (meant to exit at once) hung the same way; only SIGKILL ended it (a
    `schedule` stopped by systemd sat until its kill timeout). Wherever the signal lands, the
    schedule stops at once."""
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and an inline script
        [sys.executable, "-c", CHILD, str(point)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = child.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail(f"SIGTERM at call {point} inside the wait: the process hung")
    assert child.returncode == 0, err
    assert out.strip() == f"stopped {signal.Signals.SIGTERM.name}", out + err

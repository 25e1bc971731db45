"""A lease whose holder process died on this host is taken over at once; others wait for expiry."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from remediation_world import SHOP
from run_helpers import TTL

from recon.errors import LockError
from recon.lock import RunLock, holder_process_is_gone


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_crashed_holder_on_this_host_is_taken_over(sessions, clock):
    lock = RunLock(sessions, clock)
    crashed = lock.acquire(SHOP, f"{socket.gethostname()}:{dead_pid()}", TTL)
    recovery = lock.acquire(SHOP, f"{socket.gethostname()}:{1}", TTL)
    assert recovery.token == crashed.token + 1


def test_a_live_holder_on_this_host_keeps_the_lease(sessions, clock):
    lock = RunLock(sessions, clock)
    lock.acquire(SHOP, f"{socket.gethostname()}:{1}", TTL)  # pid 1 always exists
    with pytest.raises(LockError, match="holds the run lock"):
        lock.acquire(SHOP, "other:2", TTL)


def test_a_holder_on_another_host_is_never_presumed_dead(sessions, clock):
    lock = RunLock(sessions, clock)
    lock.acquire(SHOP, f"elsewhere.invalid:{dead_pid()}", TTL)
    with pytest.raises(LockError):
        lock.acquire(SHOP, f"{socket.gethostname()}:1", TTL)


@pytest.mark.parametrize(
    ("holder", "gone"),
    [("no-colon", False), (f"{socket.gethostname()}:abc", False), ("other-host:1", False)],
)
def test_unparseable_or_foreign_holders_are_alive(holder: str, gone: bool) -> None:
    assert holder_process_is_gone(holder) is gone

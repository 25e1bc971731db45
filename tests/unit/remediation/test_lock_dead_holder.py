"""A lease whose holder process died on this host is taken over at once; others wait for expiry."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from remediation_world import SHOP
from run_helpers import TTL

from recon.errors import LockError
from recon.lock import RunLock, _pid_namespace, holder_process_is_gone


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_crashed_holder_on_this_host_is_taken_over(sessions, clock):
    lock = RunLock(sessions, clock)
    crashed = lock.acquire(SHOP, f"{socket.gethostname()}:{_pid_namespace()}:{dead_pid()}", TTL)
    recovery = lock.acquire(SHOP, f"{socket.gethostname()}:{_pid_namespace()}:1", TTL)
    assert recovery.token == crashed.token + 1


def test_a_live_holder_on_this_host_keeps_the_lease(sessions, clock):
    lock = RunLock(sessions, clock)
    lock.acquire(SHOP, f"{socket.gethostname()}:{_pid_namespace()}:1", TTL)  # pid 1 always exists
    with pytest.raises(LockError, match="holds the run lock"):
        lock.acquire(SHOP, "other:2", TTL)


def test_a_holder_on_another_host_is_never_presumed_dead(sessions, clock):
    lock = RunLock(sessions, clock)
    lock.acquire(SHOP, f"elsewhere.invalid:{_pid_namespace()}:{dead_pid()}", TTL)
    with pytest.raises(LockError):
        lock.acquire(SHOP, f"{socket.gethostname()}:{_pid_namespace()}:1", TTL)


@pytest.mark.parametrize(
    ("holder", "gone"),
    [
        ("no-colon", False),
        (f"{socket.gethostname()}:{_pid_namespace()}:abc", False),
        ("other-host:1:1", False),
        (f"{socket.gethostname()}:other-namespace:1", False),
    ],
)
def test_unparseable_or_foreign_holders_are_alive(holder: str, gone: bool) -> None:
    assert holder_process_is_gone(holder) is gone


def test_a_dead_pid_in_another_pid_namespace_is_not_presumed_dead() -> None:
    """Containers can share a host name; only the holder's own namespace can vouch for its pid."""
    assert not holder_process_is_gone(f"{socket.gethostname()}:4026531836999:{dead_pid()}")
    assert holder_process_is_gone(f"{socket.gethostname()}:{_pid_namespace()}:{dead_pid()}")

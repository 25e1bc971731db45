"""A lease whose holder process died on this host is taken over at once; others wait for expiry."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from remediation_world import SHOP
from run_helpers import TTL

from recon.errors import LockError
from recon.lock import (
    RunLock,
    _boot_id,
    _pid_namespace,
    _start_time,
    holder_name,
    holder_process_is_gone,
)

HOST, BOOT, NS = socket.gethostname(), _boot_id(), _pid_namespace()


def holder(pid: int, start: str, *, host: str = HOST, boot: str = BOOT, ns: str = NS) -> str:
    return f"{host}:{boot}:{ns}:{pid}:{start}"


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def me() -> str:
    return holder_name().rsplit(":", 1)[1]  # this process's start time


def test_this_process_names_host_boot_namespace_pid_and_start() -> None:
    name = holder_name()
    assert name.split(":")[:4] == [HOST, BOOT, NS, str(os.getpid())]
    assert not holder_process_is_gone(name)  # alive


def test_a_crashed_holder_on_this_host_is_taken_over(sessions, clock):
    lock = RunLock(sessions, clock)
    crashed = lock.acquire(SHOP, holder(dead_pid(), "12345"), TTL)
    recovery = lock.acquire(SHOP, holder_name(), TTL)
    assert recovery.token == crashed.token + 1


def test_a_live_holder_on_this_host_keeps_the_lease(sessions, clock):
    lock = RunLock(sessions, clock)
    lock.acquire(SHOP, holder_name(), TTL)
    with pytest.raises(LockError, match="holds the run lock"):
        lock.acquire(SHOP, "other:2", TTL)


def test_a_reused_pid_does_not_keep_a_dead_holders_lease() -> None:
    """The holder's pid now runs another process (a different start time): it is gone."""
    assert holder_process_is_gone(holder(os.getpid(), str(int(me()) + 1)))
    assert not holder_process_is_gone(holder(os.getpid(), me()))


@pytest.mark.parametrize(
    "name",
    [
        "no-colon",
        "legacy-host:4026531836:1",  # an old three-part name: only its expiry frees it
        holder(0, "1").replace(":0:", ":abc:"),
        holder(0, "1", host="other-host"),
        holder(0, "1", ns="4026531836999"),  # containers sharing the host name
        holder(0, "1", boot="00000000-0000-0000-0000-000000000000"),  # a cloned VM, same name
        holder(0, "1", boot="-"),
    ],
)
def test_foreign_or_unknown_holders_are_never_presumed_dead(name: str) -> None:
    dead = dead_pid()
    assert not holder_process_is_gone(name.replace(":0:", f":{dead}:"))


def test_a_dead_pid_of_this_host_boot_and_namespace_is_gone() -> None:
    assert holder_process_is_gone(holder(dead_pid(), "1"))


def test_a_killed_holder_not_yet_reaped_is_gone() -> None:
    """kill -9 leaves a zombie until its parent waits for it: it runs nothing, so it holds nothing
    (a parent that never reaps, e.g. a container's PID 1, kept the lease for hours)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = _start_time(child.pid)
        child.kill()
        deadline = time.monotonic() + 10
        while not Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].startswith(" Z"):
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.01)
        assert holder_process_is_gone(holder(child.pid, start))
    finally:
        child.kill()
        child.wait()

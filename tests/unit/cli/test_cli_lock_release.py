"""Commands that hold the shop's run lock for a moment (``findings ack``, ``outbox retry``) when
the store fails as they give it up (the database connection dropped at the end).

The command's own outcome wins, as a run's does (``recon.service``): a refusal keeps its exit
code and message, a failed send its exit 5; a command that did its work ends with recon's
one-line error (exit 1) saying what was done and that the lease expires by itself. Run in this
process (``recon.cli.main``), the release failing as ``RunLock.release`` fails on a dropped
connection (``tests/unit/remediation/test_lock_store_errors.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from recon import cli
from recon.bootstrap import open_store
from recon.config import load_settings
from recon.errors import StoreError
from recon.lock import Lease, RunLock
from tests.ports import HOST, free_port
from tests.unit.cli.test_cli import save_unmatched_refund
from tests.unit.cli.test_cli_outbox_retry_lock import Relay, parked_and_waiting, shop_config

Main = Callable[..., tuple[int, str, str]]
DROPPED = "the store at sqlite:///var/recon.db failed: server closed the connection unexpectedly"


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Main:
    """``run_recon.py args`` in this process, the run lock's release failing: (exit code,
    stdout, stderr)."""

    def dropped(self: RunLock, lease: Lease) -> None:
        raise StoreError(f"cannot release the run lock for shop {lease.shop}: {DROPPED}")

    monkeypatch.setattr(RunLock, "release", dropped)
    for name in [n for n in os.environ if n.startswith("RECON_")]:
        monkeypatch.delenv(name)

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["run_recon.py", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as ended:
            cli.main()
        out, err = capsys.readouterr()
        return int(ended.value.code or 0), out, " ".join(err.split())

    return run


def test_an_ack_refused_keeps_its_refusal_when_the_lock_cannot_be_given_up(
    config: Path, main: Main
) -> None:
    """A mistyped key: the ack is refused (exit 2, naming the key). The connection dropped as
    the command gave the lock up: before, the release's store error replaced the refusal
    (exit 1, the key never named). The refusal wins."""
    save_unmatched_refund(config)
    code, _, err = main("findings", "ack", "UNMATCHED_REFUND|refund=5", "--note", "x", "--config",
                        str(config))  # fmt: skip
    assert code == 2, err
    assert "no finding with key 'UNMATCHED_REFUND|refund=5'" in err, err
    assert "Traceback" not in err


def test_an_ack_done_whose_lock_cannot_be_given_up_says_it_was_recorded(
    config: Path, main: Main
) -> None:
    """The ack was saved, then the connection dropped as the lock was given up: the command
    shows what it acknowledged and ends with recon's error (exit 1) saying it was recorded and
    need not be run again, not a bare store error that reads as if nothing was saved."""
    key = save_unmatched_refund(config)
    code, out, err = main("findings", "ack", key, "--note", "refunded by hand", "--config",
                          str(config))  # fmt: skip
    assert code == 1, err
    assert f"acknowledged: {key}" in out, out
    assert "acknowledged" in err and "need not be run again" in err and "expires" in err, err
    assert "server closed the connection" in err and "Traceback" not in err, err
    store = open_store(load_settings(config))
    (finding,) = store.load_findings()
    store.close()
    assert finding.acknowledged_note == "refunded by hand"


def test_a_retry_whose_relay_is_down_keeps_exit_5_when_the_lock_cannot_be_given_up(
    tmp_path: Path, main: Main
) -> None:
    """``outbox retry`` with the relay still down: its copies wait in the outbox (exit 5,
    saying so). The connection dropped as it gave the lock up: before, exit 1 and a store
    error, the undelivered mail never named. Exit 5 wins."""
    config = shop_config(tmp_path, free_port())  # nothing listens: the relay is down
    parked_and_waiting(tmp_path, config, ["run-1"])
    code, _, err = main("outbox", "retry", "--config", str(config))
    assert code == 5, err
    said = err.partition(" error: ")[2]  # recon's error, after the log's warnings
    assert "wait in" in said and "cannot release" not in said, err
    assert "could not be released" in err  # the failed release is logged


def test_a_retry_done_whose_lock_cannot_be_given_up_says_the_mail_was_sent(
    tmp_path: Path, main: Main
) -> None:
    """The retry sent the parked copies, then the connection dropped as it gave the lock up:
    recon's error (exit 1) says the retry completed and need not be run again (running it
    again sends nothing twice, but the operator should not have to wonder)."""
    port = free_port()
    config = shop_config(tmp_path, port)
    parked_and_waiting(tmp_path, config, ["run-1"])
    relay = Relay()
    controller = Controller(relay, hostname=HOST, port=port)
    controller.start()
    try:
        code, out, err = main("outbox", "retry", "--config", str(config))
    finally:
        controller.stop()
    assert code == 1, err
    assert len(relay.got) == 2 and "2 sent" in out, (relay.got, out)
    assert "outbox retry completed" in err and "need not be run again" in err, err
    assert "server closed the connection" in err, err

"""``run_recon.py findings ack``: an acknowledgement says what was checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.bootstrap import open_store
from recon.config import load_settings
from recon.models import Category, Finding, FindingStatus, Owner, Severity
from tests.unit.cli.test_cli import recon, save_unmatched_refund


@pytest.mark.parametrize("note", ["", "   "])
def test_an_acknowledgement_without_a_reason_is_refused(config: Path, note: str) -> None:
    """Acknowledging an UNMATCHED_REFUND releases the refunds it held: the audit trail must say
    why. `--note ""` recorded an acknowledgement with no reason, and a later ack with one was
    left unrecorded (the first stands). It exits 2 like `quarantine resolve`, nothing changed."""
    key = save_unmatched_refund(config)
    blank = recon("findings", "ack", key, "--note", note, "--config", str(config))
    assert blank.returncode == 2, blank.stderr
    assert "--note" in blank.stderr and "Traceback" not in blank.stderr
    store = open_store(load_settings(config))
    (finding,) = store.load_findings()
    store.close()
    assert finding.status is FindingStatus.NEW and finding.acknowledged_by is None


def test_an_ack_during_a_sandbox_run_waits_for_it_and_takes_no_lock_from_it(
    tmp_path: Path,
) -> None:
    """The sandbox's runs take the shop's run lock by the world's clock (``build_app``: a
    virtual clock from the world's ``now``, 2026-11-01 06:00 for a generated world), and
    ``findings ack`` took it by the wall clock: weeks later, the run's live lease read as
    lapsed, so the ack took the lock over in the middle of the run, which then failed (its
    lease taken over, exit 4). Now the ack reads the lease by the clock the shop's runs use:
    it exits 4 while the run holds the lock, changing nothing, and the run keeps its lease;
    once the run is over the ack is recorded, and the next run takes the lock."""
    from datetime import UTC, datetime, timedelta

    from recon.clock import VirtualClock
    from recon.lock import RunLock, holder_name
    from recon.sandbox.builder_shopify import DEFAULT_NOW
    from recon.service import RUN_LEASE, sessions

    if datetime.now(UTC) < DEFAULT_NOW + RUN_LEASE + timedelta(days=1):
        pytest.skip("the wall clock is not past the generated world's now")
    path = tmp_path / "config" / "recon.toml"
    path.parent.mkdir()
    path.write_text(
        '[sandbox]\nenabled = true\nreturns = 20\n[store]\nurl = "sqlite:///var/recon.db"\n',
        encoding="utf-8",
    )
    settings = load_settings(path)
    key = "UNMATCHED_REFUND|refund=500"
    world_clock = VirtualClock(DEFAULT_NOW)  # as build_app gives a sandbox run
    store = open_store(settings, world_clock)
    store.save_findings(
        [Finding(key=key, category=Category.UNMATCHED_REFUND, severity=Severity.MEDIUM,
                 owner=Owner.CX)]
    )  # fmt: skip
    lock = RunLock(sessions(store), world_clock)
    run = lock.acquire(settings.shop.slug, holder_name(), RUN_LEASE)  # the run, going on
    try:
        during = recon("findings", "ack", key, "--note", "refunded by hand", "--config", str(path))
        assert during.returncode == 4, during.stdout + during.stderr
        assert store.load_findings()[0].acknowledged_by is None
        lock.renew(run, RUN_LEASE)  # the run still holds the shop: not taken over
    finally:
        lock.release(run)
    after = recon("findings", "ack", key, "--note", "refunded by hand", "--config", str(path))
    assert after.returncode == 0, after.stderr
    assert store.load_findings()[0].acknowledged_by is not None
    assert lock.acquire(settings.shop.slug, holder_name(), RUN_LEASE).token == 3  # next run
    store.close()

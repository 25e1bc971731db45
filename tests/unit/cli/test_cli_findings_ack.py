"""``run_recon.py findings ack``: an acknowledgement says what was checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.bootstrap import open_store
from recon.config import load_settings
from recon.models import Category, Finding, FindingStatus, Owner, Severity
from tests.unit.cli.test_cli import config, recon

__all__ = ["config"]  # the fixture, shared with test_cli


@pytest.mark.parametrize("note", ["", "   "])
def test_an_acknowledgement_without_a_reason_is_refused(config: Path, note: str) -> None:
    """Acknowledging an UNMATCHED_REFUND releases the refunds it held: the audit trail must say
    why. `--note ""` recorded an acknowledgement with no reason, and a later ack with one was
    left unrecorded (the first stands). It exits 2 like `quarantine resolve`, nothing changed."""
    key = "UNMATCHED_REFUND|refund=500"
    store = open_store(load_settings(config))
    store.save_findings(
        [Finding(key=key, category=Category.UNMATCHED_REFUND, severity=Severity.MEDIUM,
                 owner=Owner.CX)]
    )  # fmt: skip
    store.close()
    blank = recon("findings", "ack", key, "--note", note, "--config", str(config))
    assert blank.returncode == 2, blank.stderr
    assert "--note" in blank.stderr and "Traceback" not in blank.stderr
    store = open_store(load_settings(config))
    (finding,) = store.load_findings()
    store.close()
    assert finding.status is FindingStatus.NEW and finding.acknowledged_by is None

"""``findings history KEY``: a finding's timeline, the audit trail finance asks for.

Dataset: a finding first seen (new, 48.60 USD) three days ago, acknowledged now with
``findings ack`` (by the user running it, with a note), and resolved by a run right after.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from test_cli import recon

from recon.bootstrap import open_store
from recon.config import load_settings
from recon.models import Category, Finding, FindingStatus, Owner, Severity

KEY = "MISSING_REFUND|rma=12345701"


def _save(config: Path, finding: Finding) -> None:
    store = open_store(load_settings(config))
    try:
        store.save_findings([finding])
    finally:
        store.close()


def test_history_prints_when_it_was_seen_who_acknowledged_it_and_when_it_cleared(
    config: Path,
) -> None:
    seen = (datetime.now(UTC) - timedelta(days=3)).replace(second=0, microsecond=0)
    finding = Finding(key=KEY, category=Category.MISSING_REFUND, severity=Severity.HIGH,
                      owner=Owner.FINANCE, amount_at_risk=Decimal("48.60"), currency="USD",
                      first_seen=seen, last_seen=seen)  # fmt: skip
    _save(config, finding)
    acked = recon("findings", "ack", KEY, "--note", "refunding by hand", "--config", str(config))
    assert acked.returncode == 0, acked.stderr
    resolved = datetime.now(UTC) + timedelta(minutes=1)
    _save(config, finding.model_copy(update={"status": FindingStatus.RESOLVED,
                                             "resolved_at": resolved}))  # fmt: skip
    result = recon("findings", "history", KEY, "-c", str(config))
    assert result.returncode == 0, result.stderr
    lines = [x for x in result.stdout.splitlines() if "USD" in x]
    assert len(lines) == 3, result.stdout
    assert f"{seen:%Y-%m-%d %H:%M}" in lines[0] and "new" in lines[0] and "48.60 USD" in lines[0]
    assert "acknowledged" in lines[1] and "cli:" in lines[1] and "refunding by hand" in lines[1]
    assert f"{resolved:%Y-%m-%d %H:%M}" in lines[2] and "resolved" in lines[2]


def test_history_of_an_unknown_key_exits_2_naming_it(config: Path) -> None:
    result = recon("findings", "history", "NOPE|x", "-c", str(config))
    assert result.returncode == 2
    assert "no finding with key 'NOPE|x'" in result.stderr


def test_history_shows_an_amount_change_from_what_to_what(config: Path) -> None:
    seen = (datetime.now(UTC) - timedelta(days=3)).replace(second=0, microsecond=0)
    finding = Finding(key=KEY, category=Category.MISSING_REFUND, severity=Severity.HIGH,
                      owner=Owner.FINANCE, amount_at_risk=Decimal("48.60"), currency="USD",
                      first_seen=seen, last_seen=seen)  # fmt: skip
    _save(config, finding)
    later = seen + timedelta(days=1)
    _save(config, finding.model_copy(update={"status": FindingStatus.OPEN, "last_seen": later,
                                             "amount_at_risk": Decimal("50.00")}))  # fmt: skip
    result = recon("findings", "history", KEY, "-c", str(config))
    assert result.returncode == 0, result.stderr
    lines = [x for x in result.stdout.splitlines() if "USD" in x]
    assert len(lines) == 2, result.stdout
    assert f"{later:%Y-%m-%d %H:%M}" in lines[1] and "open (amount changed)" in lines[1]
    assert "50.00 USD (was 48.60 USD)" in lines[1]


def test_acknowledging_again_keeps_the_first_acknowledgement_and_says_so(config: Path) -> None:
    seen = (datetime.now(UTC) - timedelta(days=3)).replace(second=0, microsecond=0)
    _save(config, Finding(key=KEY, category=Category.MISSING_REFUND, severity=Severity.HIGH,
                          owner=Owner.FINANCE, amount_at_risk=Decimal("48.60"), currency="USD",
                          first_seen=seen, last_seen=seen))  # fmt: skip
    first = recon("findings", "ack", KEY, "--note", "refunding by hand", "-c", str(config))
    assert first.returncode == 0, first.stderr
    again = recon("findings", "ack", KEY, "--note", "customer agreed", "-c", str(config))
    assert again.returncode == 0, again.stderr
    said = " ".join(again.stdout.split())
    assert f"already acknowledged: {KEY}" in said and "refunding by hand" in said, said
    assert "customer agreed" in said and "not recorded" in said, said
    store = open_store(load_settings(config))
    try:
        (stored,) = store.load_findings()
        events = store.finding_history(KEY)
    finally:
        store.close()
    assert stored.acknowledged_note == "refunding by hand"
    assert [e.status for e in events] == [FindingStatus.NEW, FindingStatus.ACKNOWLEDGED]
    assert events[1].acknowledged_at == stored.acknowledged_at


def test_list_and_history_print_amounts_as_the_report_does(config: Path) -> None:
    """Thousands grouped and the currency's decimals (``1,048.60 USD``), as in the report and
    the run's summary: ``1048.6 USD`` read as another figure beside them."""
    seen = (datetime.now(UTC) - timedelta(days=3)).replace(second=0, microsecond=0)
    finding = Finding(key=KEY, category=Category.MISSING_REFUND, severity=Severity.HIGH,
                      owner=Owner.FINANCE, amount_at_risk=Decimal("1048.6"), currency="USD",
                      first_seen=seen, last_seen=seen)  # fmt: skip
    _save(config, finding)
    later = seen + timedelta(days=1)
    _save(config, finding.model_copy(update={"status": FindingStatus.OPEN, "last_seen": later,
                                             "amount_at_risk": Decimal("12500")}))  # fmt: skip
    listed = recon("findings", "list", "-c", str(config))
    assert listed.returncode == 0, listed.stderr
    assert "12,500.00 USD" in listed.stdout, listed.stdout
    history = recon("findings", "history", KEY, "-c", str(config))
    assert history.returncode == 0, history.stderr
    lines = [x for x in history.stdout.splitlines() if "USD" in x]
    assert "1,048.60 USD" in lines[0], history.stdout
    assert "12,500.00 USD (was 1,048.60 USD)" in lines[1], history.stdout

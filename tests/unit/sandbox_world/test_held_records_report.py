"""Records held for review are counted in every report, not only in `quarantine`'s listing.

Dataset: the generated world (seed 3, 30 returns) and, already in the mirror from an earlier
night, open quarantine entries: a Loop return whose refund amount could not be read (id
999001, which tonight's reads do not return, so it stays held), the same return's second bad
field (one record), a Shopify payout with no id, and a cleaning note (its order was stored).
What such a record says is reconciled by no one until it is read cleanly, so the report, the
HTML report and each team's mail say how many records are held: two here (the return and the
payout; the note holds nothing back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recon.bootstrap import build_app
from recon.config import Settings, load_settings
from recon.models import CLEANED, Quarantined
from recon.service import run_nightly
from recon.store.quarantine import held_records

ROOT = Path(__file__).resolve().parents[3]
LINE = "Records held for review: {n} could not be read"


def _held() -> list[Quarantined]:
    def entry(source: str, kind: str, record_id: str | None, field: str, reason: str) -> Any:
        return Quarantined(source=source, kind=kind, record_id=record_id, field=field,
                           reason=reason, raw={"id": record_id})  # fmt: skip

    return [
        entry("loop", "return", "999001", "refund", "not a decimal amount: '1,000.00'"),
        entry("loop", "return", "999001", "currency", "unknown currency 'ZZZ'"),
        entry("shopify", "payout", None, "id", "missing"),
        entry("shopify", "order", "999002", "note", f"{CLEANED}control characters removed"),
    ]


def _settings(tmp_path: Path) -> Settings:
    """The sandbox world of the module docstring, its mirror and outputs under ``tmp_path``."""
    settings = load_settings(ROOT / "config" / "recon.toml")
    settings.sandbox.enabled = True
    settings.sandbox.seed = 3
    settings.sandbox.returns = 30
    settings.store.url = f"sqlite:///{tmp_path / 'recon.db'}"
    settings.reports.dir = tmp_path / "reports"
    settings.delivery.outbox_dir = tmp_path / "outbox"
    return settings


def test_every_report_counts_the_records_held_for_review(tmp_path: Path) -> None:
    with build_app(_settings(tmp_path)) as app:
        app.store.add_quarantined(_held(), "an-earlier-night")
        assert held_records(app.store.quarantine_entries()) == 2
        outcome = run_nightly(app)
    html = (outcome.report_dir / "report.html").read_text(encoding="utf-8")
    assert LINE.format(n=2) in html
    mails = sorted((tmp_path / "outbox").glob("*.eml"))
    assert mails
    for mail in mails:
        assert LINE.format(n=2) in mail.read_text(encoding="utf-8")


def test_no_line_when_nothing_is_held(tmp_path: Path) -> None:
    with build_app(_settings(tmp_path)) as app:
        outcome = run_nightly(app)
    assert "Records held for review" not in (outcome.report_dir / "report.html").read_text(
        encoding="utf-8"
    )

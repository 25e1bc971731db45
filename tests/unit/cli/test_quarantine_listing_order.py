"""A folded "not visible" entry seen again tonight was listed by its first entry id, behind
entries written since, so ``--limit`` cut it from a "newest first" listing (found by review).

Dataset: order 5001 answered null on day 0 (entry 1), refunds 1..3 rejected on days 1..3
(entries 2..4), order 5001 answered null again on day 30 (folded into entry 1).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from rich.console import Console

from recon.cli_quarantine import _table
from recon.clock import VirtualClock
from recon.models import Quarantined
from recon.sources.shopify_unread import NOT_VISIBLE, not_visible
from recon.store.sql import SqlStore
from tests.fakes import EPOCH


def test_an_entry_seen_again_tonight_is_listed_first_under_a_limit(tmp_path: Path) -> None:
    clock = VirtualClock(EPOCH)
    store = SqlStore(f"sqlite:///{tmp_path / 'recon.db'}", clock=clock)
    gone = not_visible("order", "gid://shopify/Order/5001", NOT_VISIBLE)
    store.add_quarantined([gone], "r1")
    for i in (1, 2, 3):
        clock.advance(timedelta(days=1))
        bad = Quarantined(
            source="shopify", kind="refund", record_id=str(i), field="processedAt", reason="bad"
        )
        store.add_quarantined([bad], f"r{i + 1}")
    clock.advance(timedelta(days=27))
    store.add_quarantined([gone], "r5")  # tonight: seen again, folded into entry 1
    entries = store.quarantine_entries()
    store.close()
    console = Console(width=240, record=True)
    console.print(_table(entries, limit=2, show_all=False))
    text = console.export_text()
    assert "5001" in text, text  # the record Shopify answered null for tonight

"""A run whose finance mail went out (its findings marked reported, its folder finished) but
whose warehouse message was lost was recorded in ``runs`` as ``failed`` with empty stats: no
error to tell it from a crash (found by review). A failed run now records its error.

Dataset: as ``test_partly_delivered`` (history_shop, smtp; the relay takes finance's message,
the outbox breaks, the warehouse message is lost).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from recon.errors import DeliveryError
from recon.store import tables as tbl
from tests.unit.store.history_shop import HistoryShop, day
from tests.unit.store.test_partly_delivered import Relay, _break_outbox, _serve, shop

__all__ = ["shop"]


def test_a_run_whose_report_went_out_is_not_recorded_failed_without_a_reason(
    shop: HistoryShop,
) -> None:
    outbox = shop.settings.delivery.outbox_dir
    relay = Relay(accept=1, first=lambda: _break_outbox(outbox))
    controller = _serve(shop, relay)
    try:
        with pytest.raises(DeliveryError):
            shop.night(day(10, 21, 2))
    finally:
        controller.stop()
    assert [m["X-Recon-Team"] for m in relay.received] == ["finance"]
    with shop.store.session() as s:
        (run,) = s.scalars(select(tbl.RunRow).where(tbl.RunRow.kind == "nightly"))
        status, stats = run.status, dict(run.stats or {})
    # The report went out: the run is not a plain failure, or at least says why it failed.
    assert status != "failed" or "error" in stats, (status, stats)
    assert "MailLostError" in stats["error"] and "warehouse" in stats["error"], stats

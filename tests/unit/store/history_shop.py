"""A shop run night by night through ``run_nightly`` (fakes for both APIs, a virtual clock),
for the tests of the findings' history.

Dataset: return 1002 (12.02 USD owed, closed Sep 18) refunded 10.00 on Sep 19 (refund 7002):
an ``AMOUNT_MISMATCH``. Return 1003 (13.03 USD owed, closed Oct 20) never refunded: a
``MISSING_REFUND``. Tests move the data on between nights with the helpers below.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from alembic import command

from recon.bootstrap import App
from recon.clock import VirtualClock
from recon.config import Settings
from recon.models import FindingEvent, RefundRecord
from recon.service import RunOutcome, run_nightly
from recon.store.migrate import alembic_config
from recon.store.sql import SqlStore
from tests.fakes import FakeLoop, FakeShopify, make_order, make_refund, make_return

MISMATCH = "AMOUNT_MISMATCH|rma=1002"
MISSING = "MISSING_REFUND|rma=1003"


def day(month: int, d: int, hour: int = 0) -> datetime:
    return datetime(2026, month, d, hour, tzinfo=UTC)


class HistoryShop:
    """The mirror, the two fakes and the clock of one shop; ``night`` runs the nightly job."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.settings = Settings.model_validate({"shop": {"slug": "hist"}})
        self.settings.reports.dir = tmp / "reports"
        self.settings.delivery.outbox_dir = tmp / "outbox"
        self.clock = VirtualClock(day(9, 20))
        self.store = SqlStore(url, clock=self.clock, shop="hist")
        self.loop = FakeLoop([make_return(2, day(9, 18)), make_return(3, day(10, 20))])
        first = make_refund(2, day(9, 19), Decimal("10.00"))
        self.shopify = FakeShopify(orders=[self._order(2, day(9, 19), first)], refunds=[first])
        self.shopify.put(make_order(3, day(10, 20)))
        self.app = App(
            settings=self.settings,
            clock=self.clock,
            store=self.store,
            loop=self.loop,  # type: ignore[arg-type]
            shopify=self.shopify,  # type: ignore[arg-type]
        )

    def night(self, at: datetime) -> RunOutcome:
        """The nightly job at ``at``."""
        self.clock.set(at)
        return run_nightly(self.app, until=at)

    def events(self, key: str) -> list[FindingEvent]:
        return self.store.finding_events([key]).get(key, [])

    def ack(self, key: str, by: str, note: str, at: datetime) -> None:
        """``findings ack`` (the store call the command makes), dated ``at``."""
        self.store.acknowledge_findings([key], by=by, note=note, at=at)

    def refund_the_rest_of_1002(self, processed: datetime, status: str, seen: datetime) -> None:
        """The second refund of 1002 (7102, 2.02, processed ``processed``), its transaction
        ``status`` as Shopify shows it from ``seen`` (the order is updated then)."""
        refund = _second_refund(processed, status)
        self.shopify.put(refund)
        first = next(r for r in self.shopify.refunds if r.id == "7002")
        self.shopify.put(self._order(2, seen, first, refund))

    def loop_changes_1003(self, at: datetime, owed: str) -> None:
        """Loop changes what 1003 is owed (its return updated at ``at``)."""
        changed = make_return(3, day(10, 20))
        self.loop.put(changed.model_copy(update={"refund": Decimal(owed), "updated_at": at}))

    def close(self) -> None:
        self.store.close()

    @staticmethod
    def _order(i: int, at: datetime, *refunds: RefundRecord) -> object:
        ids = tuple(r.id for r in refunds)
        return make_order(i, at, ids).model_copy(update={"financial_status": "partially_refunded"})


def upgrade_to_the_history(store: SqlStore, at: datetime) -> None:
    """As if ``store`` ran the version before the history until ``at`` and upgraded then."""
    config = alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_order_test_flag")
        config.attributes["now"] = at
        command.upgrade(config, "head")


def _second_refund(at: datetime, status: str) -> RefundRecord:
    base = make_refund(2, at, Decimal("2.02"), status=status)
    txn = base.transactions[0].model_copy(update={"id": "9102", "refund_id": "7102"})
    # Money only: its unit was restocked by the first refund.
    return base.model_copy(update={"id": "7102", "transactions": (txn,), "lines": ()})


def finance_mail(shop: HistoryShop, outcome: RunOutcome) -> tuple[str, list[str]]:
    """The subject and the plain-text lines of the run's finance e-mail (in the outbox)."""
    from recon.delivery import read_eml

    outbox = shop.settings.delivery.outbox_dir
    (mail,) = [
        m
        for m in (read_eml(p) for p in outbox.glob("*.eml"))
        if (m["X-Recon-Run"], m["X-Recon-Team"]) == (outcome.run_id, "finance")
    ]
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(mail["Subject"]), body.get_content().splitlines()

"""A run whose mail went out to finance counts its findings as reported, though a later message
of the run could be neither sent nor kept in the outbox.

Dataset: ``history_shop`` on SQLite in smtp mode, finance and warehouse on the recipients.
Oct 21 02:00: the first night: every finding is new, 1003's ``MISSING_RESTOCK`` the warehouse's.
The relay (a local aiosmtpd) accepts the finance message; as it does, the outbox becomes a
file (a volume gone read-only, say), and the relay refuses the warehouse message, which cannot
be kept either. Oct 21 06:00: the relay and the outbox are fine again; an on-demand run.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from recon.errors import DeliveryError
from tests.ports import HOST, free_port
from tests.unit.store.history_shop import HistoryShop, day


class Relay:
    """An SMTP relay that accepts the first ``accept`` messages and refuses the others; as the
    first message comes in, ``first`` runs (the outbox breaks)."""

    def __init__(self, accept: int, first: Callable[[], None] = lambda: None) -> None:
        self.accept, self.first = accept, first
        self.received: list[EmailMessage] = []
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if not self.received and not self.refused:
            self.first()
        if len(self.received) >= self.accept:
            self.refused += 1
            return "554 5.7.1 message refused"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        return "250 OK"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[HistoryShop]:
    shop = HistoryShop(f"sqlite:///{tmp_path / 'recon.db'}", tmp_path)
    delivery = shop.settings.delivery
    delivery.recipients = {"finance": ["finance@acme.test"], "warehouse": ["wh@acme.test"]}
    delivery.smtp.host, delivery.smtp.port = HOST, free_port()
    delivery.smtp.security, delivery.smtp.timeout_seconds = "none", 5
    delivery.mode = "smtp"
    yield shop
    shop.close()


def _serve(shop: HistoryShop, relay: Relay) -> Controller:
    smtp = shop.settings.delivery.smtp
    controller = Controller(relay, hostname=HOST, port=smtp.port)
    controller.start()
    return controller


def _break_outbox(outbox: Path) -> None:
    """The outbox can no longer be written: a file stands where its folder was."""
    outbox.rename(outbox.with_name("outbox.broken"))
    outbox.write_text("not a folder", encoding="utf-8")


def _mend_outbox(outbox: Path) -> None:
    outbox.unlink()
    outbox.with_name("outbox.broken").rename(outbox)


def _headline(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return next(line for line in body.get_content().splitlines() if "resolved:" in line)


def _new(message: EmailMessage) -> int:
    """The mail's count of findings new since the last report that went out."""
    found = re.search(r"new: (\d+)", _headline(message))
    assert found is not None, _headline(message)
    return int(found.group(1))


def _first_line(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content().splitlines()[0])


def test_findings_in_a_finance_mail_that_went_out_count_as_reported(shop: HistoryShop) -> None:
    outbox = shop.settings.delivery.outbox_dir
    relay = Relay(accept=1, first=lambda: _break_outbox(outbox))
    controller = _serve(shop, relay)
    try:
        with pytest.raises(DeliveryError) as lost:
            shop.night(day(10, 21, 2))
    finally:
        controller.stop()
    (finance,) = relay.received
    assert finance["X-Recon-Team"] == "finance" and relay.refused == 1
    assert _new(finance) > 0  # tonight's findings are all first seen
    assert "warehouse" in str(lost.value), lost.value  # the message lost is named

    _mend_outbox(outbox)
    relay = Relay(accept=10)
    controller = _serve(shop, relay)
    try:
        shop.night(day(10, 21, 6))
    finally:
        controller.stop()
    finance = next(m for m in relay.received if m["X-Recon-Team"] == "finance")
    assert _new(finance) == 0, _headline(finance)  # the 02:00 mail showed them
    assert "did not finish" not in _first_line(finance), _first_line(finance)
    assert str(finance["Subject"]).startswith("[recon] hist 2026-10-21 (run 2): ")


def test_a_run_whose_finance_mail_was_lost_has_not_reported(shop: HistoryShop) -> None:
    """The relay refuses every message and the outbox breaks as the first comes in: finance's
    mail is lost, the warehouse's is tried all the same (and lost). Nothing went out, so the
    rerun lists the findings as new and says the earlier run did not finish."""
    outbox = shop.settings.delivery.outbox_dir
    relay = Relay(accept=0, first=lambda: _break_outbox(outbox))
    controller = _serve(shop, relay)
    try:
        with pytest.raises(DeliveryError) as lost:
            shop.night(day(10, 21, 2))
    finally:
        controller.stop()
    assert relay.refused == 2, relay.refused  # finance's, then the warehouse's
    assert "2 message(s) could be neither sent nor kept" in str(lost.value), lost.value

    _mend_outbox(outbox)
    relay = Relay(accept=10)
    controller = _serve(shop, relay)
    try:
        shop.night(day(10, 21, 6))
    finally:
        controller.stop()
    finance = next(m for m in relay.received if m["X-Recon-Team"] == "finance")
    assert _new(finance) > 0, _headline(finance)
    assert "1 earlier run of the day did not finish" in _first_line(finance)
    assert "(run" not in str(finance["Subject"])

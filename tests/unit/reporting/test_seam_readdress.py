"""Seams of the re-addressed waiting mail (``deliver(..., recipients=...)``) with the settings."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import pytest
from report_samples import make_data
from test_messages import FakeMailer

from recon import delivery
from recon.config import DeliverySettings
from recon.delivery import TEAM_HEADER, build_messages, deliver
from recon.errors import MailLostError, RecipientsRefusedError
from recon.models import Category
from recon.reporting.data import ReportData

OLD = "ops-typo@acme.tset"


def _to(message: EmailMessage) -> set[str]:
    return {address for _, address in getaddresses(message.get_all("To", []))}


def _with_warehouse_items() -> ReportData:
    data = make_data()
    assert any(f.category is Category.MISSING_RESTOCK for f in data.open_findings)
    return data


def test_a_team_removed_from_the_recipients_gets_no_more_of_its_waiting_mail(
    tmp_path: Path,
) -> None:
    """The warehouse's only address was mistyped: the relay refused it, its mail waits (exit
    5). The operator removes the warehouse from ``[delivery.recipients]`` (the CHANGELOG:
    "someone removed from a team still got its waiting mail. A shop's waiting message now goes
    to its team's [delivery.recipients] as they are when it is sent"). The next run still sends
    the waiting message to the removed address, refused again every night (exit 5 for ever):
    ``_readdress`` returns a message of a team with no current recipients as written."""
    data = _with_warehouse_items()
    outbox = tmp_path / "outbox"
    before = DeliverySettings(
        outbox_dir=outbox, recipients={"finance": ["fin@example.com"], "warehouse": [OLD]}
    )
    messages = build_messages(data, before)
    assert {str(m[TEAM_HEADER]) for m in messages} == {"finance", "warehouse"}
    warehouse = [m for m in messages if str(m[TEAM_HEADER]) == "warehouse"]
    first = deliver(warehouse, FakeMailer(down=True), outbox, shop=data.shop)
    assert len(first.kept) == 1  # waits for the next run

    mailer = FakeMailer()
    deliver(
        [], mailer, outbox, shop=data.shop, recipients={"finance": ["fin@example.com"]}
    )  # the warehouse team is gone from the settings
    assert all(OLD not in _to(m) for m in mailer.sent), [sorted(_to(m)) for m in mailer.sent]


class PartlyRefusing(FakeMailer):
    """Takes every message for all but ``refused``, as a relay answering 550 to one RCPT."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
        raise RecipientsRefusedError(
            "refused 1 recipient", {self.refused: (550, "5.1.1 mailbox unavailable")}
        )


def test_a_resent_message_whose_refused_recipients_copy_cannot_be_kept_is_not_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tonight's message partly refused, its copy for the refused unwritable: ``deliver``
    raises ``MailLostError`` (a message neither sent nor kept, exit 1 naming it). The same for
    a message resent from the outbox (``_resend_waiting``) is only logged: the original is
    filed in ``sent/``, nothing waits for the refused address, ``result`` has no error, and
    the run ends 0 as if everyone got the report."""
    data = make_data()
    outbox = tmp_path / "outbox"
    two = DeliverySettings(
        outbox_dir=outbox, recipients={"finance": ["fin@example.com", "ap@example.com"]}
    )
    finance = [m for m in build_messages(data, two) if str(m[TEAM_HEADER]) == "finance"]
    deliver(finance, FakeMailer(down=True), outbox, shop=data.shop)  # relay down: it waits

    def full(*_: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(delivery, "write_eml", full)
    mailer = PartlyRefusing("ap@example.com")
    try:
        result = deliver(
            [], mailer, outbox, shop=data.shop, recipients={"finance": two.recipients["finance"]}
        )
    except MailLostError:
        return  # said, as for tonight's own message
    assert len(mailer.sent) == 1  # the others got it
    assert result.errors, "the refused recipient's copy was lost and the run says nothing"

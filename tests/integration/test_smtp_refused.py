"""Mail a relay refuses for good (a 5xx answer to MAIL, RCPT or DATA) is parked, not resent
every night; a transient (4xx) answer keeps the nightly resend. Against a real local relay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from recon.delivery import deliver
from recon.mail_parked import REFUSED_DIR, unpark
from tests.integration.test_smtp_login import Relay, mailer, message, start


class PickyRelay(Relay):
    """A relay whose answers to RCPT (per address) and DATA the test sets."""

    def __init__(self) -> None:
        super().__init__()
        self.rcpt: dict[str, str] = {}
        self.data: str | None = None

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.rcpt:
            return self.rcpt[address]
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data is not None:
            return self.data
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def relay(ca: trustme.CA) -> Iterator[tuple[Controller, PickyRelay]]:
    inbox = PickyRelay()
    controller = start(ca, inbox)
    try:
        yield controller, inbox
    finally:
        controller.stop()


def shop_message(to: str = "fin@acme.test") -> Any:
    report = message(to)
    report["X-Recon-Shop"] = "acme"
    return report


def waiting(outbox: Path) -> list[Path]:
    return sorted(outbox.glob("*.eml"))


def parked(outbox: Path) -> list[Path]:
    return sorted((outbox / REFUSED_DIR).glob("*.eml"))


@pytest.mark.parametrize(
    ("refuse", "answer"),
    [
        ("data", "554 5.6.0 Message content rejected"),
        ("data", "552 5.3.4 Message size exceeds fixed limit"),
        ("rcpt", "550 5.1.1 <fin@acme.test>: Recipient address rejected: User unknown"),
        ("mail", "553 5.7.1 Sender address rejected"),
    ],
)
def test_a_message_the_relay_refuses_for_good_is_parked_not_resent_every_night(
    relay: tuple[Controller, PickyRelay],
    ca_file: Path,
    tmp_path: Path,
    refuse: str,
    answer: str,
) -> None:
    """A 5xx answer (a workbook over the relay's size limit, content rejected, an unknown
    mailbox, a sender the account may not use) was kept in the outbox and resent every night,
    refused every night, exit 5 for ever. It is parked in refused/ with the relay's answer
    beside it; the next run does not send it again but says it is there; once the cause is
    fixed, ``unpark`` (``outbox retry``) puts it back and it goes out, once."""
    controller, inbox = relay
    if refuse == "data":
        inbox.data = answer
    elif refuse == "rcpt":
        inbox.rcpt = {"fin@acme.test": answer}
    else:
        inbox.senders = frozenset({"someone@else.test"})
    outbox = tmp_path / "outbox"
    send = mailer(controller.port, ca_file)
    first = deliver([shop_message()], send, outbox, shop="acme")
    assert inbox.messages == [] and not first.ok
    assert first.went_out == ["finance"]  # kept on disk: the report is not lost
    assert first.refused == ["finance"]  # but it reached no one: its findings stay new
    (kept,) = parked(outbox)
    assert waiting(outbox) == []
    code = answer.split()[0]
    assert code in first.errors[0] and "outbox retry" in first.errors[0]
    said = kept.with_name(kept.name + ".answer.txt").read_text(encoding="utf-8")
    assert code in said and "[recon] nightly" in said

    second = deliver([], send, outbox, shop="acme")  # the next night, nothing fixed yet
    assert second.ok and second.errors == [] and inbox.messages == []
    assert second.parked_earlier == [kept]  # said, without failing the night again
    assert parked(outbox) == [kept]

    inbox.data, inbox.rcpt, inbox.senders = None, {}, None  # the cause is fixed
    assert unpark(outbox, shop="acme") == [outbox / kept.name]
    third = deliver([], send, outbox, shop="acme")
    assert third.ok and len(third.resent) == 1 and len(inbox.messages) == 1
    assert parked(outbox) == [] and waiting(outbox) == []
    assert not list((outbox / REFUSED_DIR).glob("*.answer.txt"))
    assert deliver([], send, outbox, shop="acme").resent == []  # sent once


@pytest.mark.parametrize(
    ("stage", "answer"),
    [
        ("data", "451 4.3.0 Try again later"),
        ("data", "452 4.3.1 Out of storage"),
        ("rcpt", "450 4.2.1 Mailbox busy"),
        # RFC 5321 §4.5.3.1.10: a 552 to RCPT is read as 452 (a mailbox over quota for now).
        ("rcpt", "552 5.2.2 Mailbox full"),
    ],
)
def test_a_transient_refusal_still_waits_and_is_resent_the_next_night(
    relay: tuple[Controller, PickyRelay], ca_file: Path, tmp_path: Path, stage: str, answer: str
) -> None:
    """A relay busy or a mailbox full for now: the message waits in the outbox and the next
    run resends it, as before (exit 5 that night)."""
    controller, inbox = relay
    if stage == "data":
        inbox.data = answer
    else:
        inbox.rcpt = {"fin@acme.test": answer}
    outbox = tmp_path / "outbox"
    send = mailer(controller.port, ca_file)
    first = deliver([shop_message()], send, outbox, shop="acme")
    assert not first.ok and len(waiting(outbox)) == 1 and parked(outbox) == []
    inbox.data, inbox.rcpt = None, {}
    second = deliver([], send, outbox, shop="acme")
    assert second.ok and len(second.resent) == 1 and len(inbox.messages) == 1


def test_recipients_refused_for_good_are_parked_and_those_refused_for_now_wait(
    relay: tuple[Controller, PickyRelay], ca_file: Path, tmp_path: Path
) -> None:
    """Finance's mail to three: one got it, one mailbox does not exist (550), one is full for
    now (450). The 550 copy is parked for that address alone; the 450 copy waits and goes
    to that address alone the next night; the parked one is not resent."""
    controller, inbox = relay
    inbox.rcpt = {
        "gone@acme.test": "550 5.1.1 <gone@acme.test>: User unknown",
        "full@acme.test": "450 4.2.2 <full@acme.test>: Mailbox full",
    }
    outbox = tmp_path / "outbox"
    send = mailer(controller.port, ca_file)
    to = "fin@acme.test, gone@acme.test, full@acme.test"
    first = deliver([shop_message(to)], send, outbox, shop="acme")
    assert [r for r, _ in inbox.messages] == [["fin@acme.test"]] and not first.ok
    assert len(waiting(outbox)) == 1 and len(parked(outbox)) == 1
    assert any("550" in e and "outbox retry" in e for e in first.errors)

    inbox.rcpt = {}
    second = deliver([], send, outbox, shop="acme")
    assert [r for r, _ in inbox.messages] == [["fin@acme.test"], ["full@acme.test"]]
    assert second.ok and len(second.parked_earlier) == 1

"""SMTP login and recipients against a real local relay (aiosmtpd) that authenticates."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from recon.config import SmtpSettings
from recon.delivery import SmtpMailer, deliver
from recon.mail_parked import unpark
from tests.ports import HOST, free_port

USER, PASSWORD = "recon@acme.test", "Grüße-£42"  # what a password manager hands out


class Relay:
    """Keeps what it accepts; authenticates ``USER``/``PASSWORD`` (UTF-8, RFC 4616)."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse = refuse
        self.senders: frozenset[str] | None = None  # None: any sender

    async def handle_MAIL(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.senders is not None and address not in self.senders:
            return f"553 5.7.1 <{address}>: Sender address rejected: not owned by user {USER}"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (
        data.login.decode() == USER and data.password.decode("utf-8") == PASSWORD
    )
    return AuthResult(success=ok, handled=False)  # refused: the relay answers 535


def start(ca: trustme.CA, relay: Relay, *, without: tuple[str, ...] = ()) -> Controller:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    controller = Controller(
        relay,
        hostname=HOST,
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_exclude_mechanism=without,
    )
    controller.start()
    return controller


@pytest.fixture(params=[(), ("PLAIN",)], ids=["plain-and-login", "login-only"])
def relay(ca: trustme.CA, request: pytest.FixtureRequest) -> Iterator[tuple[Controller, Relay]]:
    """A relay offering AUTH PLAIN and LOGIN, then one offering LOGIN alone (Microsoft 365)."""
    inbox = Relay()
    controller = start(ca, inbox, without=request.param)
    try:
        yield controller, inbox
    finally:
        controller.stop()


def message(to: str = "fin@acme.test") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "[recon] nightly", "recon@acme.test", to
    msg["Message-ID"] = "<run-1.finance@recon.local>"
    msg["X-Recon-Team"] = "finance"
    msg.set_content("figures")
    return msg


def mailer(
    port: int, ca_file: Path, password: str = PASSWORD, sender: str = "recon@acme.test"
) -> SmtpMailer:
    settings = SmtpSettings(
        host=HOST,
        port=port,
        security="starttls",
        ca_file=ca_file,
        timeout_seconds=5,
        username_env="SMTP_USER",
        password_env="SMTP_PASSWORD",
        sender=sender,
    )
    values = {"SMTP_USER": USER, "SMTP_PASSWORD": password}
    return SmtpMailer(settings, lambda name: values[name or ""])


def test_a_password_with_non_ascii_characters_logs_in_and_the_report_goes_out(
    relay: tuple[Controller, Relay], ca_file: Path, tmp_path: Path
) -> None:
    """smtplib encodes AUTH as ASCII: a password with "ü" or "£" raised UnicodeEncodeError,
    which no one caught. The run died with a traceback after saving its findings, and the
    report was neither sent nor kept in the outbox. RFC 4616 (PLAIN) carries UTF-8."""
    controller, inbox = relay
    result = deliver([message()], mailer(controller.port, ca_file), tmp_path / "outbox")
    assert result.ok and result.sent == ["[recon] nightly"]
    assert [to for to, _ in inbox.messages] == [["fin@acme.test"]]


def test_a_wrong_non_ascii_password_keeps_the_report_waiting_without_echoing_it(
    relay: tuple[Controller, Relay], ca_file: Path, tmp_path: Path
) -> None:
    controller, inbox = relay
    outbox = tmp_path / "outbox"
    result = deliver([message()], mailer(controller.port, ca_file, "Grüße-old"), outbox)
    assert inbox.messages == [] and len(result.kept) == 1
    assert "535" in result.errors[0] and "Grüße" not in result.errors[0]


def test_a_recipient_the_relay_refuses_gets_the_report_later_and_the_others_get_it_once(
    relay: tuple[Controller, Relay], ca_file: Path, tmp_path: Path
) -> None:
    """Finance's mail to two people, one of whom the relay refuses (a mailbox not created yet,
    a typo since fixed at the relay): smtplib raises only when every recipient is refused and
    returns the others, which recon dropped, so the run said the report went out (exit 0) and
    that person never got it. Now the refused recipient's copy is kept (the run ends 5 naming
    the address and the relay's answer): a 550 refuses for good, so it is parked until the
    operator, the mailbox created, runs ``outbox retry``; then it goes to that person alone."""
    controller, inbox = relay
    inbox.refuse = frozenset({"ap@acme.test", "cfo@acme.test"})
    outbox = tmp_path / "outbox"
    send = mailer(controller.port, ca_file)
    first = deliver([message("fin@acme.test, ap@acme.test, cfo@acme.test")], send, outbox)
    assert [to for to, _ in inbox.messages] == [["fin@acme.test"]]
    assert first.sent == ["[recon] nightly"] and first.went_out == ["finance"]
    assert not first.ok and len(first.parked) == 1 and first.kept == []
    assert "ap@acme.test" in first.errors[0] and "cfo@acme.test" in first.errors[0]
    assert "550" in first.errors[0]
    assert "fin@acme.test" not in first.errors[0]

    inbox.refuse = frozenset()  # the mailbox exists now
    assert deliver([], send, outbox).resent == []  # parked: not resent on its own
    unpark(outbox, shop=None)  # outbox retry
    second = deliver([], send, outbox)
    assert second.ok and len(second.resent) == 1
    owed = ["ap@acme.test", "cfo@acme.test"]
    assert [sorted(to) for to, _ in inbox.messages] == [["fin@acme.test"], owed]
    resent = inbox.messages[1][1]
    assert resent["Message-ID"] == "<run-1.finance@recon.local>"  # the same message, once more
    assert resent["To"] == "fin@acme.test, ap@acme.test, cfo@acme.test"
    assert deliver([], send, outbox).resent == []  # nothing owed any more


def test_a_report_refused_for_its_sender_goes_out_once_the_sender_is_fixed(
    relay: tuple[Controller, Relay], ca_file: Path, tmp_path: Path
) -> None:
    """The relay lets the account send only as itself (Microsoft 365's SendAsDenied, Postfix's
    sender login maps): the report waits, exit 5, and the operator fixes ``[delivery.smtp]
    sender`` as the error says (the 553 parks the report), then ``outbox retry``. The ``.eml``
    kept the old From, so every resend was refused again and the report never went out. A
    message goes from the sender the settings name when it is sent."""
    controller, inbox = relay
    inbox.senders = frozenset({USER})
    outbox = tmp_path / "outbox"
    report = message()
    report.replace_header("From", "reports@acme.test")  # as built from the first settings
    first = deliver([report], mailer(controller.port, ca_file, sender="reports@acme.test"), outbox)
    assert inbox.messages == [] and len(first.parked) == 1 and "553" in first.errors[0]

    fixed = mailer(controller.port, ca_file, sender=f"Recon <{USER}>")
    unpark(outbox, shop=None)  # outbox retry, once the sender is fixed
    second = deliver([], fixed, outbox)
    assert second.ok and len(second.resent) == 1
    (received,) = [m for _, m in inbox.messages]
    assert received["From"] == f"Recon <{USER}>"
    assert received["Message-ID"] == "<run-1.finance@recon.local>"


def _mistyped_night(
    relay: tuple[Controller, Relay], ca_file: Path, tmp_path: Path
) -> tuple[Relay, Path, Any, Any]:
    """acme's report to finance's two addresses, one mistyped (ap@acme.tset, refused 550):
    (the relay, the outbox, the mailer, what ``deliver`` did)."""
    controller, inbox = relay
    inbox.refuse = frozenset({"ap@acme.tset"})
    outbox = tmp_path / "outbox"
    send = mailer(controller.port, ca_file)
    report = message("fin@acme.test, ap@acme.tset")
    report["X-Recon-Shop"] = "acme"
    return inbox, outbox, send, deliver([report], send, outbox, shop="acme")


def test_a_copy_for_a_refused_recipient_goes_to_the_corrected_address_alone(
    relay: tuple[Controller, Relay], ca_file: Path, tmp_path: Path
) -> None:
    """One of finance's two addresses mistyped: the other got the report, a copy waits for the
    mistyped one (parked: a 550). Corrected in the settings and retried (``outbox retry``),
    the copy went to the mistyped address, refused again. It now goes to the corrected
    address, and only there."""
    inbox, outbox, send, first = _mistyped_night(relay, ca_file, tmp_path)
    assert [to for to, _ in inbox.messages] == [["fin@acme.test"]] and len(first.parked) == 1

    now = {"finance": ["fin@acme.test", "ap@acme.test"]}
    unpark(outbox, shop="acme")
    second = deliver([], send, outbox, shop="acme", recipients=now)
    assert second.ok and len(second.resent) == 1
    assert [to for to, _ in inbox.messages] == [["fin@acme.test"], ["ap@acme.test"]]
    assert inbox.messages[1][1]["To"] == "fin@acme.test, ap@acme.test"


def test_a_copy_owed_to_no_one_any_more_is_not_sent(
    relay: tuple[Controller, Relay], ca_file: Path, tmp_path: Path
) -> None:
    """The refused address was taken off the team: its copy is owed to no one and is filed."""
    inbox, outbox, send, _ = _mistyped_night(relay, ca_file, tmp_path)
    unpark(outbox, shop="acme")
    second = deliver([], send, outbox, shop="acme", recipients={"finance": ["fin@acme.test"]})
    assert second.ok and [to for to, _ in inbox.messages] == [["fin@acme.test"]]
    assert list(outbox.glob("*.eml")) == [] and len(list((outbox / "sent").glob("*.eml"))) == 1

"""SmtpMailer against a real local SMTP server (aiosmtpd) with TLS certificates from trustme."""

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

from recon.config import SmtpSettings
from recon.delivery import SmtpMailer, deliver
from recon.errors import DeliveryError
from tests.ports import HOST, free_port


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[tuple[Controller, Inbox]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    inbox = Inbox()
    controller = Controller(
        inbox, hostname=HOST, port=free_port(), tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def message(subject: str = "[recon] test") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = subject, "recon@example.com", "fin@example.com"
    msg["Message-ID"] = f"<{abs(hash(subject))}@recon.local>"
    msg.set_content("figures")
    msg.add_alternative("<p>figures</p>", subtype="html")
    msg.add_attachment(
        b"PK\x03\x04workbook",
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="monthend.xlsx",
    )
    return msg


def no_secret(name: str | None) -> str:
    raise AssertionError(f"no credential should be read, asked for {name}")


def smtp(port: int, **overrides: Any) -> SmtpSettings:
    return SmtpSettings(host=HOST, port=port, security="starttls", timeout_seconds=5, **overrides)


def test_starttls_delivery_with_attachment(server: tuple[Controller, Inbox], ca_file: Path) -> None:
    controller, inbox = server
    SmtpMailer(smtp(controller.port, ca_file=ca_file), no_secret).send(message())
    assert len(inbox.messages) == 1
    received = inbox.messages[0]
    assert received["Subject"] == "[recon] test"
    attachment = next(received.iter_attachments())
    assert attachment.get_filename() == "monthend.xlsx"
    assert attachment.get_content() == b"PK\x03\x04workbook"


def test_untrusted_certificate_is_refused(server: tuple[Controller, Inbox]) -> None:
    controller, inbox = server
    with pytest.raises(DeliveryError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        SmtpMailer(smtp(controller.port), no_secret).send(message())
    assert inbox.messages == []


def test_untrusted_certificate_accepted_only_when_configured(
    server: tuple[Controller, Inbox],
) -> None:
    controller, inbox = server
    SmtpMailer(smtp(controller.port, verify_certificate=False), no_secret).send(message())
    assert len(inbox.messages) == 1


def test_credentials_come_from_the_environment_at_send_time(
    server: tuple[Controller, Inbox], ca_file: Path
) -> None:
    controller, _ = server
    asked: list[str | None] = []

    def secret(name: str | None) -> str:
        asked.append(name)
        return "x"

    settings = smtp(controller.port, ca_file=ca_file, username_env="U", password_env="P")
    with pytest.raises(DeliveryError):  # aiosmtpd without an authenticator refuses AUTH
        SmtpMailer(settings, secret).send(message())
    assert asked == ["U", "P"]


def test_smtp_down_keeps_eml_then_sends_it_next_run(
    server: tuple[Controller, Inbox], ca_file: Path, tmp_path: Path
) -> None:
    controller, inbox = server
    outbox = tmp_path / "outbox"
    down = SmtpMailer(smtp(free_port(), ca_file=ca_file), no_secret)  # nothing listens there
    first = deliver([message("[recon] nightly")], down, outbox)
    assert not first.ok and [p.suffix for p in outbox.glob("*.eml")] == [".eml"]
    assert "failed" in first.errors[0]

    up = SmtpMailer(smtp(controller.port, ca_file=ca_file), no_secret)
    second = deliver([message("[recon] next")], up, outbox)
    assert second.ok and len(second.resent) == 1 and second.sent == ["[recon] next"]
    assert [m["Subject"] for m in inbox.messages] == ["[recon] nightly", "[recon] next"]
    assert next(inbox.messages[0].iter_attachments()).get_filename() == "monthend.xlsx"
    assert not list(outbox.glob("*.eml"))


def test_implicit_tls_delivery(ca: trustme.CA, ca_file: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(context)
    inbox = Inbox()
    controller = Controller(inbox, hostname=HOST, port=free_port(), ssl_context=context)
    controller.start()
    try:
        settings = SmtpSettings(
            host=HOST, port=controller.port, security="ssl", ca_file=ca_file, timeout_seconds=5
        )
        SmtpMailer(settings, no_secret).send(message("[recon] over tls"))
    finally:
        controller.stop()
    assert [m["Subject"] for m in inbox.messages] == ["[recon] over tls"]


def test_a_refused_login_leaves_the_report_waiting_and_the_run_ends_5(
    server: tuple[Controller, Inbox], ca_file: Path, tmp_path: Path
) -> None:
    """A changed SMTP password: every night's mail waits in the outbox. In smtp mode the run
    ends with exit 5 naming the outbox (never the password); in outbox mode nothing waits."""
    from recon.config import DeliverySettings, Settings
    from recon.deliverables import undelivered_error
    from recon.errors import ReportNotDeliveredError

    controller, inbox = server
    outbox = tmp_path / "outbox"
    login = smtp(controller.port, ca_file=ca_file, username_env="U", password_env="P")
    mailer = SmtpMailer(login, lambda name: {"U": "recon", "P": "hunter2-old"}[name or ""])
    result = deliver([message("[recon] nightly")], mailer, outbox)
    assert inbox.messages == [] and len(result.kept) == 1

    smtp_mode = Settings(
        delivery=DeliverySettings(
            mode="smtp", outbox_dir=outbox, smtp=login, recipients={"finance": ["fin@acme.test"]}
        )
    )
    problem = undelivered_error(smtp_mode, result.errors)
    assert isinstance(problem, ReportNotDeliveredError) and problem.exit_code == 5
    assert str(outbox) in str(problem) and "hunter2" not in str(problem)
    outbox_mode = Settings(delivery=DeliverySettings(mode="outbox", outbox_dir=outbox))
    assert undelivered_error(outbox_mode, result.errors) is None
    assert undelivered_error(smtp_mode, []) is None

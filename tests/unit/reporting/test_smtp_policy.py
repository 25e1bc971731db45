"""SMTP policy that needs no server: credentials never go over a connection without TLS."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from recon.config import SmtpSettings
from recon.delivery import SmtpMailer
from recon.errors import ConfigError


def test_a_password_is_never_sent_without_tls() -> None:
    settings = SmtpSettings(
        host="127.0.0.1", port=1, security="none", username_env="U", password_env="P"
    )
    mailer = SmtpMailer(settings, lambda name: "secret")
    message = EmailMessage()
    message["To"] = "finance@example.com"
    with pytest.raises(ConfigError, match="security"):
        mailer.send(message)

"""The SMTP adapter: one message to a relay over STARTTLS or TLS, credentials read at send time."""

from __future__ import annotations

import base64
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import getaddresses

from recon.config import SmtpSettings
from recon.errors import (
    ConfigError,
    DeliveryError,
    MailRefusedError,
    RecipientsRefusedError,
    permanent,
)

# The recipients a kept message still owes (the relay refused them; the others got it): a copy
# ``recon.delivery`` keeps for them goes to them alone, its To header unchanged.
RESEND_TO_HEADER = "X-Recon-Resend-To"


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """A client TLS context: system CAs (or ``ca_file``), certificate and host name verified.

    ``verify_certificate = false`` is an explicit opt-out for a relay with a self-signed
    certificate; it still encrypts but no longer authenticates the server.
    """
    cafile = str(settings.ca_file) if settings.ca_file else None
    context = ssl.create_default_context(cafile=cafile)
    if not settings.verify_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpMailer:
    """Sends through an SMTP relay with STARTTLS, implicit TLS (``ssl``) or, if configured, none."""

    def __init__(self, settings: SmtpSettings, secret: Callable[[str | None], str]) -> None:
        self._settings = settings
        self._secret = secret  # Settings.secret: credentials are read at the moment of use

    def send(self, message: EmailMessage) -> None:
        """Send one message, from ``[delivery.smtp] sender`` (a waiting one's From is updated).

        Raises:
            DeliveryError: connection, TLS (including an untrusted certificate), authentication
                or the relay refusing the message.
            ConfigError: a credential's environment variable is unset.
        """
        s = self._settings
        if s.username_env and s.security == "none":
            # Never send a password in clear text: a relay without TLS gets no credentials.
            raise ConfigError(
                'delivery.smtp: username_env is set but security = "none"; use starttls or ssl'
            )
        if message["From"] is None:
            message["From"] = s.sender
        elif str(message["From"]) != s.sender:
            # A message waiting in the outbox goes from the sender the settings name now: a
            # relay that refused the old one (the account may send only as itself) refuses it
            # every night, and fixing [delivery.smtp] sender is what the error asks for.
            message.replace_header("From", s.sender)
        # A copy kept for the recipients the relay refused goes to them alone (RESEND_TO_HEADER).
        owed = message.get_all(RESEND_TO_HEADER)
        resend_to = [address for _, address in getaddresses(owed)] if owed else None
        try:
            with self._connect() as smtp:
                if s.username_env:
                    login(smtp, self._secret(s.username_env), self._secret(s.password_env))
                refused = smtp.send_message(message, to_addrs=resend_to)
        except ConfigError:
            raise
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            stage = "MAIL" if isinstance(exc, smtplib.SMTPSenderRefused) else "DATA"
            said = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            error = MailRefusedError if permanent(exc.smtp_code, stage) else DeliveryError
            raise error(f"SMTP {s.host}:{s.port} refused the message at {stage}: {said}") from exc
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
            answers = {a: (code, _text(text)) for a, (code, text) in exc.recipients.items()}
            said = "; ".join(f"{a}: {code} {text}" for a, (code, text) in answers.items())
            # One recipient refused only for now and the message may yet go: it waits.
            final = all(permanent(code) for code, _ in answers.values())
            error = MailRefusedError if final else DeliveryError
            raise error(f"SMTP {s.host}:{s.port} refused every recipient ({said})") from exc
        except (smtplib.SMTPException, ssl.SSLError, OSError, UnicodeError) as exc:
            raise DeliveryError(
                f"SMTP {s.host}:{s.port} ({s.security}) failed: {type(exc).__name__}: {exc}"
            ) from exc
        if refused:
            # smtplib raises only when every recipient is refused; the others got the message.
            answers = {
                address: (code, _text(answer)) for address, (code, answer) in refused.items()
            }
            said = "; ".join(f"{a}: {code} {text}" for a, (code, text) in answers.items())
            raise RecipientsRefusedError(
                f"SMTP {s.host}:{s.port} refused {len(answers)} recipient(s) ({said}); the "
                "others got the message",
                answers,
            )

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        if s.security == "ssl":
            return smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=tls_context(s)
            )
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        if s.security == "starttls":
            try:
                smtp.ehlo()
                # Never fall back to plain text: a relay without STARTTLS is an error.
                smtp.starttls(context=tls_context(s))
                smtp.ehlo()
            except BaseException:
                smtp.close()
                raise
        return smtp


def login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; a user name or password beyond ASCII goes as UTF-8 (``AUTH PLAIN`` or ``LOGIN``).

    smtplib encodes every AUTH exchange as ASCII (``SMTP.auth``), so a password with "ü" or
    "£" raised ``UnicodeEncodeError`` before anything was sent. RFC 4616 defines PLAIN's
    credentials as UTF-8, and relays read LOGIN's the same way (Microsoft 365 offers LOGIN
    and no PLAIN).

    Raises:
        smtplib.SMTPException: the relay offers no AUTH (or neither PLAIN nor LOGIN for such
            credentials), or refused the credentials.
    """
    if user.isascii() and password.isascii():
        smtp.login(user, password)
        return
    smtp.ehlo_or_helo_if_needed()
    mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" in mechanisms:
        code, answer = smtp.docmd("AUTH", "PLAIN " + _utf8_base64(f"\0{user}\0{password}"))
    elif "LOGIN" in mechanisms:
        code, answer = smtp.docmd("AUTH", "LOGIN " + _utf8_base64(user))  # RFC 4954 initial
        if code == 334:
            code, answer = smtp.docmd(_utf8_base64(password))
    else:
        raise smtplib.SMTPNotSupportedError(
            "the SMTP user name or password has characters beyond ASCII, which only AUTH PLAIN "
            f"or LOGIN carry, and the relay offers {' '.join(mechanisms) or 'no AUTH'}"
        )
    if code not in (235, 503):  # 503: already authenticated, as smtplib's own login accepts
        raise smtplib.SMTPAuthenticationError(code, answer)


def _text(answer: bytes | str) -> str:
    """A relay's answer as text (smtplib hands it over as bytes)."""
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer


def _utf8_base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")

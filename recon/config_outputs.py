"""Settings of what a run does with its findings: remediation (the writes to Shopify and their
limits), delivery (the e-mails) and reports. ``recon.config`` gathers them into ``Settings``.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from recon.config_modes import RemediationMode as RemediationMode
from recon.config_values import EmailAddress, EnvName, Section

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class WarehouseEvent(StrEnum):
    PROCESSED = "processed"
    RECEIVED = "received"
    INSPECTED = "inspected"


class RemediationSettings(Section):
    mode: RemediationMode = RemediationMode.PLAN
    auto_apply: list[Literal["MISSING_REFUND", "MISSING_RESTOCK", "STATUS_DRIFT"]] = Field(
        default_factory=list
    )
    restock_after: WarehouseEvent = WarehouseEvent.RECEIVED
    # Money limits are per currency and never compared across currencies: 500 USD and 500 KWD
    # are not the same risk. A refund in a currency with no limit here goes to review.
    max_refund_amount: dict[CurrencyCode, Decimal] = Field(
        default_factory=lambda: {"USD": Decimal("500.00")}
    )
    max_run_total: dict[CurrencyCode, Decimal] = Field(
        default_factory=lambda: {"USD": Decimal("5000.00")}
    )
    max_run_count: int = Field(default=50, ge=0)
    # Per shop day ([shop] timezone), over every run of the day: what this shop's intents sent
    # (or may have: sending, unknown) plus tonight's writes. Unset (the default) is no daily
    # limit, as before these settings: a limit a merchant never chose would hold the second run
    # of a day that upgraded recon; the per-run limits still bound each run.
    max_daily_total: dict[CurrencyCode, Decimal] = Field(default_factory=dict)
    max_daily_count: int | None = Field(default=None, ge=0)

    @field_validator("max_refund_amount", "max_run_total", "max_daily_total", mode="before")
    @classmethod
    def _per_currency(cls, value: object) -> object:
        if not isinstance(value, dict):
            raise ValueError('expected a table of currency = amount, e.g. { USD = "500.00" }')
        # RECON_REMEDIATION__MAX_REFUND_AMOUNT__EUR arrives as "eur": environment names are
        # read in lower case. Only the environment writes keys so, so it wins over the file's.
        lowered = {key for key in value if isinstance(key, str) and key.isalpha() and key.islower()}
        limits = {key: amount for key, amount in value.items() if key not in lowered}
        limits.update((key.upper(), value[key]) for key in lowered)
        return limits

    @field_validator("max_refund_amount", "max_run_total", "max_daily_total")
    @classmethod
    def _not_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, amount in value.items():
            if amount < 0:
                raise ValueError(f"{currency}: a limit cannot be negative")
        return value

    note_template: str = "Loop RMA #{rma}"
    status_tag: str = "recon:loop-{state}"

    @field_validator("note_template")
    @classmethod
    def _names_the_rma(cls, value: str) -> str:
        # The note is the strongest join key and the marker a resend looks for: without the RMA,
        # recon's own refunds would link to no return (Settings checks the patterns read it back).
        if SAMPLE_RMA not in _filled(value, rma=SAMPLE_RMA):
            raise ValueError("must contain {rma}, e.g. 'Loop RMA #{rma}'")
        return value

    @field_validator("status_tag")
    @classmethod
    def _fills(cls, value: str) -> str:
        _filled(value, state="closed")
        return value


SAMPLE_RMA = "12345678"


def _filled(template: str, **values: str) -> str:
    """``template`` formatted with ``values``; a placeholder other than theirs is a ValueError."""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        names = ", ".join("{" + name + "}" for name in values)
        raise ValueError(f"the only placeholder is {names} ({type(exc).__name__}: {exc})") from None


class SmtpSettings(Section):
    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    verify_certificate: bool = True
    ca_file: Path | None = None
    # Python's sockets refuse 0 (non-blocking) and negatives: found at the mail, after the run.
    timeout_seconds: float = Field(default=30.0, gt=0)
    sender: EmailAddress = "recon@localhost"


Team = Literal["finance", "warehouse", "cx"]


def _default_recipients() -> dict[Team, list[str]]:
    return {"finance": ["finance@example.com"]}


class DeliverySettings(Section):
    mode: Literal["outbox", "smtp"] = "outbox"
    outbox_dir: Path = Path("reports/outbox")
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    recipients: dict[Team, list[EmailAddress]] = Field(default_factory=_default_recipients)
    # One message's attachments together (the files; their e-mail encoding adds a third): a
    # file that does not fit with those before it is not attached, and the finance mail says
    # where it is. Relays commonly refuse messages over 25 MB.
    max_attachment_mb: float = Field(default=15, gt=0)

    @model_validator(mode="after")
    def _smtp_names_recipients(self) -> DeliverySettings:
        # Unset, recipients are the placeholder finance@example.com: fine for the outbox (the
        # files are read where they land), but smtp would mail the shop's figures to no one.
        named = "recipients" in self.model_fields_set and any(self.recipients.values())
        if self.mode == "smtp" and not named:
            raise ValueError(
                "mode is smtp but delivery.recipients names no one: set [delivery.recipients] "
                'finance = ["..."] (and warehouse, cx if they should get their items)'
            )
        smtp = self.smtp
        # The mailer refuses these at the moment of sending (recon.delivery.SmtpMailer): found
        # there, every night's run would complete and keep its mail unsent (exit 5), for ever.
        if self.mode == "smtp" and smtp.username_env and smtp.security == "none":
            raise ValueError(
                'delivery.smtp.security is "none" but username_env is set: recon never sends a '
                'password without TLS; use "starttls" or "ssl" (or unset username_env for a '
                "relay that needs no login)"
            )
        if self.mode == "smtp" and smtp.username_env and not smtp.password_env:
            raise ValueError(
                "delivery.smtp.password_env is unset but username_env is set: name the "
                "environment variable that holds the SMTP password"
            )
        return self


class ReportSettings(Section):
    dir: Path = Path("reports")
    include_customer_pii: bool = False
    top_exceptions: int = Field(default=20, ge=1)

"""The report e-mails: one message per team, listing only that team's items, finance's with
the workbook attached while it fits (``recon.delivery`` sends them)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Literal

from recon.config import DeliverySettings
from recon.models import Owner
from recon.reporting.data import ReportData
from recon.reporting.figures import for_team
from recon.reporting.html import Withheld, make_environment, render_email

log = logging.getLogger(__name__)
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
# Names the shop whose report a message is (``deliver`` resends only the running shop's).
SHOP_HEADER = "X-Recon-Shop"
# The team a message is for (finance, warehouse, cx).
TEAM_HEADER = "X-Recon-Team"
# On the report's own message: when its run marked what it showed reported (``publish``). A
# copy left waiting and later parked on resend reached no one: those marks are undone.
REPORTED_AT_HEADER = "X-Recon-Reported-At"


def build_messages(
    data: ReportData, settings: DeliverySettings, attachments: Sequence[Path] = ()
) -> list[EmailMessage]:
    """One message per team with recipients: finance gets everything and the attachments.

    Warehouse and CX get only their categories (``recon.reporting.figures.TEAM_CATEGORIES``), and
    no message at all when they have nothing open, resolved or left out. The workbook lists every
    finding, so it goes to finance only. ``attachments`` are in their order of priority: those
    that fit together in ``max_attachment_mb`` are attached, first come first, and the mail
    names the rest with their size and path (``_fitting``).

    Raises:
        OSError: an attachment cannot be read.
    """
    env = make_environment()
    messages = []
    teams: tuple[tuple[Owner, Literal["finance", "warehouse", "cx"]], ...] = (
        (Owner.FINANCE, "finance"),
        (Owner.WAREHOUSE, "warehouse"),
        (Owner.CX, "cx"),
    )
    for team, name in teams:
        recipients = settings.recipients.get(name) or []
        if not recipients:
            continue
        team_data = for_team(data, team)
        quiet = not (
            team_data.headline.open_findings
            or team_data.resolved_findings
            or team_data.left_out_findings  # gone from its open count: say why, as resolved
            or team_data.remediation  # its writes were held: say why, and what releases them
            or team_data.write_failures  # Shopify refused its writes, or has not answered
        )
        if team != Owner.FINANCE and quiet:
            continue
        attached, withheld = _fitting(attachments, settings.max_attachment_mb)
        text, html = render_email(
            team_data, team.value, env, withheld if team == Owner.FINANCE else ()
        )
        message = _message(team_data, team, settings, recipients, text, html)
        if team == Owner.FINANCE:
            for path in attached:
                message.add_attachment(
                    path.read_bytes(),
                    maintype=XLSX_TYPE[0],
                    subtype=XLSX_TYPE[1],
                    filename=path.name,
                )
        messages.append(message)
    return messages


def _fitting(paths: Sequence[Path], limit_mb: float) -> tuple[list[Path], list[Withheld]]:
    """The files to attach, and those left out (named in the mail instead).

    ``limit_mb`` bounds the message's attachments together: a relay refuses the whole
    message, not one file. Files are taken in the order given, their order of priority: each
    is attached if it fits with those attached before it, else withheld; a later, smaller file
    that still fits is attached.

    Raises:
        OSError: a file cannot be read.
    """
    attached: list[Path] = []
    withheld: list[Withheld] = []
    carried_mb = 0.0
    for path in paths:
        size_mb = path.stat().st_size / 2**20
        if carried_mb + size_mb <= limit_mb:
            attached.append(path)
            carried_mb += size_mb
            continue
        over = Withheld(
            path.resolve(), size_mb, limit_mb, 0.0 if size_mb > limit_mb else carried_mb
        )
        log.warning(
            "%s is %s MB, %s [delivery] max_attachment_mb (%g MB): not attached",
            path.name,
            over.shown_mb,
            "over" if over.alone_over else f"with {over.shown_attached_mb} MB attached over",
            limit_mb,
        )
        withheld.append(over)
    return attached, withheld


def _message(
    data: ReportData,
    team: Owner,
    settings: DeliverySettings,
    recipients: Sequence[str],
    text: str,
    html: str,
) -> EmailMessage:
    message = EmailMessage()
    # A later report of the shop's day says which (its run among the day's reports that went
    # out: a run that failed sent no mail): the first one's subject stays as it always was.
    run = f" (run {data.day_run})" if data.day_run > 1 else ""
    message["Subject"] = (
        f"[recon] {data.shop} {data.report_day.isoformat()}{run}: "
        f"{data.headline.open_findings} open findings ({team.value})"
    )
    message["From"] = settings.smtp.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(data.as_of)
    message["Message-ID"] = make_msgid(idstring=f"{data.run_id}.{team.value}", domain="recon.local")
    message["X-Recon-Run"] = data.run_id
    message[SHOP_HEADER] = data.shop
    message[TEAM_HEADER] = team.value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message

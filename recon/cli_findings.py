"""``run_recon.py findings``: list the open findings, acknowledge the ones someone checked, and
show one finding's history (the audit trail: seen, acknowledged, reopened, cleared).

Acknowledged findings stay quiet (not "new", not in the e-mail's new list) until what they say
changes; an acknowledged ``UNMATCHED_REFUND``, ``UNKNOWN_RMA`` or ``AMBIGUOUS_RMA`` no longer holds
back the refunds of its order or returns (docs/findings.md).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recon.cli_json import JsonOption, money, print_document, when
from recon.cli_options import ConfigOption, cli_actor
from recon.errors import ConfigError
from recon.money import display_amount  # as the report and the run's summary print money

if TYPE_CHECKING:  # the models load with the command that uses them (`--help` needs none)
    from recon.models import Finding, FindingEvent, FindingStatus

# The lease an ack holds the shop's run lock by, for the moment of its write.
ACK_LEASE = timedelta(minutes=1)

findings_app = typer.Typer(
    no_args_is_help=True, help="List and acknowledge findings; show a finding's history."
)


@findings_app.command("list")
def findings_list(
    config: ConfigOption = None,
    status: Annotated[
        list[str] | None,
        typer.Option(help="only these statuses (default: all but resolved and left_out)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List findings with their key, status and amount at risk."""
    from recon.cli import _settings
    from recon.models import FindingStatus

    try:
        wanted = {FindingStatus(s) for s in status} if status else {
            FindingStatus.NEW, FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED
        }  # fmt: skip
    except ValueError:
        choices = ", ".join(s.value for s in FindingStatus)
        raise ConfigError(f"--status: expected one of {choices}, got {status}") from None
    settings = _settings(config)  # before the store's modules: a bad config is refused at once
    from recon.bootstrap import open_store

    store = open_store(settings)
    try:
        rows = [f for f in store.load_findings() if f.status in wanted]
    finally:
        store.close()
    if as_json:  # each as findings.json has it (docs/findings.md), in the table's order
        from recon.engine.findings_json import finding_json  # pandas loads with the engine

        rows_json = [finding_json(f) for f in rows]
        print_document("findings-list", settings.shop.slug, "findings", rows_json)
        return
    table = Table(title=f"findings for {settings.shop.slug}")
    for column in ("key", "status", "owner", "amount", "acknowledged by", "note"):
        table.add_column(column)
    for f in rows:
        amount = display_amount(f.amount_at_risk, f.currency or "")
        cells = (f.key, f.status.value, f.owner.value, amount, f.acknowledged_by or "",
                 f.acknowledged_note)  # fmt: skip
        table.add_row(*(escape(c) for c in cells))  # text from the APIs: never console markup
    # Piped (to grep, a file): full lines, so each key can be copied into ``findings ack``.
    Console(width=None if sys.stdout.isatty() else 240).print(table)


@findings_app.command("ack")
def findings_ack(
    keys: Annotated[list[str], typer.Argument(help="finding keys (findings list, findings.json)")],
    note: Annotated[str, typer.Option("--note", help="what was checked (kept with it)")],
    config: ConfigOption = None,
) -> None:
    """Acknowledge findings someone checked: quiet until they change (one acknowledged
    already keeps its first acknowledgement: who, why and when)."""
    from recon.cli import _settings

    settings = _settings(config)  # before the store's modules: a bad config is refused at once
    from recon.bootstrap import open_store, run_clock
    from recon.lock import RunLock, give_up, holder_name
    from recon.run_steps import sessions

    store = open_store(settings)
    try:
        # A nightly run saves the findings it loaded before this ack: it would undo it. Take
        # the shop's run lock for the moment of the write (LockError, exit 4, while one runs),
        # its lease read by the clock the runs date it by (the sandbox's: the world's).
        lock = RunLock(sessions(store), run_clock(settings))
        lease = lock.acquire(settings.shop.slug, holder_name(), ACK_LEASE)
        try:
            done = store.acknowledge_findings(keys, by=cli_actor(), note=note)
        except BaseException:
            give_up(lock, lease, completed=None, ttl=ACK_LEASE)  # the refusal is what it says
            raise
        # Shown before the lock is given up: a release that fails says the ack was recorded.
        console = Console()
        for finding in done.done:
            console.print("acknowledged: " + escape(finding.key))
        for finding in done.already:
            console.print(escape(_already(finding, note)))
        recorded = f"findings ack: {len(done.done)} finding(s) acknowledged (recorded)"
        give_up(lock, lease, completed=recorded, ttl=ACK_LEASE)
    finally:
        store.close()


def _already(finding: Finding, note: str) -> str:
    """What a repeat acknowledgement says: the first one stands, a new reason is not kept."""
    when = f" on {finding.acknowledged_at:%Y-%m-%d %H:%M} UTC" if finding.acknowledged_at else ""
    said = f"already acknowledged: {finding.key} by {finding.acknowledged_by}{when}"
    said += f" ({finding.acknowledged_note!r}); left as it was"
    if note != finding.acknowledged_note:
        said += f": your note {note!r} is not recorded (the first acknowledgement stands)"
    return said


@findings_app.command("history")
def findings_history(
    key: Annotated[str, typer.Argument(help="a finding key (findings list, findings.json)")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """A finding's timeline: when it was seen, acknowledged (by whom, why), reopened, cleared."""
    from recon.cli import _settings
    from recon.models import EventOrigin

    settings = _settings(config)  # before the store's modules: a bad config is refused at once
    from recon.bootstrap import open_store

    store = open_store(settings)
    try:
        events = store.finding_history(key)
    finally:
        store.close()
    if as_json:  # the finding_events columns, oldest first
        rows = [_event_json(e) for e in events]
        print_document("finding-history", settings.shop.slug, "events", rows, key=key)
        return
    table = Table(title=f"history of {escape(key)} (times UTC)")
    for column in ("time", "status", "amount", "source", "acknowledged by", "note"):
        table.add_column(column)
    previous = None
    for e in events:
        status = _status_text(e, previous)
        amount = display_amount(e.amount_at_risk, e.currency or "")
        if e.amount_before is not None:
            amount += f" (was {display_amount(e.amount_before, e.currency_before or '')})"
        source = f"run {e.run_id}" if e.run_id else e.origin.value
        cells = (f"{e.at:%Y-%m-%d %H:%M}", status, amount, source, e.acknowledged_by or "",
                 e.acknowledged_note)  # fmt: skip
        table.add_row(*(escape(c) for c in cells))  # notes are typed by people: no markup
        previous = e.status
    if events and events[0].origin is EventOrigin.UPGRADE:
        table.caption = "the history begins at the upgrade that added it: earlier changes unknown"
    Console(width=None if sys.stdout.isatty() else 240).print(table)


def _event_json(event: FindingEvent) -> dict[str, Any]:
    """One history event for ``--json``: the ``finding_events`` table's columns."""
    return {
        "at": when(event.at), "status": event.status.value, "origin": event.origin.value,
        "amount_at_risk": money(event.amount_at_risk, event.currency),
        "currency": event.currency,
        "amount_before": money(event.amount_before, event.currency_before),
        "currency_before": event.currency_before, "first_seen": when(event.first_seen),
        "run_id": event.run_id, "acknowledged_by": event.acknowledged_by,
        "acknowledged_note": event.acknowledged_note,
        "acknowledged_at": when(event.acknowledged_at),
    }  # fmt: skip


def _status_text(event: FindingEvent, previous: FindingStatus | None) -> str:
    """The status column: reopened after an acknowledgement, or an open finding's amount moved."""
    from recon.models import OPEN_STATUSES, FindingStatus

    if event.status is FindingStatus.OPEN and previous is FindingStatus.ACKNOWLEDGED:
        return "open (reopened: changed since acknowledged)"
    if event.amount_before is not None and previous is not None and previous in OPEN_STATUSES:
        return f"{event.status.value} (amount changed)"
    return event.status.value

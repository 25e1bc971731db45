"""``run_recon.py actions``: list the intents recon recorded (what it would write to Shopify,
and what it wrote), approve the proposed ones, reject the ones no one should send (saying why),
and show one intent's audit trail (``history``).

Approval and rejection go into the ledger's audit trail with who did it and why; the next run in
``approval`` or ``apply`` mode sends what was approved (README "Fixing things safely").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recon.cli_json import JsonOption, money, print_document, when
from recon.cli_options import ConfigOption, cli_actor
from recon.errors import ConfigError, LockError, RemediationError

if TYPE_CHECKING:
    from recon.config import Settings
    from recon.remediation.history import Send
    from recon.remediation.ledger import ActionEventRow, ActionView
    from recon.remediation.supersession import Supersession

actions_app = typer.Typer(no_args_is_help=True, help="Review what recon proposes to change.")


@contextmanager
def _ledger_sessions(settings: Settings) -> Iterator[Any]:
    """Sessions of the shop's store, closed after the block (PostgreSQL's pooled connection
    was left to the garbage collector, which warns of it)."""
    from sqlalchemy.orm import sessionmaker

    from recon.bootstrap import open_store

    store = open_store(settings)
    try:
        yield sessionmaker(store.engine, expire_on_commit=False)
    finally:
        store.close()


@actions_app.command("list")
def actions_list(
    config: ConfigOption = None,
    state: Annotated[list[str] | None, typer.Option(help="only these states")] = None,
    as_json: JsonOption = False,
) -> None:
    """List intents: proposed, approved, done, failed, needs_review... An unsent one in
    review that a later intent replaced shows as "superseded by <id>", with what changed."""
    from recon.cli import _settings
    from recon.remediation.actions import ActionState

    try:
        states = [ActionState(s) for s in state] if state else None
    except ValueError:
        choices = ", ".join(s.value for s in ActionState)
        raise ConfigError(f"--state: expected one of {choices}, got {state}") from None
    settings = _settings(config)  # before the store's modules: a bad config is refused at once
    from recon.remediation.ledger import list_actions
    from recon.remediation.supersession import superseded_by
    from recon.remediation.views import describe

    with _ledger_sessions(settings) as sessions, sessions() as session:
        rows = list_actions(session, settings.shop.slug, states)
        listed = None if states is None else {row.id for row in rows}
        replaced = superseded_by(session, settings.shop.slug, listed)
    if as_json:
        rows_json = [_action_json(row, replaced.get(row.id)) for row in rows]
        print_document("actions", settings.shop.slug, "actions", rows_json)
        return
    table = Table(title=f"actions for {settings.shop.slug}")
    for column in ("id", "kind", "category", "rma", "order", "what", "state", "reason"):
        table.add_column(column)
    for row in rows:
        shown, reason = row.state, row.reason
        by = replaced.get(row.id)
        if by is not None:  # in review for good, beside the intent that replaced it
            shown = f"superseded by {by.by}"
            reason = f"action {by.by} ({by.by_state}) replaced it: {by.change}"
        cells = (
            str(row.id),
            row.kind,
            row.category,
            row.rma,
            row.order_id,
            describe(row),
            shown,
        )
        # Reasons carry Shopify's own error text: print it literally, never as console markup.
        table.add_row(*(escape(c) for c in cells), escape(reason))
    # Piped (to grep, a file): full lines, so each id, order and state reads whole.
    Console(width=None if sys.stdout.isatty() else 240).print(table)


def _decide(config: Path | None, ids: list[int], reason: str, approve: bool) -> None:
    """Approve or reject intents in one transaction.

    Raises:
        ConfigError: an unknown id, or an intent past deciding.
        LockError: a run holds SQLite's write lock (nothing was decided).
    """
    from recon.cli import _settings

    settings = _settings(config)  # before the store's modules: a bad config is refused at once
    from sqlalchemy.exc import OperationalError

    from recon.remediation import ledger

    decide = ledger.approve if approve else ledger.reject
    try:
        with (
            _ledger_sessions(settings) as sessions,
            sessions() as session,
            session.begin(),
        ):
            rows = decide(
                session,
                settings.shop.slug,
                ids,
                actor=cli_actor(),
                now=datetime.now(UTC),
                reason=reason,
            )
    except RemediationError as exc:  # an unknown id, or an intent past deciding: the input
        raise ConfigError(str(exc)) from None  # exit 2, not 1 ("the run failed") for cron
    except OperationalError as exc:
        if "locked" not in str(exc).lower():
            raise
        # SQLite has one writer: a run committing its sync held it past the busy timeout.
        # Nothing was decided; the same command goes through once the run ends.
        verb = "approve" if approve else "reject"
        raise LockError(
            f"another run is writing to shop {settings.shop.slug}'s store: nothing was "
            f"changed; {verb} again once it ends"
        ) from None
    verb = "approved" if approve else "rejected"
    Console().print(f"{verb}: " + ", ".join(str(r.id) for r in rows))


@actions_app.command("approve")
def actions_approve(
    ids: Annotated[list[int], typer.Argument(help="intent ids from `actions list`")],
    reason: Annotated[str, typer.Option(help="why (kept in the audit trail)")] = "",
    config: ConfigOption = None,
) -> None:
    """Approve proposed intents; the next run in approval or apply mode sends them."""
    _decide(config, ids, reason, approve=True)


@actions_app.command("reject")
def actions_reject(
    ids: Annotated[list[int], typer.Argument(help="intent ids from `actions list`")],
    reason: Annotated[
        str, typer.Option(help="why it is not to be sent (required; kept in the audit trail)")
    ],
    config: ConfigOption = None,
) -> None:
    """Reject proposed, planned or approved intents (e.g. held by the circuit breaker),
    saying why: money not paid back, or stock not put back, needs a reason in the trail."""
    if not reason.strip():  # ConfigError: exit 2, nothing rejected
        raise ConfigError("actions reject: --reason must say why the write is not to be sent")
    _decide(config, ids, reason, approve=False)


@actions_app.command("history")
def actions_history(
    action_id: Annotated[int, typer.Argument(help="an intent id from `actions list`")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """One intent's audit trail: who recorded, approved, rejected or sent it, when and why,
    what was sent under its key and what Shopify answered (read-only)."""
    from recon.cli import _settings

    settings = _settings(config)  # before the store's modules: a bad config is refused at once
    from recon.remediation.history import action_trail, sends
    from recon.remediation.supersession import superseded_by
    from recon.remediation.views import describe

    with _ledger_sessions(settings) as sessions, sessions() as session:
        try:
            view, trail = action_trail(session, settings.shop.slug, action_id)
        except RemediationError as exc:  # an unknown id: the input, exit 2
            raise ConfigError(str(exc)) from None
        replaced = superseded_by(session, settings.shop.slug, [action_id]).get(action_id)
    if as_json:
        _print_trail(settings.shop.slug, view, trail, replaced)
        return
    console = Console(width=None if sys.stdout.isatty() else 240)
    said = [
        f"action {view.id}: {describe(view)}",
        f"  RMA {view.rma}, order {view.order_id}, {view.category} (finding {view.finding_key})",
        f"  key {view.key}; state {view.state}; Shopify's result {view.result_id or '-'}",
    ]
    if replaced is not None:
        said.append(
            f"  superseded by action {replaced.by} ({replaced.by_state}): {replaced.change}"
        )
    for line in said:  # ids, notes and Shopify's text: literal, never console markup
        console.print(escape(line), soft_wrap=True, highlight=False)
    # Each send reads as one (a resend is sending → sending: no mere note), numbered.
    sent = sends(trail, view.variables)
    labels = {id(s.event): s.label for s in sent}
    table = Table(title=f"trail of action {view.id} (times UTC)")
    for column in ("time", "change", "by", "reason", "run"):
        table.add_column(column)
    for e in trail:
        change = _change(e.from_state, e.to_state)
        if id(e) in labels:
            change = f"{labels[id(e)]} ({e.from_state or 'new'} → {e.to_state})"
        cells = (f"{e.at:%Y-%m-%d %H:%M}", change, e.actor, e.reason, e.run_id or "")
        table.add_row(*(escape(c) for c in cells))
    console.print(table)
    # Whole, one line each: what each send put out under the key, and each answer as Shopify
    # gave it.
    for s in sent:
        what = "(not kept)" if s.variables is None else json.dumps(s.variables, sort_keys=True)
        line = f"{s.label}, {s.event.at:%Y-%m-%d %H:%M} UTC, sent under the key: {what}"
        console.print(escape(line), soft_wrap=True, highlight=False)
    if not sent and view.variables is not None:  # a trail that records no send: what it holds
        line = "sent under the key: " + json.dumps(view.variables, sort_keys=True)
        console.print(escape(line), soft_wrap=True, highlight=False)
    for e in trail:
        if e.response is not None:
            answer = json.dumps(e.response, sort_keys=True)
            line = f"Shopify's answer, {e.at:%Y-%m-%d %H:%M} UTC ({e.to_state}): {answer}"
            console.print(escape(line), soft_wrap=True, highlight=False)


def _change(before: str | None, after: str) -> str:
    """A trail event as a change of state: recorded, moved, or a note that kept the state."""
    if before is None:
        return f"recorded {after}"
    return f"{before} → {after}" if before != after else f"note ({after})"


def _action_json(view: ActionView, replaced: Supersession | None) -> dict[str, Any]:
    """An intent for ``--json``: the ledger's columns (``amount`` exact, with ``currency``),
    who decided it, and ``superseded_by`` (null, or the intent that replaced it: its id, its
    state and what changed) where the table shows "superseded by <id>"; ``state`` stays the
    ledger's own."""
    instead = None
    if replaced is not None:
        instead = {"id": str(replaced.by), "state": replaced.by_state, "change": replaced.change}
    return {
        "id": str(view.id), "key": view.key, "kind": view.kind, "category": view.category,
        "rma": view.rma, "order_id": view.order_id, "finding_key": view.finding_key,
        "amount": money(view.amount, view.currency), "currency": view.currency,
        "state": view.state, "reason": view.reason, "result_id": view.result_id,
        "approved_by": view.approved_by, "rejected_by": view.rejected_by,
        "decision_reason": view.decision_reason, "details": view.details,
        "created_at": when(view.created_at), "updated_at": when(view.updated_at),
        "superseded_by": instead,
    }  # fmt: skip


def _print_trail(
    shop: str, view: ActionView, trail: list[ActionEventRow], replaced: Supersession | None
) -> None:
    """``actions history --json``: the intent (with what it sent, ``variables``) and its
    trail, oldest first: the ``action_events`` columns, each send's label (``first send``,
    ``resend 1``...; null for an event that sent nothing) and what that send carried."""
    from recon.remediation.history import sends

    sent: dict[int, Send] = {id(s.event): s for s in sends(trail, view.variables)}
    events = []
    for e in trail:
        send = sent.get(id(e))
        events.append({
            "id": str(e.id), "at": when(e.at), "from_state": e.from_state,
            "to_state": e.to_state, "actor": e.actor, "reason": e.reason, "run_id": e.run_id,
            "response": e.response, "send": None if send is None else send.label,
            "variables": None if send is None else send.variables,
        })  # fmt: skip
    action = _action_json(view, replaced) | {"variables": view.variables}
    print_document("action-history", shop, "events", events, action=action)

"""The console summary of a run: money at risk per category, files written, score against truth."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recon.clock import shop_time
from recon.models import FindingStatus
from recon.money import display_amount as money
from recon.remediation.trail import not_run
from recon.reporting.data import UNSETTLED, Amount
from recon.reporting.data import waiting as waiting_for
from recon.reporting.figures import amounts_at_risk, sent_at_risk, split_quiet
from recon.sandbox.truth import GroundTruth
from recon.service import RunOutcome


def print_outcome(console: Console, outcome: RunOutcome, truth: GroundTruth | None) -> None:
    """Print what a finance lead wants in ten seconds, then where the files are.

    Open means new or open, as in the report and e-mails; acknowledged findings are counted
    apart (quiet until they change). New is the report's new: since the last report that went
    out (``RunOutcome.new_keys``)."""
    open_findings, quiet = split_quiet(outcome.findings)
    # The shop's time, as the report's day and period are ([shop] timezone).
    moment = shop_time(outcome.as_of, outcome.timezone)
    table = Table(title=f"recon run {outcome.run_id} as of {moment}")
    for column in ("category", "owner", "open", "new", "amount at risk"):
        table.add_column(column, justify="right" if column != "category" else "left")
    groups: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    for finding in open_findings:
        groups[finding.category.value].append(finding)
    for category in sorted(groups):
        items = groups[category]
        money: dict[str, Decimal] = defaultdict(Decimal)
        for item in items:
            money[item.currency or "?"] += item.amount_at_risk
        # Each currency's sum, 0.00 included (a declined refund priced 0 beside its retry):
        # "-" only where no finding of the category names a currency, so no amount is meant.
        amounts = ", ".join(_amount(v, c) for c, v in sorted(money.items()) if v or c != "?")
        new = sum(1 for i in items if i.status == FindingStatus.NEW or i.key in outcome.new_keys)
        table.add_row(category, items[0].owner.value, str(len(items)), str(new), amounts or "-")
    console.print(table)
    at_risk = _total(amounts_at_risk(open_findings))
    console.print(f"open findings: {len(open_findings)}; money at risk: {at_risk}")
    # As the report's headline: what this run's refunds sent toward it, so nobody pays it by hand.
    done = {i for i, state in outcome.settled.items() if state == "done"}
    sent = sent_at_risk(open_findings, outcome.actions, done, outcome.unknown_writes)
    if sent:
        console.print(f"  of which sent to Shopify this run, awaiting confirmation: {_total(sent)}")
    if quiet:
        console.print(
            f"acknowledged: {len(quiet)}, {_total(amounts_at_risk(quiet))} "
            "(quiet until they change; `run_recon.py findings list`)"
        )
    sync = outcome.sync.get("records", {})
    if sync:
        console.print("synced: " + ", ".join(f"{k} {v}" for k, v in sorted(sync.items())))
    if outcome.sync.get("quarantined"):
        console.print(
            f"[yellow]quarantined:[/] {outcome.sync['quarantined']} records could not be parsed "
            "and are kept for review (`run_recon.py quarantine`)"
        )
    if outcome.actions:
        console.print(_actions_line(outcome), soft_wrap=True)
    # Notes and paths one line each whatever their length (``soft_wrap``): under cron the console
    # is a log file, and a path folded at 80 columns can be neither copied nor grepped.
    for note in outcome.notes:
        console.print("[yellow]note:[/] " + escape(note), soft_wrap=True)
    for name, path in outcome.files.items():
        console.print(f"{name}: {path}", soft_wrap=True)
    if truth is not None:
        _print_score(console, outcome, truth)


def _actions_line(outcome: RunOutcome) -> str:
    """This run's writes as the report and e-mails count them: applied this run (``actions``
    holds every intent ever), waiting for a person (intents in review too), those Shopify
    refused this run (not done), those it did not run (throttled: the next run sends them
    again, so nobody redoes them by hand), and apart those whose outcome is still unknown
    (they may have gone through)."""
    done = sum(1 for state in outcome.settled.values() if state == "done")
    waiting = len(waiting_for(outcome.actions, {f.key for f in outcome.open_findings}))
    refused = sum(1 for state in outcome.settled.values() if state == "failed")
    not_run_ = sum(1 for a in outcome.actions if not_run(a.get("state"), a.get("reason")))
    unknown = sum(1 for a in outcome.actions if a.get("state") in UNSETTLED) - not_run_
    line = f"actions: {done} applied, {waiting} waiting for a decision"
    if refused:
        line += f", {refused} refused by Shopify (not done)"
    if not_run_:  # THROTTLED or 429: the request did not execute (shopify-admin-api.md §17)
        line += (
            f", {not_run_} not run by Shopify (throttled, nothing written: the next run sends "
            "it again; do not redo it by hand)"
        )
    if unknown:  # no answer: it may well have landed, so not counted as not done
        line += f", {unknown} outcome unknown (may have gone through: check Shopify before redoing)"
    return line + " (`run_recon.py actions list`)"


def _amount(amount: Decimal, currency: str) -> str:
    """``12,345.60 USD`` as the report prints it; an amount of no known currency as ``5 ?``."""
    return money(amount, currency) if currency not in ("", "?") else f"{money(amount, '')} ?"


def _total(amounts: tuple[Amount, ...]) -> str:
    """``1,048.60 USD, 15.25 EUR`` (each currency apart), or ``0.00`` when there is nothing."""
    return ", ".join(_amount(a.amount, a.currency) for a in amounts) or "0.00"


def _print_score(console: Console, outcome: RunOutcome, truth: GroundTruth) -> None:
    from recon.sandbox.scoring import score

    result = score(outcome.findings, truth)
    worst_p = min((c.precision for c in result.categories.values()), default=1.0)
    worst_r = min((c.recall for c in result.categories.values()), default=1.0)
    console.print(
        f"sandbox ground truth: {len(truth.findings)} planted discrepancies; "
        f"worst category precision {worst_p:.2f}, recall {worst_r:.2f}"
        + (
            ""
            if result.perfect
            else f"; missed {sorted(result.missed)[:5]} "
            f"unexpected {sorted(result.unexpected)[:5]} "
            f"amounts {list(result.amount_mismatches)[:5]}"
        )
    )

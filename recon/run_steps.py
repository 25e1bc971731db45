"""The nightly run's steps around the engine: the engine over the mirror, the test-order
filter, and the notes the console and the report carry (``recon.service`` runs them)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from recon.config import Settings
from recon.engine import ReconResult, build_frames, reconcile
from recon.models import Finding
from recon.order_flags import UnknownFlags, unknown_flags
from recon.remediation.runner import ledger_restocks
from recon.remediation.verdicts import ApplyReport
from recon.store.snapshot import (
    Snapshot,
    describe_left_out,
    on_test_orders,
    without_test_orders,
)
from recon.store.sql import SqlStore

log = logging.getLogger(__name__)


def reconcile_snapshot(
    settings: Settings,
    store: SqlStore,
    snapshot: Snapshot,
    as_of: datetime,
    *,
    ledger_before: datetime | None = None,
) -> ReconResult:
    """Run the engine over mirrored records (pure; no API calls); recon's restocks counted
    are those done before ``ledger_before`` (all when None)."""
    frames = build_frames(
        snapshot.returns,
        snapshot.orders,
        snapshot.refunds,
        snapshot.payouts,
        snapshot.balance_transactions,
        snapshot.gift_cards,
    )
    return reconcile(
        frames,
        settings.engine,
        as_of,
        restocked_by_recon=ledger_restocks(
            sessions(store),
            settings.shop.slug,
            frozenset(frames.refunds["refund_id"].astype(str)),
            ledger_before,
        ),
        restock_after=settings.remediation.restock_after,
    )


def muted_notes(muted: dict[str, int]) -> list[str]:
    """One line per muted category that had findings this run."""
    return [
        f"{category}: {count} finding(s) not reported (engine.muted_categories)"
        for category, count in muted.items()
    ]


def live_only(
    settings: Settings, snapshot: Snapshot
) -> tuple[Snapshot, tuple[tuple[str, int], ...]]:
    """The snapshot without Shopify test orders unless ``[engine] include_test_orders``, and
    what was left out per kind (shown in the run summary and reports, never silently)."""
    if settings.engine.include_test_orders:
        return snapshot, ()
    kept, left_out = without_test_orders(snapshot)
    return kept, tuple(left_out.items())


def left_out_keys(
    settings: Settings, snapshot: Snapshot, previous: list[Finding]
) -> frozenset[str]:
    """Keys of earlier findings the test-order filter now leaves out of ``snapshot`` (unfiltered):
    raised before their order read as a test order, they close as ``left_out``, not resolved."""
    if settings.engine.include_test_orders:
        return frozenset()
    return on_test_orders(snapshot, previous)


def left_out_notes(left_out: tuple[tuple[str, int], ...]) -> list[str]:
    """One line saying what the test-order filter left out, if anything."""
    if not left_out:
        return []
    what = describe_left_out(left_out)
    return [f"Shopify test orders left out: {what} (engine.include_test_orders = false)"]


def remediation_lines(applied: ApplyReport) -> tuple[str, ...]:
    """What the console and the report say of remediation's limits: why this run sent nothing
    (halted), or in plan mode whether an apply run would be held, with the figures."""
    if applied.halted:
        return (f"remediation halted: {applied.halted}",)
    return applied.preview


def order_flags(settings: Settings, snapshot: Snapshot, findings: list[Finding]) -> UnknownFlags:
    """The orders of ``snapshot`` (unfiltered) counted as live whose test flag is unknown, and
    those Shopify answers null for, with the open findings naming them; each of its lines is
    also logged (a warning: the figures finance reads may hang on test orders).
    ``recon.order_flags`` says why they are counted, not left out."""
    include = settings.engine.include_test_orders
    flags = unknown_flags(snapshot, findings, include_test_orders=include)
    for label, text in flags.lines():
        log.warning("%s: %s", label, text)
    return flags


def sessions(store: SqlStore) -> sessionmaker[Session]:
    """A session factory on the mirror for the ledger and the run lock (on a view from
    ``SqlStore.reading``, in its one read transaction)."""
    return sessionmaker(store.bind, expire_on_commit=False)

"""What sync asks the mirror: gaps to fill and records still unsettled that must be re-polled."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from recon.models import (
    BALANCE_NOT_VISIBLE,
    CLEANED,
    NODES_SHAPE_FIELD,
    NOT_VISIBLE_REASONS,
    RETURN_DETAILS_FAILING,
    RETURN_DETAILS_UNREAD,
    LoopReturnRecord,
)
from recon.store import tables as tbl
from recon.store.id_sets import among
from recon.store.rows import rebuild

# Refund transaction statuses that may still change (findings.md "pending").
PENDING_TRANSACTION_STATUSES = ("PENDING", "AWAITING_RESPONSE", "UNKNOWN")
# Payout states no longer polled for (shopify-admin-api.md, ShopifyPaymentsPayoutStatus). PAID
# may still turn FAILED (not documented either way): ``sync_plan`` re-reads recent payouts.
FINAL_PAYOUT_STATUSES = ("PAID", "FAILED", "CANCELED")
# Loop states a return can still leave (loop-returns-api.md).
OPEN_RETURN_STATES = ("open", "review")
# Open findings whose order is re-read every night: remediation may write to it (a refund or a
# restock), and a refund that moves no money (a restock-only refund made by hand) leaves the
# order's financial status as it was, so the refunded-orders sweep never sees it. A
# STATUS_DRIFT is fixed by closing the Shopify return by hand, which moves no money either: its
# order is re-read too, or the finding stays open for good.
REREAD_CATEGORIES = ("MISSING_REFUND", "MISSING_RESTOCK", "STATUS_DRIFT")


class SyncQueries:
    """Read-only queries for sync; mixed into ``SqlStore``, which provides ``session``."""

    def session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError  # pragma: no cover - SqlStore overrides it

    def order_ids_missing(self) -> list[str]:
        """Order ids Loop returns reference that the mirror has no order for."""
        ret, order = tbl.LoopReturnRow, tbl.OrderRow
        query = (
            select(ret.provider_order_id)
            .outerjoin(order, order.id == ret.provider_order_id)
            .where(ret.provider_order_id.is_not(None), order.id.is_(None))
            .distinct()
        )
        with self.session() as s:
            return sorted(str(i) for i in s.scalars(query))

    def refund_ids_missing_details(self) -> list[str]:
        """Refund ids listed on mirrored orders whose details (lines, transactions) are missing.

        Not those of an order Shopify answered null for: its refunds are null too (§6), so
        they were asked for, and quarantined, every night; they are read when their order is
        (its recheck, or its Loop return changing), from the refund ids that read lists."""
        listed, refund, order = tbl.OrderRefundIdRow, tbl.RefundRow, tbl.OrderRow
        query = (
            select(listed.refund_id)
            .join(order, order.id == listed.order_id)
            .outerjoin(refund, refund.id == listed.refund_id)
            .where(refund.id.is_(None), order.not_visible_at.is_(None))
            .distinct()
        )
        with self.session() as s:
            return sorted(s.scalars(query))

    def orders_with_pending_refunds(self) -> list[str]:
        """Orders with a refund transaction still pending: re-read them and their refunds."""
        txn = tbl.TransactionRow
        query = select(txn.order_id).where(txn.status.in_(PENDING_TRANSACTION_STATUSES)).distinct()
        with self.session() as s:
            return sorted(s.scalars(query))

    def orders_with_open_write_findings(self) -> list[str]:
        """Orders of open (new or open) ``REREAD_CATEGORIES`` findings: re-read by id nightly.

        Acknowledged findings are left out: remediation leaves them alone, and they would
        otherwise pile up night after night. A muted category's findings stay open as they were
        and are still re-read (a fixed set, not a growing one), so the night it is un-muted
        starts from a fresh mirror.
        """
        row = tbl.FindingRow
        query = select(row.payload).where(
            row.category.in_(REREAD_CATEGORIES), row.status.in_(("new", "open"))
        )
        with self.session() as s:
            ids = {p.get("shopify_order_id") for p in s.scalars(query)}
        return sorted(str(i) for i in ids if i)

    def orders_with_unknown_test_flag(self) -> list[str]:
        """Orders mirrored before recon read ``Order.test``: re-read by id, once.

        Until then they may be test orders: reconciled as live, but remediation writes nothing
        to them. Every mirrored order is in the nightly snapshot, so all of them are read, in
        the by-id batches of 250; after the first night only those a read could not settle
        (quarantined) are left. One Shopify answered null for (``orders_not_visible``) is not
        asked for again here: ``recon.sync`` asks for it after the recheck days.
        """
        order = tbl.OrderRow
        unknown = order.test.is_(None) & order.not_visible_at.is_(None)
        with self.session() as s:
            return sorted(s.scalars(select(order.id).where(unknown)))

    def ids_to_ask_again(self, kind: str) -> list[str]:
        """Shopify records of ``kind`` whose last by-id answer was malformed (an open entry
        with field ``NODES_SHAPE_FIELD``): nothing was read for them, so they are asked again."""
        row = tbl.QuarantineRow
        query = select(row.record_id).where(
            row.source == "shopify",
            row.kind == kind,
            row.field == NODES_SHAPE_FIELD,
            row.resolved_at.is_(None),
            row.record_id.is_not(None),
        )
        with self.session() as s:
            return sorted({str(i) for i in s.scalars(query)})

    def read_in_part_due(self, kind: str, cutoff: datetime) -> list[str]:
        """Mirrored Shopify orders or refunds (``kind``) a read returned but could not store
        (``Quarantined.read_not_stored``: read in part, a field unreadable), due to be asked
        again by id: those whose open entries all came from one sync (a first failure, most
        likely a one-off paging glitch: asked the next night), and those whose last entry is
        from ``cutoff`` or before (failed again: asked every ``not_visible_recheck_days``).

        Nothing else may ask for them (their Loop return and the order unchanged), and until a
        clean read resolves the entry recon holds its writes on the order over the older copy.
        A refund of an order marked not visible is left out: it is read with its order.
        """
        row = tbl.QuarantineRow
        mirror = tbl.OrderRow if kind == "order" else tbl.RefundRow
        first, last = func.min(row.quarantined_at), func.max(row.quarantined_at)
        query = (
            select(row.record_id)
            .join(mirror, mirror.id == row.record_id)
            .where(
                row.source == "shopify",
                row.kind == kind,
                row.resolved_at.is_(None),
                row.field != NODES_SHAPE_FIELD,
                row.reason.not_in(sorted(NOT_VISIBLE_REASONS)),
                ~row.reason.startswith(CLEANED, autoescape=True),
            )
            .group_by(row.record_id)
            .having(or_(first == last, last <= cutoff))
        )
        if mirror is tbl.RefundRow:
            order = tbl.OrderRow
            query = query.outerjoin(order, order.id == tbl.RefundRow.order_id).where(
                order.not_visible_at.is_(None)
            )
        with self.session() as s:
            return sorted(str(i) for i in s.scalars(query))

    def returns_details_due(
        self, cutoff: datetime, limit: int | None = None
    ) -> list[LoopReturnRecord]:
        """Mirrored Loop returns whose details could not be read (an open
        ``RETURN_DETAILS_UNREAD`` entry: the refund link unknown), due to be asked again, as
        ``read_in_part_due`` paces records read in part: those whose open entries all came from
        one sync (a first failure, most likely a passing one: asked the next night), and those
        whose last entry is from ``cutoff`` or before (failed again: asked every
        ``not_visible_recheck_days``), and those whose last entry says Loop failed to answer
        (``RETURN_DETAILS_FAILING``: a 5xx, a timeout; Loop down for a while, not the return
        gone): asked every night while it is open, as a 404 (deleted, or another shop's) is
        not. Each as the mirror holds it, to complete with Loop's
        ``refunds[]``; at most ``limit``, those asked longest ago first (the rest wait for a
        later night, and each one asked moves to the back of the queue).

        Once the look-back has passed a return, nothing else asks for it unless it changes in
        Loop, and until a read settles its entry recon holds its refund and restock.
        """
        row, ret = tbl.QuarantineRow, tbl.LoopReturnRow
        # An entry counts its repeats (``recon.store.quarantine``): first written, last seen.
        first, last = func.min(row.quarantined_at), func.max(row.last_seen_at)
        failing = row.reason.startswith(RETURN_DETAILS_FAILING, autoescape=True)
        last_failing = func.max(case((failing, row.last_seen_at)))  # the last 5xx's time
        due = (
            select(row.record_id, last.label("asked"))
            .where(
                row.source == "loop",
                row.kind == "return",
                row.resolved_at.is_(None),
                row.reason.startswith(RETURN_DETAILS_UNREAD, autoescape=True),
            )
            .group_by(row.record_id)
            .having(or_(first == last, last <= cutoff, last_failing == last))
            .subquery()
        )
        query = (
            select(ret.record, ret.raw)
            .join(due, due.c.record_id == ret.id)
            .order_by(due.c.asked, ret.id)
            .limit(limit)
        )
        with self.session() as s:
            return [rebuild(LoopReturnRecord, record, raw) for record, raw in s.execute(query)]

    def mirrored_returns(self, ids: Sequence[str]) -> dict[str, LoopReturnRecord]:
        """The mirrored Loop returns among ``ids``, as upserted (absent ids are not mirrored)."""
        ret = tbl.LoopReturnRow
        found: dict[str, LoopReturnRecord] = {}
        with self.session() as s:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                query = select(ret.record, ret.raw).where(ret.id.in_(chunk))
                for record, raw in s.execute(query):
                    mirrored = rebuild(LoopReturnRecord, record, raw)
                    found[mirrored.id] = mirrored
        return found

    def refund_ids_of_orders(self, order_ids: list[str]) -> list[str]:
        """The refund ids the mirror lists for these orders."""
        listed = tbl.OrderRefundIdRow
        found: set[str] = set()
        with self.session() as s:
            for start in range(0, len(order_ids), 500):
                chunk = order_ids[start : start + 500]
                found.update(s.scalars(select(listed.refund_id).where(listed.order_id.in_(chunk))))
        return sorted(found)

    def unsettled_balance_transaction_ids(self) -> list[str]:
        """Balance transactions whose payout is not final: re-polled by id every night.

        Their payout status changes while their ``transaction_date`` stays put, so a window read
        from the watermark would never see the change (shopify-admin-api.md §13).
        """
        bt = tbl.BalanceTransactionRow
        query = select(bt.id).where(bt.payout_status.not_in(FINAL_PAYOUT_STATUSES))
        with self.session() as s:
            return sorted(s.scalars(query))

    def balance_transactions_held_back(self, cutoff: datetime) -> list[str]:
        """Balance transactions a by-id read answered null for (an open ``BALANCE_NOT_VISIBLE``
        entry) after ``cutoff``, and whose order has not changed in Shopify since: not asked
        again tonight, the answer would most likely be null again (one more entry a night).

        The order's refund transaction is what points at a balance transaction
        (``sourceOrderTransactionId``, shopify-admin-api.md §13): an order updated after the
        last ask is asked about again. The mirrored row keeps its last known payout status,
        so its UNSETTLED_REFUND is raised all the same.
        """
        row, bt, order = tbl.QuarantineRow, tbl.BalanceTransactionRow, tbl.OrderRow
        last_ask = (
            select(row.record_id, func.max(row.last_seen_at).label("at"))
            .where(
                row.source == "shopify",
                row.kind == "balance_transaction",
                row.reason == BALANCE_NOT_VISIBLE,
                row.resolved_at.is_(None),
            )
            .group_by(row.record_id)
            .subquery()
        )
        query = (
            select(last_ask.c.record_id)
            .outerjoin(bt, bt.id == last_ask.c.record_id)
            .outerjoin(order, order.id == bt.order_id)
            .where(
                last_ask.c.at > cutoff,
                order.updated_at.is_(None) | (order.updated_at <= last_ask.c.at),
            )
        )
        with self.session() as s:
            return sorted(str(i) for i in s.scalars(query))

    def earliest_open_payout(self) -> datetime | None:
        """The oldest payout not yet final (SCHEDULED, IN_TRANSIT...)."""
        payout = tbl.PayoutRow
        query = select(func.min(payout.issued_at)).where(
            payout.status.not_in(FINAL_PAYOUT_STATUSES)
        )
        with self.session() as s:
            return s.scalar(query)

    def payouts_read_between(self, ids: Sequence[str]) -> tuple[datetime, datetime] | None:
        """When the mirror last wrote the earliest and the latest read of these payouts (their
        ``synced_at``): the month-end book says how old its payout statuses are. None if the
        mirror holds none of them."""
        row = tbl.PayoutRow
        query = select(func.min(row.synced_at), func.max(row.synced_at)).where(among(row.id, ids))
        with self.session() as s:
            first, last = s.execute(query).one()
        return None if first is None or last is None else (first, last)

    def open_return_ids(self) -> list[str]:
        """Loop returns still open or in review (changes arrive through updated_at windows)."""
        ret = tbl.LoopReturnRow
        with self.session() as s:
            return sorted(s.scalars(select(ret.id).where(ret.state.in_(OPEN_RETURN_STATES))))

    def return_versions(self, ids: Sequence[str]) -> dict[str, datetime]:
        """``updated_at`` of the mirrored returns among ``ids`` (absent ids are not mirrored)."""
        ret = tbl.LoopReturnRow
        versions: dict[str, datetime] = {}
        with self.session() as s:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                for return_id, updated_at in s.execute(
                    select(ret.id, ret.updated_at).where(ret.id.in_(chunk))
                ):
                    versions[return_id] = updated_at
        return versions

    def returned_order_versions(self, ids: Sequence[str]) -> dict[str, datetime | None]:
        """Among order ``ids``, those a mirrored Loop return names: each one's mirrored
        ``updated_at``, None when the mirror holds no such order (``fetch.changed_orders``)."""
        ret, order = tbl.LoopReturnRow, tbl.OrderRow
        versions: dict[str, datetime | None] = {}
        with self.session() as s:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                query = (
                    select(ret.provider_order_id, order.updated_at)
                    .outerjoin(order, order.id == ret.provider_order_id)
                    .where(ret.provider_order_id.in_(chunk))
                    .distinct()
                )
                for order_id, updated_at in s.execute(query):
                    versions[str(order_id)] = updated_at
        return versions

    def earliest_update_in_state(self, state: str) -> datetime | None:
        """The oldest ``updated_at`` among mirrored returns in ``state`` (re-poll start)."""
        ret = tbl.LoopReturnRow
        query = select(func.min(ret.updated_at)).where(ret.state == state)
        with self.session() as s:
            return s.scalar(query)

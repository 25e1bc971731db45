"""Orders Shopify answers null for by id: the marks, what clears them, and when to ask again.

A mirrored order carries its mark in ``orders`` (``not_visible_at``, the first time, and
``not_visible_checked_at``, the last); an order a Loop return names that was never mirrored has
a row of its own in ``unseen_orders``. Either is asked for again only when its Loop return
changes (``recon.fetch``) or once ``[sync] not_visible_recheck_days`` have passed since it was
last asked (``recon.sync``: every marked order, whether or not anything else would ask for it);
a read that returns the order, whole or in part, clears the mark. An ``unseen_orders`` row no
mirrored Loop return names any more (its return now names another order) is dropped: nothing
reads that order, and it was asked for again every ``not_visible_recheck_days``, for ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from recon.clock import Clock
from recon.models import NOT_VISIBLE_REASONS
from recon.store import tables as tbl
from recon.store.bulk import upsert_rows
from recon.store.id_sets import among


def mark(session: Session, order_ids: Iterable[str], at: datetime) -> int:
    """Record that Shopify answered null for these orders at ``at``; returns how many.

    A mirrored order keeps the first time it was found not visible (a month's book lists the
    orders found so before its end) and records ``at`` as its last check; one never mirrored
    gets an ``unseen_orders`` row the same way.
    """
    ids = sorted(set(order_ids))
    if not ids:
        return 0
    row = tbl.OrderRow
    first = func.coalesce(row.not_visible_at, at)
    session.execute(
        update(row)
        .where(among(row.id, ids))
        .values(not_visible_at=first, not_visible_checked_at=at)
        .execution_options(synchronize_session=False)
    )
    mirrored = set(session.scalars(select(row.id).where(among(row.id, ids))))
    unseen = tbl.UnseenOrderRow
    found = session.execute(select(unseen.id, unseen.not_visible_at).where(among(unseen.id, ids)))
    known = {order_id: first_at for order_id, first_at in found}
    rows = [
        {"id": i, "not_visible_at": known.get(i, at), "checked_at": at}
        for i in ids
        if i not in mirrored
    ]
    upsert_rows(session, unseen, rows)
    return len(ids)


def clear(session: Session, order_ids: Iterable[str]) -> None:
    """A read returned these orders (whole or in part): Shopify shows them, so no mark stays."""
    ids = sorted(set(order_ids))
    if not ids:
        return
    row = tbl.OrderRow
    session.execute(
        update(row)
        .where(among(row.id, ids), row.not_visible_at.is_not(None))
        .values(not_visible_at=None, not_visible_checked_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(tbl.UnseenOrderRow).where(among(tbl.UnseenOrderRow.id, ids)))


def forget_unnamed(session: Session, now: datetime) -> int:
    """Drop the ``unseen_orders`` rows of orders no mirrored Loop return names; returns how
    many. (A mirrored order keeps its mark: its row is the mirror's, read by the month-end.)

    Their open "not visible" entries are settled with a note saying why: nothing will read
    those orders again, so no read would ever resolve them, and an open entry would hold the
    order as unreadable and stay in the ``quarantine`` listing for good.
    """
    unseen, ret = tbl.UnseenOrderRow, tbl.LoopReturnRow
    named = exists().where(ret.provider_order_id == unseen.id)
    gone = list(session.scalars(select(unseen.id).where(~named)))
    if not gone:
        return 0
    session.execute(
        delete(unseen).where(among(unseen.id, gone)).execution_options(synchronize_session=False)
    )
    entry = tbl.QuarantineRow
    session.execute(
        update(entry)
        .where(
            entry.kind == "order",
            among(entry.record_id, gone),
            entry.reason.in_(sorted(NOT_VISIBLE_REASONS)),
            entry.resolved_at.is_(None),
        )
        .values(resolved_at=now, resolved_by="recon", resolved_note=_UNNAMED_NOTE)
        .execution_options(synchronize_session=False)
    )
    return len(gone)


_UNNAMED_NOTE = (
    "no Loop return names this order any more (its return names another order): recon no "
    "longer reads it"
)


def marked(session: Session, end: datetime | None = None) -> frozenset[str]:
    """Ids of the orders marked not visible, first found so before ``end`` when given."""
    row, unseen = tbl.OrderRow, tbl.UnseenOrderRow
    mirrored = select(row.id).where(row.not_visible_at.is_not(None))
    never = select(unseen.id)
    if end is not None:
        mirrored = mirrored.where(row.not_visible_at < end)
        never = never.where(unseen.not_visible_at < end)
    return frozenset(session.scalars(mirrored)) | frozenset(session.scalars(never))


def checked_after(session: Session, cutoff: datetime) -> frozenset[str]:
    """Orders marked not visible whose last ask was after ``cutoff``: not asked again yet."""
    row, unseen = tbl.OrderRow, tbl.UnseenOrderRow
    last = func.coalesce(row.not_visible_checked_at, row.not_visible_at)
    mirrored = select(row.id).where(row.not_visible_at.is_not(None), last > cutoff)
    never = select(unseen.id).where(unseen.checked_at > cutoff)
    return frozenset(session.scalars(mirrored)) | frozenset(session.scalars(never))


def checked_by(session: Session, cutoff: datetime) -> frozenset[str]:
    """Orders marked not visible whose last ask was at or before ``cutoff``: due again."""
    row, unseen = tbl.OrderRow, tbl.UnseenOrderRow
    last = func.coalesce(row.not_visible_checked_at, row.not_visible_at)
    mirrored = select(row.id).where(row.not_visible_at.is_not(None), last <= cutoff)
    never = select(unseen.id).where(unseen.checked_at <= cutoff)
    return frozenset(session.scalars(mirrored)) | frozenset(session.scalars(never))


class Visibility:
    """The marks as ``SqlStore`` methods; mixed in, which provides ``session`` and ``clock``."""

    clock: Clock

    def session(self) -> AbstractContextManager[Session]:
        raise NotImplementedError  # pragma: no cover - SqlStore overrides it

    @contextmanager
    def _visibility_tx(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
        else:
            with self.session() as own:
                yield own

    def mark_orders_not_visible(
        self, order_ids: Iterable[str], *, session: Session | None = None
    ) -> int:
        """Record that Shopify answered null for these orders by id (deleted, or out of
        sight), mirrored or not (``mark``); returns how many."""
        with self._visibility_tx(session) as s:
            return mark(s, order_ids, self.clock.now())

    def clear_not_visible(
        self, order_ids: Iterable[str], *, session: Session | None = None
    ) -> None:
        """A read returned these orders: clear their marks (``clear``)."""
        with self._visibility_tx(session) as s:
            clear(s, order_ids)

    def forget_unnamed_unseen_orders(self, *, session: Session | None = None) -> int:
        """Drop the unseen orders no mirrored Loop return names (``forget_unnamed``)."""
        with self._visibility_tx(session) as s:
            return forget_unnamed(s, self.clock.now())

    def orders_not_visible(self) -> list[str]:
        """Orders a by-id read answered null for: deleted in Shopify, or older than 60 days
        without ``read_all_orders`` (shopify-admin-api.md §1, §6), mirrored or not."""
        with self.session() as s:
            return sorted(marked(s))

    def orders_not_visible_checked_after(self, cutoff: datetime) -> list[str]:
        """Orders marked not visible and last asked for after ``cutoff`` (``checked_after``)."""
        with self.session() as s:
            return sorted(checked_after(s, cutoff))

    def orders_not_visible_checked_by(self, cutoff: datetime) -> list[str]:
        """Orders marked not visible and last asked for at or before ``cutoff``: asked again
        tonight, whatever else asks for them (``checked_by``)."""
        with self.session() as s:
            return sorted(checked_by(s, cutoff))

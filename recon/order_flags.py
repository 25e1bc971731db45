"""Orders whose Shopify test flag recon does not know, said to people: run notes, the report,
the e-mails and the month-end Summary.

Such orders are reconciled as live orders, on purpose: right after the upgrade that added
``Order.test`` every mirrored order is one, until the next nightly run reads them again, and a
book that left them out would drop nearly every break of the month (money at risk would read
near zero). Test orders are rare in a production shop, so counting these as live overstates at
worst; leaving them out would hide real money. Finance is told how many there are and how many
open findings name them, so no figure hangs on them unsaid. Orders Shopify answers null for by
id (deleted, or older than 60 days without ``read_all_orders``) are listed apart: their flag can
never be read, and recon writes nothing to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

from recon.models import OPEN_STATUSES, Finding
from recon.store.snapshot import Snapshot

_SHOWN = 10  # order ids named in a line; more are counted


@dataclass(frozen=True)
class UnknownFlags:
    """Orders reconciled as live whose test flag is unknown, and those Shopify no longer shows,
    with the keys of the open findings naming them (a team's e-mail counts its own)."""

    unread: tuple[str, ...] = ()  # mirrored before recon read Order.test, not read since
    unread_findings: tuple[str, ...] = ()  # keys of the open findings naming them
    not_visible: tuple[str, ...] = ()  # nodes(ids:) answered null: re-read seldom
    not_visible_findings: tuple[str, ...] = ()

    def among(self, keys: AbstractSet[str]) -> UnknownFlags:
        """The same orders, counting only the open findings whose key is in ``keys`` (those
        one team's report lists)."""
        return replace(
            self,
            unread_findings=tuple(k for k in self.unread_findings if k in keys),
            not_visible_findings=tuple(k for k in self.not_visible_findings if k in keys),
        )

    def lines(self) -> tuple[tuple[str, str], ...]:
        """(label, text) per kind there are orders of; none when every flag is known."""
        out: list[tuple[str, str]] = []
        if self.unread:
            out.append(
                (
                    "Orders whose Shopify test flag is not known yet",
                    f"{len(self.unread)} ({len(self.unread_findings)} open finding(s) on them): "
                    "mirrored before recon read Order.test, they are counted as live orders, so "
                    "some of these findings may be on test orders; recon writes nothing to them "
                    "until the nightly run has read them again",
                )
            )
        if self.not_visible:
            shown = ", ".join(self.not_visible[:_SHOWN])
            more = (
                f" and {len(self.not_visible) - _SHOWN} more"
                if len(self.not_visible) > _SHOWN
                else ""
            )
            out.append(
                (
                    "Orders not visible in Shopify",
                    f"{len(self.not_visible)} ({shown}{more}; "
                    f"{len(self.not_visible_findings)} open finding(s) on them): Shopify "
                    "answers null for them (deleted, or older than 60 days without "
                    "read_all_orders), so their test flag may never be read; "
                    "recon writes nothing to them and asks for them again only when their "
                    "Loop return changes or after [sync] not_visible_recheck_days",
                )
            )
        return tuple(out)


NO_FLAGS = UnknownFlags()  # every order's flag known, none out of sight


def unknown_flags(
    snapshot: Snapshot, findings: Iterable[Finding], *, include_test_orders: bool = False
) -> UnknownFlags:
    """The orders of ``snapshot`` (unfiltered) whose flag is unknown, and those not visible,
    with the open findings naming each. With ``include_test_orders`` an unknown flag changes
    nothing (test orders are reconciled too), so only the orders not visible are counted."""
    # An order Loop names that was never mirrored is not in ``snapshot.orders``: its return is.
    named = {o.id for o in snapshot.orders} | {r.provider_order_id for r in snapshot.returns}
    gone = frozenset(i for i in named if i is not None and i in snapshot.not_visible)
    unread = (
        frozenset(o.id for o in snapshot.orders if o.test is None and o.id not in gone)
        if not include_test_orders
        else frozenset()
    )
    open_findings = [f for f in findings if f.status in OPEN_STATUSES]
    return UnknownFlags(
        unread=tuple(sorted(unread)),
        unread_findings=_naming(snapshot, unread, open_findings),
        not_visible=tuple(sorted(gone)),
        not_visible_findings=_naming(snapshot, gone, open_findings),
    )


def _naming(snapshot: Snapshot, orders: frozenset[str], findings: list[Finding]) -> tuple[str, ...]:
    """The keys of the findings that name one of ``orders``, a Loop return on one, or a refund
    of one."""
    if not orders:
        return ()
    rmas = {r.id for r in snapshot.returns if r.provider_order_id in orders}
    refunds = {f.id for f in snapshot.refunds if f.order_id in orders}
    return tuple(
        f.key
        for f in findings
        if f.shopify_order_id in orders
        or f.rma in rmas
        or any(r in refunds for r in f.shopify_refund_ids)
    )

"""Shopify Admin GraphQL client: the read iterators, over one ``execute`` with pacing and retries
(``recon.sources.shopify_transport``).

Page sizes come from each document's static cost (``recon.sources.documents``) so no query is
refused for cost and none is smaller than it needs to be (DESIGN decision 3); a page refused
anyway is shrunk and retried. The first call reads the app's granted scopes (the 60-day rule,
shopify-admin-api.md §1); windows that reach the 25,000-object deep-pagination cap resume from
their last row's timestamp, or read a second that holds more than that by id
(``recon.sources.shopify_paging``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    OrderRecord,
    OrderStamp,
    PayoutRecord,
    Quarantined,
    RefundRecord,
)
from recon.sources.documents import field_first, load_document
from recon.sources.shopify_answers import Misshapen, PartRead, gid
from recon.sources.shopify_paging import unseen
from recon.sources.shopify_parse import (
    parse_balance_transaction,
    parse_gift_card,
    parse_items,
    parse_order,
    parse_payout,
    parse_refund,
    parse_stamp,
)
from recon.sources.shopify_transport import ShopifyTransport
from recon.sources.shopify_unread import (
    BALANCE_NOT_VISIBLE,
    NOT_VISIBLE,
    REFUND_NOT_VISIBLE,
    misshapen,
    not_visible,
    paged_away,
    past_the_list,
    refund_ids,
    refunds_incomplete,
)

logger = logging.getLogger(__name__)

# The sweep runs once per status: a plain AND query works on every search backend, and the two
# result sets are merged by id (shopify-admin-api.md §5).
REFUNDED_STATUSES = ("refunded", "partially_refunded")


def search_time(moment: datetime) -> str:
    """A timestamp for Shopify search syntax, quoted, UTC."""
    return "'" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def window_query(field: str, start: datetime, end: datetime) -> str:
    """``field:>='start' AND field:<'end'`` (a half-open window)."""
    return f"{field}:>={search_time(start)} AND {field}:<{search_time(end)}"


class ShopifyClient(ShopifyTransport):
    """Reads Shopify (implements ``recon.ports.ShopifySource``) and runs any GraphQL document.

    ``check_scopes`` reads the granted scopes before the first call and warns about any whose
    absence hides data; ``deep_page_cap`` is Shopify's 25,000 (smaller in tests).
    ``retry_budget`` is the run's budget for Shopify (``recon.sources.retry_budget``).
    """

    # --- orders ----------------------------------------------------------------------------

    def _complete_order(
        self, document: str, node: Any, extra_lines: Sequence[Any] = ()
    ) -> list[OrderRecord | Quarantined]:
        """Parse an order, re-reading its refunds first when the list came back full (§7).

        Only a whole list makes a clean read: an order whose re-read was cut short (the cost
        cap, the order gone, fewer refunds than the first read saw) is kept for review, so an
        open "refunds" entry of it stays open and its writes stay held.
        """
        limit = field_first(document, "refunds")
        refunds = node.get("refunds") if isinstance(node, Mapping) else None
        if limit is not None and isinstance(refunds, list) and len(refunds) >= limit:
            every, incomplete = self._all_refunds(node, limit)
            node = {**node, "refunds": every}
            if incomplete is not None:
                return [refunds_incomplete(node, incomplete)]
        return parse_items("order", node, partial(parse_order, extra_lines=extra_lines))

    def _all_refunds(self, node: Mapping[str, Any], limit: int) -> tuple[list[Any], str | None]:
        """(refunds, None) for an order whose list filled ``limit``, when that is all of them;
        (the refunds read, why they are not all) otherwise.

        ``Order.refunds`` is a plain list: ``first`` truncates silently and there is no cursor
        (shopify-admin-api.md §7), so the only remedy is a larger ``first``, up to 250.
        """
        known = list(node.get("refunds") or ())
        document = load_document("OrderRefunds")
        first = self.sizer.size(document, "first", {"id": node.get("id"), "first": 0})
        if first <= limit or not isinstance(node.get("id"), str):
            return known, past_the_list(len(known))  # the cost does not allow a longer list
        data, _ = self._post(document, {"id": node["id"], "first": first}, write=False)
        fresh = (data.get("node") or {}).get("refunds")
        if not isinstance(fresh, list):
            logger.warning("shopify: order %s vanished while its refunds were re-read", node["id"])
            return known, (
                f"order deleted (or out of sight) while its refund list was re-read: only the "
                f"first {len(known)} refunds were read, more may be missing"
            )
        if len(fresh) >= first:
            return fresh, past_the_list(len(fresh))
        missing = refund_ids(known) - refund_ids(fresh)
        if missing or len(fresh) < len(known):
            # Shopify never removes a refund: a re-read without one the first read saw is not
            # the whole list (an order read in part), whatever its length.
            return known, (
                f"the re-read of the order's refund list came back with {len(fresh)} refunds, "
                f"missing some of the {len(known)} the first read saw: not read whole"
            )
        return fresh, None

    # --- ShopifySource ---------------------------------------------------------------------

    def iter_orders_by_id(self, ids: Sequence[str]) -> Iterator[OrderRecord | Quarantined]:
        """Orders by numeric id; an id that resolves to null, or that a shorter list leaves
        out (``Pager.by_ids``), is quarantined as not visible, not dropped (§6)."""
        document = load_document("OrdersById")
        for order_gid, node in self.pager.by_ids("OrdersById", "Order", ids):
            if isinstance(node, Misshapen):
                yield misshapen("order", order_gid, node)
                continue
            if node is None:
                yield not_visible("order", order_gid, NOT_VISIBLE)
                continue
            extra = self.pager.follow("OrderLineItemsPage", "lineItems", node)
            if isinstance(extra, PartRead):
                yield paged_away("order", node, extra)
                continue
            yield from self._complete_order(document, node, extra)

    def iter_refunded_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderRecord | Quarantined]:
        """Orders updated in [start, end) that are refunded or partially refunded, each once
        as read (an order changed during the read is passed on again as it then was)."""
        document = load_document("OrdersPage")
        # An order in both passes changed between them (its status moved): the later copy is
        # passed on too, and the store keeps the later ``updatedAt`` (``unseen``). The same
        # copy twice is passed on once, before its pages are followed.
        seen: dict[str, Any] = {}
        for status in REFUNDED_STATUSES:

            def query(low: datetime, high: datetime, status: str = status) -> str:
                return f"{window_query('updated_at', low, high)} AND financial_status:{status}"

            nodes = self.pager.windowed(
                "OrdersPage", ("orders",), query, start, end, sort_field="updatedAt"
            )
            for node in unseen(nodes, seen):
                extra = self.pager.follow("OrderLineItemsPage", "lineItems", node)
                if isinstance(extra, PartRead):
                    yield paged_away("order", node, extra)
                else:
                    yield from self._complete_order(document, node, extra)

    def iter_updated_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderStamp | Quarantined]:
        """Every order updated in [start, end), its id and ``updatedAt`` only, each once (§5).

        A page costs about 1 point per order (250 a call), against about 55 for the sweep's
        full ``OrdersPage``: the sync reads in full only the few it needs (``recon.fetch``).
        That a change moving no money (a restock-only refund) moves ``Order.updatedAt`` is the
        schema's "when the order was last modified"; the sweep's own ``updated_at`` filter
        relies on the same.
        """
        nodes = self.pager.windowed(
            "OrdersUpdated",
            ("orders",),
            partial(window_query, "updated_at"),
            start,
            end,
            sort_field="updatedAt",
        )
        for node in nodes:
            yield parse_stamp(node)

    def iter_refunds_by_id(self, ids: Sequence[str]) -> Iterator[RefundRecord | Quarantined]:
        """Refunds with all their lines and transactions (inner connections followed)."""
        for refund_gid, node in self.pager.by_ids("RefundsById", "Refund", ids):
            if isinstance(node, Misshapen):
                yield misshapen("refund", refund_gid, node)
                continue
            if node is None:
                # Kept for review: the planner holds refunds and restocks on an order whose
                # listed refunds it could not read, and this says why (its order, if it is gone
                # too, is quarantined on its own).
                yield not_visible("refund", refund_gid, REFUND_NOT_VISIBLE)
                continue
            lines = self.pager.follow("RefundLineItemsPage", "refundLineItems", node)
            transactions = self.pager.follow("RefundTransactionsPage", "transactions", node)
            if isinstance(lines, PartRead):
                yield paged_away("refund", node, lines)
                continue
            if isinstance(transactions, PartRead):
                yield paged_away("refund", node, transactions)
                continue
            yield from parse_items(
                "refund",
                node,
                lambda n: parse_refund(n, lines, transactions),  # noqa: B023
            )

    def iter_payouts(self, start: datetime, end: datetime) -> Iterator[PayoutRecord | Quarantined]:
        """Shopify Payments payouts issued in [start, end).

        Raises:
            AuthError: the app lacks ``read_shopify_payments_payouts``.
        """
        path = ("shopifyPaymentsAccount", "payouts")
        query = partial(window_query, "issued_at")
        for node in self.pager.windowed("Payouts", path, query, start, end, sort_field="issuedAt"):
            yield from parse_items("payout", node, parse_payout)

    def iter_balance_transactions(
        self, start: datetime, end: datetime
    ) -> Iterator[BalanceTransactionRecord | Quarantined]:
        """Balance transactions processed in [start, end) (no payout_id filter exists, §13).

        Raises:
            AuthError: the app lacks ``read_shopify_payments_payouts``.
        """
        path = ("shopifyPaymentsAccount", "balanceTransactions")
        query = partial(window_query, "processed_at")
        nodes = self.pager.windowed(
            "BalanceTransactions", path, query, start, end, sort_field="transactionDate"
        )
        for node in nodes:
            yield from parse_items("balance_transaction", node, parse_balance_transaction)

    def iter_balance_transactions_by_id(
        self, ids: Sequence[str]
    ) -> Iterator[BalanceTransactionRecord | Quarantined]:
        """Balance transactions by numeric id (``nodes(ids:)``): unsettled ones re-polled.

        An id that resolves to null is quarantined, not dropped, so the mirror's stale row is
        visible (shopify-admin-api.md §6: ``nodes`` answers null for what it cannot show).
        """
        kind = "ShopifyPaymentsBalanceTransaction"
        for node_gid, node in self.pager.by_ids("BalanceTransactionsById", kind, ids):
            if isinstance(node, Misshapen):
                yield misshapen("balance_transaction", node_gid, node)
                continue
            if node is None:
                yield not_visible("balance_transaction", node_gid, BALANCE_NOT_VISIBLE)
                continue
            yield from parse_items("balance_transaction", node, parse_balance_transaction)

    def iter_gift_cards(
        self, start: datetime, end: datetime
    ) -> Iterator[GiftCardRecord | Quarantined]:
        """Gift cards created in [start, end) by an API client (Loop's store credit, §12).

        Read by creation, not by update: ``giftCards(query:)`` has no ``updated_at`` filter (the
        2026-04 schema lists ``balance_status``, ``created_at``, ``customer_id``, ``expires_on``,
        ``id``, ``initial_value``, ``recipient_id``, ``source``, ``status``, 2026-01 fewer; §12),
        so a card changed after the windows that cover its creation (the look-back included:
        its note edited to name the RMA, disabled, spent) is not read again by a nightly sync,
        and the mirror keeps it as last read (a backfill over its creation reads it). The schema
        does have ``sortKey: UPDATED_AT``; reading changes by it (newest first, back to the
        window's start) is not done: with no filter, a window could not resume past the
        deep-paging cap, nor a backfill skip the changes made since its range.
        """

        def query(low: datetime, high: datetime) -> str:
            return f"source:api_client AND {window_query('created_at', low, high)}"

        cards = self.pager.windowed(
            "GiftCards", ("giftCards",), query, start, end, sort_field="createdAt"
        )
        for node in cards:
            yield from parse_items("gift_card", node, parse_gift_card)


__all__ = [
    "BALANCE_NOT_VISIBLE",
    "NOT_VISIBLE",
    "REFUNDED_STATUSES",
    "REFUND_NOT_VISIBLE",
    "ShopifyClient",
    "gid",
    "search_time",
    "window_query",
]

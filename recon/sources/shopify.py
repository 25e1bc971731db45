"""Shopify Admin GraphQL client: one ``execute`` with pacing and retries, and the read iterators.

Page sizes come from each document's static cost (``recon.sources.documents``) so no query is
refused for cost and none is smaller than it needs to be (DESIGN decision 3).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import httpx

from recon.clock import Clock
from recon.errors import AuthError, CursorLoopError, FatalHTTPError
from recon.models import (
    BalanceTransactionRecord,
    GiftCardRecord,
    OrderRecord,
    PayoutRecord,
    Quarantined,
    RefundRecord,
)
from recon.sources.documents import PageSizer, estimate_cost, load_document
from recon.sources.http import BodyVerdict, RetryingSender, RetryPolicy, request_id
from recon.sources.pacing import CostBucket, requested_cost
from recon.sources.shopify_parse import (
    parse_balance_transaction,
    parse_gift_card,
    parse_order,
    parse_payout,
    parse_refund,
    quarantine_or,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
_AUTH_CODES = frozenset({"ACCESS_DENIED", "UNAUTHORIZED", "FORBIDDEN"})
# The sweep runs once per status: a plain AND query works on every search backend, and the two
# result sets are merged by id (shopify-admin-api.md §5).
REFUNDED_STATUSES = ("refunded", "partially_refunded")


def search_time(moment: datetime) -> str:
    """A timestamp for Shopify search syntax, quoted, UTC."""
    return "'" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def window_query(field: str, start: datetime, end: datetime) -> str:
    """``field:>='start' AND field:<'end'`` (a half-open window)."""
    return f"{field}:>={search_time(start)} AND {field}:<{search_time(end)}"


def gid(kind: str, numeric_id: str) -> str:
    """``gid://shopify/<kind>/<id>`` from a numeric id (a GID is passed through)."""
    return numeric_id if numeric_id.startswith("gid://") else f"gid://shopify/{kind}/{numeric_id}"


def _errors_of(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return [] if errors is None else [{"message": str(errors)}]
    return [error if isinstance(error, Mapping) else {"message": str(error)} for error in errors]


def _code(error: Mapping[str, Any]) -> str:
    extensions = error.get("extensions")
    return str(extensions.get("code", "")) if isinstance(extensions, Mapping) else ""


class ShopifyClient:
    """Reads Shopify (implements ``recon.ports.ShopifySource``) and runs any GraphQL document."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        base_url: str,
        api_version: str,
        token: str,
        clock: Clock,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self._token = token
        self._sender = RetryingSender(
            http, clock=clock, policy=policy, service="shopify", secrets=(token,)
        )
        self.bucket = CostBucket(clock)
        self.sizer = PageSizer()

    # --- transport -------------------------------------------------------------------------

    def execute(
        self, document: str, variables: Mapping[str, Any], *, write: bool = False
    ) -> dict[str, Any]:
        """Run one document; returns ``data``. ``userErrors`` are the caller's business.

        Raises:
            AuthError: 401/403 or ACCESS_DENIED.
            FatalHTTPError: top-level GraphQL errors (validation, partial data) or a bad body.
            OutcomeUnknownError: a write got no trustworthy answer (resend only with the same key).
            RetryExhaustedError: retriable failures outlasted the budget.
        """
        body, _ = self._post(document, variables, write=write)
        return body

    def _post(
        self, document: str, variables: Mapping[str, Any], *, write: bool
    ) -> tuple[dict[str, Any], Mapping[str, Any]]:
        """(data, extensions) of one document, paced to the cost bucket."""
        cost = estimate_cost(document, variables)
        request = self._http.build_request(
            "POST",
            self._url,
            json={"query": document, "variables": dict(variables)},
            headers={"X-Shopify-Access-Token": self._token, "Accept": "application/json"},
        )
        response = self._sender.send(
            request, write=write, check_body=self._check_body, pace=lambda: self.bucket.pace(cost)
        )
        body = self._json(response)
        extensions = body.get("extensions") if isinstance(body.get("extensions"), Mapping) else {}
        self.bucket.observe(extensions)
        errors = _errors_of(body)
        if errors:
            self._raise_errors(errors, response)
        data = body.get("data")
        if not isinstance(data, dict):
            raise FatalHTTPError(
                f"shopify: response without data (X-Request-Id {request_id(response)})"
            )
        return data, extensions or {}

    def _check_body(self, response: httpx.Response) -> BodyVerdict | None:
        """THROTTLED (any HTTP status) and INTERNAL_SERVER_ERROR in the body are retriable (§16)."""
        try:
            body = response.json()
        except ValueError:
            return None
        if not isinstance(body, Mapping):
            return None
        codes = {_code(error) for error in _errors_of(body)}
        if "THROTTLED" in codes:
            extensions = body.get("extensions")
            self.bucket.observe(extensions)
            # The cost check runs before execution: a throttled write did not run (§15).
            return BodyVerdict("THROTTLED", wait=self.bucket.throttled_wait(extensions))
        if "INTERNAL_SERVER_ERROR" in codes:
            return BodyVerdict("INTERNAL_SERVER_ERROR", executed=True)
        return None

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise FatalHTTPError(
                f"shopify: response is not JSON (X-Request-Id {request_id(response)})"
            ) from exc
        if not isinstance(body, dict):
            raise FatalHTTPError(f"shopify: unexpected body (X-Request-Id {request_id(response)})")
        return body

    @staticmethod
    def _raise_errors(errors: list[Mapping[str, Any]], response: httpx.Response) -> None:
        codes = {_code(error) for error in errors}
        messages = "; ".join(str(error.get("message", ""))[:200] for error in errors[:3])
        where = f"shopify (X-Request-Id {request_id(response)})"
        if codes & _AUTH_CODES:
            raise AuthError(f"{where}: access denied (missing scope?): {messages}")
        # Partial data is a failed page too: never advance a cursor past it (§16).
        raise FatalHTTPError(f"{where}: GraphQL errors {sorted(codes - {''})}: {messages}")

    # --- paging ----------------------------------------------------------------------------

    def _pages(
        self, name: str, variables: Mapping[str, Any], path: Sequence[str]
    ) -> Iterator[list[Any]]:
        """Every page of the connection at ``path``; cursor loops are refused."""
        document = load_document(name)
        first = self.sizer.size(document, "first", {**variables, "first": 0})
        after: str | None = None
        seen: set[str] = set()
        while True:
            page_vars = {**variables, "first": first, "after": after}
            data, extensions = self._post(document, page_vars, write=False)
            self._observe_cost(document, page_vars, extensions)
            connection: Any = data
            for key in path:
                connection = connection.get(key) if isinstance(connection, Mapping) else None
            if not isinstance(connection, Mapping):
                return  # e.g. shopifyPaymentsAccount is null: the shop has no Shopify Payments
            yield list(connection.get("nodes") or [])
            info = connection.get("pageInfo") or {}
            after = info.get("endCursor")
            if not info.get("hasNextPage") or not after:
                return
            if after in seen:
                raise CursorLoopError(f"shopify {name}: the server repeated cursor {after[:40]}")
            seen.add(after)

    def _observe_cost(
        self, document: str, variables: Mapping[str, Any], extensions: Mapping[str, Any]
    ) -> None:
        requested = requested_cost(extensions)
        if requested is not None:
            for size_var in ("first", "ids"):
                if size_var in variables:
                    self.sizer.observe(document, size_var, variables, requested)
                    return

    def _by_ids(self, name: str, kind: str, ids: Sequence[str]) -> Iterator[Mapping[str, Any]]:
        """Nodes of ``ids`` via ``nodes(ids:)`` in cost-sized chunks; unknown ids skipped."""
        document = load_document(name)
        unique = list(dict.fromkeys(gid(kind, str(value)) for value in ids))
        size = self.sizer.size(document, "ids", {"ids": []})
        for offset in range(0, len(unique), size):
            chunk = unique[offset : offset + size]
            data, extensions = self._post(document, {"ids": chunk}, write=False)
            self._observe_cost(document, {"ids": chunk}, extensions)
            for node in data.get("nodes") or []:
                if isinstance(node, Mapping) and node:
                    yield node

    def _follow(self, name: str, field: str, node: Mapping[str, Any]) -> list[Any]:
        """Inner-connection pages beyond the first (``node(id:)`` paging, §7)."""
        info = (node.get(field) or {}).get("pageInfo") or {}
        if not info.get("hasNextPage") or not isinstance(node.get("id"), str):
            return []
        extra: list[Any] = []
        variables = {"id": node["id"], "after": info.get("endCursor")}
        for page in self._follow_pages(name, field, variables):
            extra.extend(page)
        return extra

    def _follow_pages(
        self, name: str, field: str, variables: Mapping[str, Any]
    ) -> Iterator[list[Any]]:
        document = load_document(name)
        first = self.sizer.size(document, "first", {**variables, "first": 0})
        after = variables.get("after")
        seen: set[str] = set()
        while after:
            if after in seen:
                raise CursorLoopError(f"shopify {name}: the server repeated cursor {after[:40]}")
            seen.add(after)
            data, _ = self._post(
                document, {**variables, "first": first, "after": after}, write=False
            )
            connection = ((data.get("node") or {}).get(field)) or {}
            yield list(connection.get("nodes") or [])
            info = connection.get("pageInfo") or {}
            after = info.get("endCursor") if info.get("hasNextPage") else None

    # --- ShopifySource ---------------------------------------------------------------------

    def iter_orders_by_id(self, ids: Sequence[str]) -> Iterator[OrderRecord | Quarantined]:
        """Orders by numeric id; ids that do not resolve (deleted, > 60 days) are skipped."""
        for node in self._by_ids("OrdersById", "Order", ids):
            extra = self._follow("OrderLineItemsPage", "lineItems", node)
            yield quarantine_or("order", node, partial(parse_order, extra_lines=extra))

    def iter_refunded_orders(
        self, start: datetime, end: datetime
    ) -> Iterator[OrderRecord | Quarantined]:
        """Orders updated in [start, end) that are refunded or partially refunded, each once."""
        seen: set[str] = set()
        for status in REFUNDED_STATUSES:
            query = f"{window_query('updated_at', start, end)} AND financial_status:{status}"
            for page in self._pages("OrdersPage", {"query": query}, ("orders",)):
                for node in page:
                    item = quarantine_or("order", node, parse_order)
                    key = item.id if isinstance(item, OrderRecord) else f"q:{item.record_id}"
                    if key not in seen:
                        seen.add(key)
                        yield item

    def iter_refunds_by_id(self, ids: Sequence[str]) -> Iterator[RefundRecord | Quarantined]:
        """Refunds with all their lines and transactions (inner connections followed)."""
        for node in self._by_ids("RefundsById", "Refund", ids):
            lines = self._follow("RefundLineItemsPage", "refundLineItems", node)
            transactions = self._follow("RefundTransactionsPage", "transactions", node)
            yield quarantine_or(
                "refund",
                node,
                lambda n: parse_refund(n, lines, transactions),  # noqa: B023
            )

    def iter_payouts(self, start: datetime, end: datetime) -> Iterator[PayoutRecord | Quarantined]:
        """Shopify Payments payouts issued in [start, end)."""
        variables = {"query": window_query("issued_at", start, end)}
        path = ("shopifyPaymentsAccount", "payouts")
        for page in self._pages("Payouts", variables, path):
            yield from (quarantine_or("payout", node, parse_payout) for node in page)

    def iter_balance_transactions(
        self, start: datetime, end: datetime
    ) -> Iterator[BalanceTransactionRecord | Quarantined]:
        """Balance transactions processed in [start, end) (no payout_id filter exists, §13)."""
        variables = {"query": window_query("processed_at", start, end)}
        path = ("shopifyPaymentsAccount", "balanceTransactions")
        for page in self._pages("BalanceTransactions", variables, path):
            for node in page:
                yield quarantine_or("balance_transaction", node, parse_balance_transaction)

    def iter_gift_cards(
        self, start: datetime, end: datetime
    ) -> Iterator[GiftCardRecord | Quarantined]:
        """Gift cards created in [start, end) by an API client (Loop's store credit, §12)."""
        query = f"source:api_client AND {window_query('created_at', start, end)}"
        for page in self._pages("GiftCards", {"query": query}, ("giftCards",)):
            yield from (quarantine_or("gift_card", node, parse_gift_card) for node in page)

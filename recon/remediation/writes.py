"""Typed Shopify reads and writes for remediation, behind the small ``ShopifyGateway`` port.

``GraphQLGateway`` implements the port with the documents in ``recon/sources/graphql/mutations``
over any ``execute(document, variables, write)`` (``ShopifyClient.execute``). Write calls return
the mutation's raw payload so the executor can mark the moment between "sent" and "parsed"; the
``parse_*`` functions turn payloads into ``WriteResult``. Facts: shopify-admin-api.md §9-§11, §16.
The pure building of write inputs is in ``recon.remediation.write_inputs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from recon.errors import FatalHTTPError, SourceError
from recon.money import parse_amount
from recon.sources.documents import with_idempotency_key
from recon.sources.shopify_answers import Misshapen, nodes_by_id
from recon.sources.shopify_checks import CostExceededError

_DOCUMENTS = Path(__file__).resolve().parent.parent / "sources" / "graphql" / "mutations"

Execute = Callable[[str, dict[str, Any], bool], dict[str, Any]]


def gid(kind: str, numeric_id: str) -> str:
    """The global id of a numeric Shopify id (``gid://shopify/Order/1``); a gid passes through."""
    return numeric_id if numeric_id.startswith("gid://") else f"gid://shopify/{kind}/{numeric_id}"


def tail(global_id: str) -> str:
    """The numeric tail of a gid (models keep numeric ids, shopify-admin-api.md §4)."""
    return global_id.rsplit("/", 1)[-1]


def load_document(name: str) -> str:
    """The text of one of remediation's GraphQL documents, e.g. ``RefundCreate``."""
    return (_DOCUMENTS / f"{name}.graphql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class OrderRefund:
    id: str
    note: str | None
    amount: Decimal | None  # presentment


@dataclass(frozen=True)
class OrderRefunds:
    """An order's currencies and its refunds as re-read right before a refund write."""

    order_id: str
    shop_currency: str
    presentment_currency: str
    refunds: tuple[OrderRefund, ...]
    test: bool = False  # ``Order.test``: a test order moved no money (nothing to refund)


@dataclass(frozen=True)
class SuggestedTransaction:
    gateway: str
    parent_id: str | None
    amount: Decimal  # presentment
    maximum_refundable: Decimal  # presentment


@dataclass(frozen=True)
class SuggestedRefund:
    """``Order.suggestedRefund`` for the planned lines, in presentment money unless named shop."""

    shop_currency: str
    presentment_currency: str
    amount: Decimal
    amount_shop: Decimal
    maximum_refundable: Decimal
    transactions: tuple[SuggestedTransaction, ...]


@dataclass(frozen=True)
class LineItemStock:
    line_item_id: str
    inventory_item_id: str | None
    tracked: bool
    available: int | None  # None: the item is not stocked at the location


@dataclass(frozen=True)
class UserErrorInfo:
    message: str
    code: str | None = None
    field: tuple[str, ...] = ()


@dataclass(frozen=True)
class WriteResult:
    """A parsed mutation payload: the created object's id, or Shopify's userErrors."""

    result_id: str | None
    errors: tuple[UserErrorInfo, ...]

    @property
    def ok(self) -> bool:
        return not self.errors and self.result_id is not None


class ShopifyGateway(Protocol):
    """What remediation needs from Shopify. Ids are gids; writes return the raw mutation payload.

    A write whose outcome is unknown (5xx, timeout, reset) raises ``OutcomeUnknownError``.
    """

    def order_refunds(self, order_gid: str) -> OrderRefunds:
        """The order's currencies and refunds with their notes."""
        ...

    def order_test(self, order_gid: str) -> bool:
        """Whether the order is a Shopify test order (``Order.test``)."""
        ...

    def suggested_refund(self, order_gid: str, lines: Sequence[dict[str, Any]]) -> SuggestedRefund:
        """What Shopify suggests for these ``RefundLineItemInput``s."""
        ...

    def create_refund(self, refund_input: dict[str, Any], key: str) -> dict[str, Any]:
        """``refundCreate`` under ``@idempotent(key:)``; returns the ``refundCreate`` payload."""
        ...

    def line_item_inventory(
        self, line_item_gids: Sequence[str], location_gid: str
    ) -> list[LineItemStock]:
        """Inventory item and ``available`` at the location of each line item."""
        ...

    def adjust_inventory(self, adjust_input: dict[str, Any], key: str) -> dict[str, Any]:
        """``inventoryAdjustQuantities`` under ``@idempotent(key:)``; returns its payload."""
        ...

    def add_tags(self, order_gid: str, tags: Sequence[str]) -> dict[str, Any]:
        """``tagsAdd`` on the order; returns its payload."""
        ...


_SUGGESTED = "suggestedRefund."
_TXN = "suggestedRefund.suggestedTransactions."


def _money(
    bag: dict[str, Any] | None, which: str = "presentmentMoney", *, field: str = "", where: str = ""
) -> Decimal:
    """``bag[which]``'s amount; the error names ``where`` (the order) and ``field`` (the
    answer's field), so a refund held for review says what to look at."""
    if not bag or not bag.get(which):
        named = f"{field}.{which}" if field else which
        raise FatalHTTPError(f"{where + ': ' if where else ''}Shopify answer lacks {named}")
    return parse_amount(bag[which]["amount"])


def _test_flag(order: dict[str, Any], order_gid: str) -> bool:
    flag = order.get("test")
    if not isinstance(flag, bool):
        raise FatalHTTPError(f"order {order_gid}: Shopify's answer lacks test (got {flag!r})")
    return flag


def _user_errors(payload: dict[str, Any]) -> tuple[UserErrorInfo, ...]:
    return tuple(
        UserErrorInfo(str(e.get("message", "")), e.get("code"), tuple(e.get("field") or ()))
        for e in payload.get("userErrors") or ()
    )


def parse_refund_payload(payload: dict[str, Any]) -> WriteResult:
    """Parse a ``refundCreate`` payload (userErrors mean no refund was created, §16)."""
    refund = payload.get("refund") or {}
    return WriteResult(refund.get("id"), _user_errors(payload))


def parse_adjust_payload(payload: dict[str, Any]) -> WriteResult:
    """Parse an ``inventoryAdjustQuantities`` payload."""
    group = payload.get("inventoryAdjustmentGroup") or {}
    return WriteResult(group.get("id"), _user_errors(payload))


def parse_tags_payload(payload: dict[str, Any]) -> WriteResult:
    """Parse a ``tagsAdd`` payload."""
    node = payload.get("node") or {}
    return WriteResult(node.get("id"), _user_errors(payload))


@contextmanager
def _parsing(document: str, subject: str) -> Iterator[None]:
    """A malformed answer to one of remediation's reads fails that read, naming what was read
    (``subject``: the order, or the line items) and the document. An exception of Python's
    own (a missing key, a null object, an amount that is no number) stopped the whole run, and
    every run after it, with no report; the executor sends the one write to review instead.

    Raises:
        FatalHTTPError: the answer does not have the shape the document asks for.
    """
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # MoneyError: ValueError
        raise FatalHTTPError(
            f"{subject}: Shopify's {document} answer is malformed ({type(exc).__name__}: {exc})"
        ) from exc


def _gateway(transaction: dict[str, Any], order_gid: str) -> str:
    """A suggested transaction's gateway: its own, else its parent transaction's.

    ``SuggestedOrderTransaction.gateway`` is nullable in the schema while the refund's
    ``OrderTransactionInput.gateway`` is required: a null copied through made Shopify refuse
    the whole refundCreate. The refund goes back through its parent's gateway; with neither
    named, the answer is refused here (the write goes to review), naming the field.

    Raises:
        FatalHTTPError: neither the suggestion nor its parent names a gateway.
    """
    gateway = transaction["gateway"] or (transaction.get("parentTransaction") or {}).get("gateway")
    if not isinstance(gateway, str) or not gateway:
        raise FatalHTTPError(
            f"order {order_gid}: suggestedTransactions[].gateway is null and its "
            "parentTransaction names none; a refund cannot be built without one"
        )
    return gateway


# Refunds read per order before a refund write; fewer when the cost cap refuses that many.
REFUNDS_FIRST, REFUNDS_FALLBACK = 250, 50


class GraphQLGateway:
    """``ShopifyGateway`` over a GraphQL ``execute(document, variables, write) -> data``."""

    def __init__(self, execute: Execute) -> None:
        self._execute = execute

    def _order(self, name: str, order_gid: str, variables: dict[str, Any]) -> dict[str, Any]:
        order = self._execute(load_document(name), {"orderId": order_gid, **variables}, False).get(
            "order"
        )
        if not order:
            raise FatalHTTPError(f"order {order_gid} not found (or older than 60 days, §1)")
        return dict(order)

    def order_refunds(self, order_gid: str) -> OrderRefunds:
        """The order's refunds with their notes (all of them, or an error: never a cut list).

        Raises:
            FatalHTTPError: the order is gone, or only a list that may be cut short was readable.
        """
        try:
            order = self._order("OrderRefundNotes", order_gid, {"first": REFUNDS_FIRST})
            # ``refunds(first:)`` is a plain list, cut silently at its size (§7): one that
            # fills it may hold more, and the RMA's marker could be past the cut. The sync
            # holds such an order's writes; this covers one that reached 250 since.
            if len(order.get("refunds") or ()) >= REFUNDS_FIRST:
                raise FatalHTTPError(
                    f"order {order_gid}: {REFUNDS_FIRST} refunds or more; the list may be "
                    "incomplete"
                )
        except CostExceededError:
            # The cost model priced 250 refunds over Shopify's cap (its costs are estimates
            # that can change): read fewer. A list that fills the smaller size may be cut
            # short, so it is not trusted: a missed marker would mean paying twice.
            order = self._order("OrderRefundNotes", order_gid, {"first": REFUNDS_FALLBACK})
            if len(order.get("refunds") or ()) >= REFUNDS_FALLBACK:
                raise FatalHTTPError(
                    f"order {order_gid}: {REFUNDS_FALLBACK} refunds or more, and the cost cap "
                    f"refused reading {REFUNDS_FIRST}; the list may be incomplete"
                ) from None
        with _parsing("OrderRefundNotes", f"order {order_gid}"):
            refunds = tuple(
                OrderRefund(r["id"], r.get("note"), _money(r.get("totalRefundedSet")))
                for r in order.get("refunds") or ()
            )
            return OrderRefunds(
                order["id"],
                order["currencyCode"],
                order["presentmentCurrencyCode"],
                refunds,
                _test_flag(order, order_gid),
            )

    def order_test(self, order_gid: str) -> bool:
        """``Order.test`` as Shopify answers it now.

        Raises:
            FatalHTTPError: the order is gone, or the answer carries no ``test``.
        """
        return _test_flag(self._order("OrderTest", order_gid, {}), order_gid)

    def suggested_refund(self, order_gid: str, lines: Sequence[dict[str, Any]]) -> SuggestedRefund:
        """What Shopify suggests refunding for these lines (§9).

        Raises:
            FatalHTTPError: the order is gone, Shopify suggested nothing (``suggestedRefund`` is
                nullable), or the answer is malformed.
        """
        order = self._order("SuggestedRefund", order_gid, {"refundLineItems": list(lines)})
        suggested = order.get("suggestedRefund")
        if not isinstance(suggested, dict):
            raise FatalHTTPError(
                f"order {order_gid}: Shopify suggested no refund for the lines "
                f"(suggestedRefund is {suggested!r})"
            )
        at = f"order {order_gid}"
        with _parsing("SuggestedRefund", at):
            transactions = tuple(
                SuggestedTransaction(
                    gateway=_gateway(t, order_gid),
                    parent_id=(t.get("parentTransaction") or {}).get("id"),
                    amount=_money(t.get("amountSet"), field=_TXN + "amountSet", where=at),
                    # Nullable in the schema (2026-01, 2026-04); what null means is not
                    # documented, so no cap is guessed: the refund waits for review.
                    maximum_refundable=_money(
                        t.get("maximumRefundableSet"), field=_TXN + "maximumRefundableSet", where=at
                    ),
                )
                for t in suggested.get("suggestedTransactions") or ()
            )
            return SuggestedRefund(
                shop_currency=order["currencyCode"],
                presentment_currency=order["presentmentCurrencyCode"],
                amount=_money(suggested["amountSet"], field=_SUGGESTED + "amountSet", where=at),
                amount_shop=_money(
                    suggested["amountSet"], "shopMoney", field=_SUGGESTED + "amountSet", where=at
                ),
                maximum_refundable=_money(
                    suggested["maximumRefundableSet"],
                    field=_SUGGESTED + "maximumRefundableSet",
                    where=at,
                ),
                transactions=transactions,
            )

    def create_refund(self, refund_input: dict[str, Any], key: str) -> dict[str, Any]:
        # The key travels as a literal in the document (``with_idempotency_key``, §10).
        document = with_idempotency_key(load_document("RefundCreate"), key)
        return _payload(self._execute(document, {"input": refund_input}, True), "refundCreate")

    def line_item_inventory(
        self, line_item_gids: Sequence[str], location_gid: str
    ) -> list[LineItemStock]:
        variables = {"ids": list(line_item_gids), "locationId": location_gid}
        nodes = self._execute(load_document("LineItemInventory"), variables, False).get("nodes")
        found = nodes_by_id("LineItemInventory", variables["ids"], nodes)
        if isinstance(found, Misshapen):
            # Not "no such line" (the restock would go to review as not stocked): a read that
            # failed, so the restock waits for the next run (``IntentRecorder._unreadable``).
            raise SourceError(found.reason)
        subject = f"line items {', '.join(variables['ids'])} at {location_gid}"
        with _parsing("LineItemInventory", subject):
            return [_stock(node) for node in found.values()]

    def adjust_inventory(self, adjust_input: dict[str, Any], key: str) -> dict[str, Any]:
        document = with_idempotency_key(load_document("InventoryAdjust"), key)
        data = self._execute(document, {"input": adjust_input}, True)
        return _payload(data, "inventoryAdjustQuantities")

    def add_tags(self, order_gid: str, tags: Sequence[str]) -> dict[str, Any]:
        data = self._execute(load_document("TagsAdd"), {"id": order_gid, "tags": list(tags)}, True)
        return _payload(data, "tagsAdd")


def _payload(data: Mapping[str, Any], field: str) -> dict[str, Any]:
    """A mutation's payload once the write was sent; ``{}`` when Shopify answered it null or
    left it out with no error. Nothing then says whether the write happened: the empty payload
    classifies as an outcome unknown (``classify_write``), which the next run re-reads before
    any resend. A ``dict(None)`` here stopped the run with the intent still sending."""
    value = data.get(field)
    return dict(value) if isinstance(value, Mapping) else {}


def _stock(node: Mapping[str, Any]) -> LineItemStock:
    item = (node.get("variant") or {}).get("inventoryItem") or {}
    level = item.get("inventoryLevel")
    available = None
    if level is not None:
        quantities = {q["name"]: int(q["quantity"]) for q in level.get("quantities") or ()}
        available = quantities.get("available")
    return LineItemStock(node["id"], item.get("id"), bool(item.get("tracked")), available)

"""Right before a write: re-read Shopify, run the guards, build the mutation's variables.

The executor decides and sends; this reads and checks (DESIGN decision 8, shopify-admin-api.md
§9-§11): a refund recon did not write that carries the RMA's marker, a refund that appeared
since the plan, the caps, a unit restocked twice, a Shopify test order (``Order.test``: no
refund, restock or tag is written to one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from recon.config import RemediationSettings
from recon.errors import RemediationError
from recon.remediation.facts import (
    never_run,
    recon_refund_ids,
    refund_rmas_in_flight,
    restocked_units,
    restocks_in_flight,
)
from recon.remediation.guards import (
    new_refunds_reason,
    resend_overrefund_reason,
    restock_conflict_reason,
    restock_twice_reason,
    test_order_reason,
)
from recon.remediation.planner import ActionKind, ActionState, refund_cap_reason
from recon.remediation.verdicts import Intent, Verdict
from recon.remediation.write_inputs import (
    allocate_transactions,
    note_names_rma,
    presentment_amount,
    refund_line_inputs,
    restock_input,
)
from recon.remediation.writes import OrderRefunds, ShopifyGateway, gid, tail

S = ActionState


@dataclass(frozen=True)
class WritePreparer:
    """The reads and checks before one intent's write (``Executor`` holds one).

    Unless ``include_test_orders``, a refund, restock or tag to an order Shopify now says is a
    test order goes to review unsent, whatever the mirror said when it was planned.
    """

    sessions: Callable[[], Session]
    gateway: ShopifyGateway
    settings: RemediationSettings
    shop: str
    include_test_orders: bool = False

    def recheck_in_flight_refund(self, intent: Intent, variables: dict[str, Any]) -> Verdict | None:
        """Done if the refund is there; review if the order changed so a resend could overpay.

        A resend past the key's retention window is a new refund (§10), so before it: no other
        refund may have appeared and the stored amount must still be refundable.
        """
        order_gid = gid("Order", intent.order_id)
        order = self.gateway.order_refunds(order_gid)
        found = self._marked_refund(intent, order, in_flight=True)
        if found is not None:
            return found
        test = self.test_order(intent, order.test, resend=True)
        if test is not None:
            return test
        lines = variables["input"].get("refundLineItems", [])
        # The planned lines the variables were built from (``_prepare_refund``) say how many
        # units of each line recon had restocked when it was planned (``ledger_units``): the
        # inputs alone do not, and any earlier restock of another unit of the line (left out
        # of the refund, NO_RESTOCK) sent the resend to review for good.
        guard = self._refund_guard(intent, order, intent.details.get("lines") or lines)
        if guard is not None:
            return guard
        over = resend_overrefund_reason(variables, self.gateway.suggested_refund(order_gid, lines))
        return None if over is None else Verdict(S.NEEDS_REVIEW, over)

    def prepare(self, intent: Intent) -> dict[str, Any] | Verdict:
        """The variables of a first send, or why it goes to review (the reads and checks)."""
        if intent.kind is ActionKind.REFUND:
            return self._prepare_refund(intent)
        if intent.kind is ActionKind.RESTOCK:
            return self._prepare_restock(intent)
        # A tag moves no money or stock, but a test order gets no write at all: read the flag.
        return self.test_order(intent) or {
            "id": gid("Order", intent.order_id),
            "tags": list(intent.details["tags"]),
        }

    def test_order(
        self, intent: Intent, test: bool | None = None, *, resend: bool = False
    ) -> Verdict | None:
        """Review, unsent, if Shopify says the order is a test order (``test``: as just re-read;
        None reads it now). A development store (``include_test_orders``) writes to them.

        Raises:
            SourceError: the order could not be read.
        """
        if self.include_test_orders:
            return None
        if test is None:
            test = self.gateway.order_test(gid("Order", intent.order_id))
        why = test_order_reason(intent.order_id, test)
        if why is not None and resend:
            why = why.replace("not sent:", "not resent:", 1)
        return None if why is None else Verdict(S.NEEDS_REVIEW, why)

    def _marked_refund(
        self, intent: Intent, order: OrderRefunds, *, in_flight: bool
    ) -> Verdict | None:
        """A refund on the order whose note carries this RMA's marker.

        For an intent in flight (sent by an earlier run, outcome unknown) it is that write: done.
        Before the first send recon cannot have written it: someone else did, and tonight's
        findings still say the money is owed (it moved none, or Loop's record disputes its
        note: AMBIGUOUS_RMA). Marking the intent done would leave that money unpaid with nothing
        saying so; a human decides.
        """
        marker = self.settings.note_template.format(rma=intent.rma)
        for refund in order.refunds:
            if not note_names_rma(refund.note, marker):
                continue
            if not in_flight:
                return Verdict(
                    S.NEEDS_REVIEW,
                    f"refund {refund.id} carries {marker!r}, but recon has not sent this refund "
                    "yet and the money is still owed: someone else wrote it",
                )
            return Verdict(S.DONE, f"refund {refund.id} already carries {marker!r}", refund.id)
        return None

    def _refund_guard(
        self, intent: Intent, order: OrderRefunds, lines: Sequence[dict[str, Any]]
    ) -> Verdict | None:
        """Review instead of a refund that is over its cap, paid meanwhile or restocks twice."""
        if intent.amount is None or intent.currency is None:
            return Verdict(S.NEEDS_REVIEW, "refund intent without an amount")
        with self.sessions() as session:
            own = set(recon_refund_ids(session, self.shop, intent.order_id))
            own |= self._in_flight_refunds(session, intent, order)
            restocked = restocked_units(session, self.shop, rma=intent.rma)
            for key, units in restocks_in_flight(session, self.shop, intent.rma).items():
                restocked[key] = (*restocked.get(key, ()), *units)  # may have landed
        reasons = (
            refund_cap_reason(intent.amount, intent.currency, self.settings),
            new_refunds_reason(intent, order, own),
            restock_conflict_reason(intent.rma, lines, restocked),
        )
        why = next((r for r in reasons if r is not None), None)
        return None if why is None else Verdict(S.NEEDS_REVIEW, why)

    def _in_flight_refunds(self, session: Session, intent: Intent, order: OrderRefunds) -> set[str]:
        """Numeric ids of the order's refunds that carry the marker of another RMA whose refund
        intent recon sent without an answer yet (a lost answer: the refund is recon's own).

        Without this, a return's refund sent in the same run as another return's whose answer
        was lost went to review for good as "refunded manually meanwhile", and its money
        waited for a human though recon had written nothing twice.

        Only a note that is exactly the marker counts: recon writes nothing else on its
        refunds. A note that names the in-flight RMA among others ("Loop RMA #701 + #703, by
        hand") is a person's refund, maybe of the very return about to be paid: taken for
        recon's own, that return was paid twice.
        """
        rmas = refund_rmas_in_flight(session, self.shop, intent.order_id) - {intent.rma}
        markers = {self.settings.note_template.format(rma=rma).strip() for rma in rmas}
        return {
            tail(refund.id) for refund in order.refunds if (refund.note or "").strip() in markers
        }

    def _refunds_so_far(self, intent: Intent, order: OrderRefunds) -> str:
        """The refunds on the order, recon's named with their RMA, for a refund the order can
        no longer pay. The guards ran first, so none appeared since the plan: the order's
        money went to refunds known when it was planned, or to recon's own (another return's).
        This said "refunded manually meanwhile", which reads as this return paid: it is not."""
        with self.sessions() as session:
            ours = recon_refund_ids(session, self.shop, intent.order_id)
        named = [
            f"{r.id} (recon's, RMA {ours[tail(r.id)]})" if tail(r.id) in ours else r.id
            for r in order.refunds
        ]
        return "the order's refunds so far: " + ", ".join(named)

    def _prepare_refund(self, intent: Intent) -> dict[str, Any] | Verdict:
        """Re-read the order, check caps, currency and stock; build refundCreate variables (§9)."""
        order_gid = gid("Order", intent.order_id)
        order = self.gateway.order_refunds(order_gid)
        found = self.test_order(intent, order.test) or self._marked_refund(
            intent, order, in_flight=False
        )
        if found is not None:
            return found
        guard = self._refund_guard(intent, order, intent.details["lines"])
        if guard is not None or intent.amount is None or intent.currency is None:
            return guard or Verdict(S.NEEDS_REVIEW, "refund intent without an amount")
        lines = refund_line_inputs(intent.details["lines"])
        suggested = self.gateway.suggested_refund(order_gid, lines)
        try:
            amount = presentment_amount(intent.amount, intent.currency, suggested)
            transactions = allocate_transactions(order_gid, amount, suggested)
        except RemediationError as exc:
            if order.refunds and "over-refund" in str(exc):
                return Verdict(S.NEEDS_REVIEW, f"{exc}; {self._refunds_so_far(intent, order)}")
            return Verdict(S.NEEDS_REVIEW, str(exc))
        refund_input = {
            "orderId": order_gid,
            "note": self.settings.note_template.format(rma=intent.rma),
            "notify": False,
            "currency": suggested.presentment_currency,
            "refundLineItems": lines,
            "transactions": transactions,
        }
        return {"input": refund_input, "idempotencyKey": intent.key}

    def _prepare_restock(self, intent: Intent) -> dict[str, Any] | Verdict:
        """Unless a unit of it was restocked meanwhile, read ``available``: the CAS (§11)."""
        details = intent.details
        with self.sessions() as session:
            done = restocked_units(session, self.shop, rma=intent.rma)
            again = restock_twice_reason(intent.rma, details, done)
        if again is not None:
            return Verdict(S.NEEDS_REVIEW, again)
        test = self.test_order(intent)
        if test is not None:
            return test
        stock = self._stock(intent)
        if isinstance(stock, Verdict):
            return stock
        item, available = stock
        location_gid = gid("Location", str(details["location_id"]))
        adjust = restock_input(intent.rma, item, location_gid, int(details["quantity"]), available)
        return {"input": adjust, "idempotencyKey": intent.key}

    def restock_resend(self, intent: Intent, variables: dict[str, Any]) -> dict[str, Any] | Verdict:
        """The variables to resend an in-flight restock with, or why it goes to review.

        A restock none of whose sends Shopify ran (each THROTTLED: the cost check comes before
        execution, shopify-admin-api.md §15, §17) wrote nothing, but the ``available`` it
        compares from was read before the first send, a night or more ago: any sale since
        made Shopify refuse the resend as stale (§11) and the unit was never put back. So
        ``available`` is read again, and the resend (same key, same units) compares from it.
        After any send whose outcome is not known the stored variables go out unchanged: the
        same key and variables answer with a restock that landed, and a figure read after it
        would be a second write (a key reuse, or past the key's retention a second unit).

        Raises:
            SourceError: the stock could not be read.
        """
        with self.sessions() as session:
            if not never_run(session, intent.id):
                return variables
        stock = self._stock(intent, resend=True)
        if isinstance(stock, Verdict):
            return stock
        item, available = stock
        (change,) = variables["input"]["changes"]
        if item != change["inventoryItemId"]:
            return Verdict(
                S.NEEDS_REVIEW,
                f"not resent: line item {intent.details['line_item_id']} is inventory item "
                f"{item} now, not {change['inventoryItemId']} as first sent",
            )
        fresh = {**change, "changeFromQuantity": available}
        return {**variables, "input": {**variables["input"], "changes": [fresh]}}

    def _stock(self, intent: Intent, *, resend: bool = False) -> tuple[str, int] | Verdict:
        """The restock's inventory item and its ``available`` at the restock's location now
        (§11), or why it goes to review.

        Raises:
            SourceError: the stock could not be read.
        """
        line_gid = gid("LineItem", str(intent.details["line_item_id"]))
        location_gid = gid("Location", str(intent.details["location_id"]))
        stock = next(
            (
                s
                for s in self.gateway.line_item_inventory([line_gid], location_gid)
                if s.line_item_id == line_gid
            ),
            None,
        )
        unsent = "not resent: " if resend else ""
        if stock is None or stock.inventory_item_id is None or stock.available is None:
            return Verdict(S.NEEDS_REVIEW, f"{unsent}{line_gid} is not stocked at {location_gid}")
        if not stock.tracked:
            return Verdict(S.NEEDS_REVIEW, f"{unsent}inventory of {line_gid} is not tracked")
        return stock.inventory_item_id, stock.available

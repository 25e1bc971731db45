"""What must hold of a sandbox shop after any night of recon, faults or not: the chaos checks.

Each check reads the emulators' own state (what Shopify would show a merchant), recon's intent
ledger and mirror, and a ``Baseline`` taken before recon first ran; it returns the violations
found, each naming the invariant and the RMA, never raising. The world's plants may already break
a rule before recon runs (a planted duplicate refund, say), so money and stock are checked
against the larger of the baseline and what Loop says: recon must never add to either.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from recon.models import CLOSED_STATUSES, Category, Finding
from recon.remediation.actions import TERMINAL_STATES, ActionState
from recon.remediation.ledger import ActionView
from recon.remediation.write_inputs import note_names_rma
from recon.sandbox.scoring import score
from recon.sandbox.state import SandboxState
from recon.sandbox.truth import GroundTruth
from recon.sandbox.world import Order, Refund, TransactionStatus
from recon.sandbox.world_loop import LoopState

# The categories whose planted findings recon's writes fix (a refund, a restock). An order tag
# for STATUS_DRIFT annotates the order but leaves its return status open: the finding stays.
FIXED = frozenset({Category.MISSING_REFUND, Category.MISSING_RESTOCK})
_NO_MONEY = frozenset({TransactionStatus.FAILURE, TransactionStatus.ERROR})
_NOT_RESTOCKABLE = frozenset({LoopState.CANCELLED, LoopState.EXPIRED})
_NAMES_RMA = re.compile(r"(?:RMA #|LoopReturn/)(\d+)")


@dataclass(frozen=True)
class Violation:
    """One broken invariant: which, about which RMA (None: not about one), and the figures."""

    invariant: str
    rma: str | None
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: RMA {self.rma or '-'}: {self.detail}"


@dataclass(frozen=True)
class Baseline:
    """The shop before recon's first write: money per RMA, units per (order, item), ids."""

    refunded: Mapping[str, Decimal]
    restocked: Mapping[tuple[str, str], int]
    refund_ids: frozenset[str]
    adjustment_ids: frozenset[str]


def take_baseline(state: SandboxState) -> Baseline:
    """What the shop shows before recon runs (call right after building the world)."""
    return Baseline(
        refunded=refunded_per_rma(state),
        restocked=restocked_per_item(state),
        refund_ids=frozenset(r.id for o in state.world.orders for r in o.refunds),
        adjustment_ids=frozenset(g.id for g in adjustments(state)),
    )


def extend_baseline(base: Baseline, state: SandboxState, order_ids: Iterable[str]) -> Baseline:
    """``base`` plus what the world itself wrote on ``order_ids`` since (orders that arrived
    while the shop ran, ``recon.sandbox.arrivals``): their refunds are not recon's writes.
    Call before recon's next run."""
    ids = set(order_ids)
    orders = [state.orders_by_id[i] for i in sorted(ids) if i in state.orders_by_id]
    rmas = {r.id for r in state.world.loop_returns if r.provider_order_id in ids}
    refunded, restocked = refunded_per_rma(state), restocked_per_item(state)
    return Baseline(
        refunded={**base.refunded, **{r: v for r, v in refunded.items() if r in rmas}},
        restocked={**base.restocked, **{k: v for k, v in restocked.items() if k[0] in ids}},
        refund_ids=base.refund_ids | {r.id for o in orders for r in o.refunds},
        adjustment_ids=base.adjustment_ids,
    )


def adjustments(state: SandboxState) -> list[Any]:
    """The stock movements the Shopify emulator applied (``AdjustmentGroup``s), oldest first."""
    return list(getattr(state, "inventory_adjustments", ()))


def _refund_paid(order: Order, refund: Refund) -> Decimal:
    return sum(
        (
            t.amount
            for t in order.transactions
            if t.refund_id == refund.id and t.status not in _NO_MONEY
        ),
        Decimal(0),
    )


def refunded_per_rma(state: SandboxState) -> dict[str, Decimal]:
    """Money refunded (presentment currency) by the refunds whose note names each RMA."""
    totals: dict[str, Decimal] = {}
    for ret in state.world.loop_returns:
        order = state.orders_by_id.get(ret.provider_order_id)
        if order is None:
            continue
        marker = f"Loop RMA #{ret.id}"
        named = [r for r in order.refunds if note_names_rma(r.note, marker)]
        totals[ret.id] = sum((_refund_paid(order, r) for r in named), Decimal(0))
    return totals


def _items(order: Order) -> dict[str, str]:
    return {li.id: li.inventory_item_id or "" for li in order.line_items}


def restocked_per_item(
    state: SandboxState, ledger: Iterable[ActionView] = ()
) -> dict[tuple[str, str], int]:
    """Units put back per (order, inventory item): restocked refund lines on the order that
    holds them, plus ``inventoryAdjustQuantities`` movements. A movement holds no order: it
    counts on the order Loop names for the RMA of the intent behind it (its key in ``ledger``),
    or, with no intent behind it, for the RMA its reference names."""
    units: Counter[tuple[str, str]] = Counter()
    for order in state.world.orders:
        items = _items(order)
        for refund in order.refunds:
            for line in refund.lines:
                if line.restocked:
                    units[(order.id, items.get(line.line_item_id, ""))] += line.quantity
    order_of = {r.id: r.provider_order_id for r in state.world.loop_returns}
    by_key = restock_rmas(ledger)
    for group in adjustments(state):
        order_id = order_of.get(movement_rma(group, by_key) or "")
        if group.source == "inventoryAdjustQuantities" and order_id is not None:
            for change in group.changes:
                units[(order_id, change.inventory_item_id)] += change.delta
    return dict(units)


def restock_rmas(ledger: Iterable[ActionView]) -> dict[str, str]:
    """The RMA of each restock intent, by its key."""
    return {a.key: a.rma for a in ledger if a.kind == "restock" and a.rma}


def movement_rma(group: Any, rma_by_key: Mapping[str, str]) -> str | None:
    """The RMA a stock movement is for: its intent's (by key), else its reference's."""
    if group.idempotency_key in rma_by_key:
        return rma_by_key[group.idempotency_key]
    named = _NAMES_RMA.search(group.reference_document_uri or "")
    return named.group(1) if named else None


def returned_per_item(state: SandboxState) -> dict[tuple[str, str], int]:
    """Units returned per (order, inventory item) over the order's returns that may restock."""
    units: Counter[tuple[str, str]] = Counter()
    for ret in state.world.loop_returns:
        order = state.orders_by_id.get(ret.provider_order_id)
        if order is None or ret.state in _NOT_RESTOCKABLE:
            continue
        items = _items(order)
        for unit in ret.line_items:
            units[(order.id, items.get(unit.provider_line_item_id, ""))] += 1
    return dict(units)


def check_money(state: SandboxState, base: Baseline) -> list[Violation]:
    """No RMA refunded more than Loop refunded (beyond what the shop showed before recon)."""
    found = []
    now = refunded_per_rma(state)
    for ret in state.world.loop_returns:
        paid, before = now.get(ret.id, Decimal(0)), base.refunded.get(ret.id, Decimal(0))
        if paid > max(before, ret.refund):
            found.append(
                Violation(
                    "refunded more than Loop",
                    ret.id,
                    f"Shopify refunds naming it total {paid}, Loop refunded {ret.refund}, "
                    f"{before} before recon ran",
                )
            )
    return found


def check_stock(
    state: SandboxState, base: Baseline, ledger: Iterable[ActionView] = ()
) -> list[Violation]:
    """No unit restocked twice: per order and item, no more units put back than returned
    (beyond the baseline), and no adjustment key applied twice. A movement of an item its
    order does not hold is a write on the wrong order (``landed.check_landed``)."""
    found = []
    returned, rmas = returned_per_item(state), _rmas_per_order(state)
    held = {(o.id, li.inventory_item_id) for o in state.world.orders for li in o.line_items}
    for (order_id, item), units in sorted(restocked_per_item(state, ledger).items()):
        if (order_id, item) not in held and (order_id, item) not in base.restocked:
            continue
        limit = max(base.restocked.get((order_id, item), 0), returned.get((order_id, item), 0))
        if units > limit:
            found.append(
                Violation(
                    "restocked twice",
                    rmas.get(order_id),
                    f"order {order_id} item {item}: {units} units put back, "
                    f"{returned.get((order_id, item), 0)} returned",
                )
            )
    keys = Counter(g.idempotency_key for g in adjustments(state) if g.idempotency_key)
    for key, n in sorted(keys.items()):
        if n > 1:
            found.append(Violation("restocked twice", None, f"key {key} applied {n} times"))
    return found


def _rmas_per_order(state: SandboxState) -> dict[str, str]:
    rmas: dict[str, list[str]] = {}
    for ret in state.world.loop_returns:
        rmas.setdefault(ret.provider_order_id, []).append(ret.id)
    return {order: ", ".join(ids) for order, ids in rmas.items()}


def check_ledgered(
    state: SandboxState, base: Baseline, ledger: Iterable[ActionView]
) -> list[Violation]:
    """Every refund and stock movement made since the baseline carries the key of an intent in
    recon's ledger, of its kind (a refund's intent naming the RMA its note names)."""
    intents = {a.key: a for a in ledger}
    found = []
    for order in state.world.orders:
        for refund in order.refunds:
            if refund.id in base.refund_ids:
                continue
            intent = intents.get(refund.idempotency_key or "")
            if intent is None or intent.kind != "refund":
                found.append(_unledgered("refund", refund.id, refund.note, refund.idempotency_key))
            elif not note_names_rma(refund.note, f"Loop RMA #{intent.rma}"):
                found.append(
                    Violation(
                        "refund without an intent",
                        intent.rma,
                        f"refund {refund.id} has intent {intent.id}'s key but note {refund.note!r}",
                    )
                )
    for group in adjustments(state):
        if group.id in base.adjustment_ids or group.source != "inventoryAdjustQuantities":
            continue
        intent = intents.get(group.idempotency_key or "")
        if intent is None or intent.kind != "restock":
            uri = group.reference_document_uri or ""
            found.append(_unledgered("restock", group.id, uri, group.idempotency_key))
    return found


def _unledgered(kind: str, record: str, about: str | None, key: str | None) -> Violation:
    """``about`` is the refund's note ("Loop RMA #123") or the movement's reference URI."""
    named = _NAMES_RMA.search(about or "")
    rma = named.group(1) if named else None
    return Violation(
        f"{kind} without an intent", rma, f"{kind} {record} ({about!r}) has key {key!r}, no intent"
    )


def check_settled(ledger: Iterable[ActionView]) -> list[Violation]:
    """Every intent ended (done, failed, sent to review or rejected): none in flight or waiting."""
    return [
        Violation(
            "intent not resolved", a.rma, f"intent {a.id} ({a.kind}) is {a.state}: {a.reason}"
        )
        for a in ledger
        if ActionState(a.state) not in TERMINAL_STATES
    ]


def expected_truth(
    truth: GroundTruth, fixed: Iterable[Category] = FIXED, unfixed: AbstractSet[str] = frozenset()
) -> GroundTruth:
    """The truth once the clock passed its ``as_of`` and recon fixed ``fixed``: the planted
    findings of other categories, those of ``unfixed`` keys (fixes recon left to a person),
    plus the clean cases that sat at a time limit (their amounts are not in the truth:
    ``check_findings`` scores only their keys)."""
    skip = {c.value for c in fixed}
    kept = [p.model_dump() for p in truth.findings if p.category not in skip or p.key in unfixed]
    extra = [
        {"key": key, "category": key.partition("|")[0]}
        for key in truth.at_limit
        if key.partition("|")[0] not in skip
    ]
    return GroundTruth.model_validate({**truth.model_dump(), "findings": kept + extra})


def check_findings(
    findings: Iterable[Finding], truth: GroundTruth, unfixed: AbstractSet[str] = frozenset()
) -> list[Violation]:
    """Open findings match ``expected_truth(truth, unfixed=unfixed)`` exactly, as the e2e tests
    score them: precision and recall 1.0 in every category, amounts at risk equal."""
    expected = expected_truth(truth, unfixed=unfixed)
    result = score([f for f in findings if f.status not in CLOSED_STATUSES], expected)
    found = [Violation("finding missed", _rma(k), k) for k in sorted(result.missed)]
    found += [Violation("finding not planted", _rma(k), k) for k in sorted(result.unexpected)]
    at_limit = set(truth.at_limit)
    found += [
        Violation("amount at risk differs", _rma(k), k)
        for k in result.amount_mismatches
        if k not in at_limit
    ]
    return found


def _rma(key: str) -> str | None:
    for part in key.partition("|")[2].split("|"):
        name, _, value = part.partition("=")
        if name == "rma":
            return value
    return None


def check_records(
    state: SandboxState,
    mirrored: Mapping[str, set[str]],
    quarantined: Mapping[str, set[str]],
) -> list[Violation]:
    """No record lost: every visible Loop return and Shopify order is mirrored or quarantined
    (``mirrored`` and ``quarantined`` map "return" and "order" to their ids)."""
    found = []
    now = state.now()  # Loop lists a return by updated_at (a replayed world's may be ahead)
    returns = [r for r in state.visible_returns() if r.updated_at <= now]
    shown = {o.id for o in state.visible_orders() if o.deleted_at is None}
    wanted = {  # recon reads the orders its returns name (DESIGN decision 3), not every order
        "return": {r.id for r in returns},
        "order": {r.provider_order_id for r in returns} & shown,
    }
    for kind, ids in wanted.items():
        lost = ids - mirrored.get(kind, set()) - quarantined.get(kind, set())
        for record in sorted(lost):
            rma = record if kind == "return" else None
            found.append(
                Violation("record lost", rma, f"{kind} {record} neither mirrored nor quarantined")
            )
    return found


def check_visibility(state: SandboxState, marked: Iterable[str]) -> list[Violation]:
    """No order Shopify shows is recorded as not visible (``marked``: the ids recon holds as
    deleted or out of sight): such a mark holds its writes and, once backed off, stops recon
    asking for it (a malformed ``nodes`` answer once did this)."""
    shown = {o.id for o in state.visible_orders() if o.deleted_at is None}
    naming: dict[str, str] = {}
    for ret in state.visible_returns():
        naming.setdefault(ret.provider_order_id, ret.id)
    return [
        Violation("visible order marked not visible", naming.get(order), f"order {order}")
        for order in sorted(set(marked) & shown)
    ]

"""An independent, literal re-derivation of docs/findings.md over a world, to prove truth exact.

Plain Python on purpose: no engine code, no pandas. Default settings (tolerance 0.01, pending 3
days, unsettled 10 days, stale 30 days, restock after *received*), as of ``world.now``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from recon.config import DEFAULT_RMA_PATTERNS
from recon.money import exponent, quantize
from recon.sandbox.world import Order, Refund, Transaction, World
from recon.sandbox.world_loop import LoopReturn

TOL = Decimal("0.01")


def tol(currency: str) -> Decimal:
    """TOL, but never less than one minor unit of ``currency`` (one yen for JPY)."""
    return max(TOL, Decimal(1).scaleb(-exponent(currency)))


PATTERNS = [re.compile(p, re.IGNORECASE) for p in DEFAULT_RMA_PATTERNS]
OK, PENDING, FAILED = {"SUCCESS"}, {"PENDING", "AWAITING_RESPONSE", "UNKNOWN"}, {"FAILURE", "ERROR"}
GONE = {"cancelled", "expired"}


@dataclass
class Derived:
    category: str
    rma: str | None
    order_id: str
    refund_ids: list[str]
    amount: Decimal
    currency: str


@dataclass
class _Ctx:
    world: World
    out: dict[str, Derived] = field(default_factory=dict)
    # RMAs a note naming several names, when that refund moved money / restocked a line.
    disputed: set[str] = field(default_factory=set)
    disputed_stock: set[str] = field(default_factory=set)

    def add(self, scope: str, d: Derived) -> None:
        key = f"{d.category}|{scope}"
        assert key not in self.out, f"two findings for {key}"
        self.out[key] = d


def ascii_digits(text: str) -> str:
    """Decimal digits of any script (fullwidth, Arabic-Indic) as ASCII: Loop's RMAs are ASCII."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def rmas_in(note: str | None) -> set[str]:
    return {ascii_digits(m["rma"]) for p in PATTERNS for m in p.finditer(note or "") if m["rma"]}


def shop(t: Transaction) -> Decimal:
    return t.amount_shop if t.amount_shop is not None else t.amount


def basis(r: LoopReturn, o: Order) -> str | None:
    if r.currency == o.currency:
        return "shop"
    if r.currency == o.presentment_currency:
        return "presentment"
    return None


def _live(world: World) -> World:
    """docs/findings.md "Inputs": test orders, what is on them, and test-mode balance
    transactions are left out (``include_test_orders = false``)."""
    test = {o.id for o in world.orders if o.test}
    return world.model_copy(
        update={
            "orders": [o for o in world.orders if not o.test],
            "loop_returns": [r for r in world.loop_returns if r.provider_order_id not in test],
            "balance_transactions": [
                b for b in world.balance_transactions if not b.test and b.order_id not in test
            ],
            "gift_cards": [g for g in world.gift_cards if g.order_id not in test],
        }
    )


def derive(world: World) -> dict[str, Derived]:
    """Every finding docs/findings.md raises for ``world`` as of its ``now``."""
    now = world.now
    assert all(rev.at > now for rev in world.revisions), (
        "truth is as of now: no revision applies yet"
    )
    world = _live(world)
    ctx = _Ctx(world)
    orders = {o.id: o for o in world.orders if o.created_at <= now}
    returns = [r for r in world.loop_returns if r.created_at <= now]
    by_id = {r.id: r for r in returns}
    returns_on: dict[str, list[LoopReturn]] = {}
    for r in returns:
        returns_on.setdefault(r.provider_order_id, []).append(r)
    # A SUCCESS refund a REFUND_FAILURE balance transaction names bounced: it is failed money.
    bounced = {
        b.source_order_transaction_id or b.source_id
        for b in world.balance_transactions
        if b.type == "REFUND_FAILURE" and b.transaction_date <= now
    }
    bounced = {
        t.id for o in orders.values() for t in o.transactions if t.status == "SUCCESS"
    } & bounced
    refunds: list[tuple[Order, Refund, list[Transaction]]] = []
    for o in orders.values():
        for f in o.refunds:
            if f.created_at <= now:
                txns = [
                    t.model_copy(update={"status": "FAILURE"}) if t.id in bounced else t
                    for t in o.transactions
                    if t.refund_id == f.id and t.kind == "REFUND" and t.processed_at <= now
                ]
                refunds.append((o, f, txns))

    def covered(txns: list[Transaction], r: LoopReturn | None, o: Order) -> Decimal:
        use_shop = r is None or basis(r, o) == "shop"
        return sum(
            ((shop(t) if use_shop else t.amount) for t in txns if t.status in OK | PENDING),
            Decimal(0),
        )

    def attempted(txns: list[Transaction], r: LoopReturn, o: Order) -> Decimal:
        """The heuristic's amount: money moved (bounced included), else money tried."""
        use_shop = basis(r, o) == "shop"

        def money(ts: list[Transaction]) -> Decimal:
            return sum(((shop(t) if use_shop else t.amount) for t in ts), Decimal(0))

        moved = money([t for t in txns if t.status in OK | PENDING or t.id in bounced])
        return moved if moved > 0 else money([t for t in txns if t.status in FAILED])

    provider: dict[str, str] = {}
    for r in sorted(returns, key=lambda r: (len(r.id), r.id), reverse=True):
        for x in r.refunds:  # the lowest RMA (as a number) wins a refund two returns list
            if x.provider_refund_id:
                provider[x.provider_refund_id] = r.id
    links: dict[str, str] = {}
    noted: set[str] = set()
    listing: dict[str, set[str]] = {}
    for r in returns:
        for x in r.refunds:
            if x.provider_refund_id:
                listing.setdefault(x.provider_refund_id, set()).add(r.id)
    elsewhere: dict[str, str] = {}  # refund → its note's one RMA, a return of another order
    for o, f, txns in refunds:
        order_number = re.sub(r"\D", "", o.name)
        raw = rmas_in(f.note)
        other = {n for n in raw if n in by_id and by_id[n].provider_order_id != o.id}
        if len(raw) == 1 and raw <= other:  # not its return: read as a number Loop lacks
            named = raw - {order_number}
        else:
            named = {n for n in raw if n in by_id or n != order_number}
        if len(named) == 1 and named <= other:
            (elsewhere[f.id],) = named
        # Loop's record and the note tie it to different returns: ambiguous, as a note naming
        # several (Loop lists it on several and the note names none Loop has, or the note names
        # one return and Loop lists it on another).
        lists = listing.get(f.id, set())
        known = set() if f.id in elsewhere else named & by_id.keys()
        if len(named) <= 1 and (len(lists - known) >= 2 or (known and lists - known)):
            named = known | lists
        elif len(named) >= 2:
            named |= lists  # a note naming several, and Loop lists it on yet another return
        if len(named) >= 2:
            elsewhere.pop(f.id, None)  # ambiguous, as any refund tied to several returns
        if named and f.id not in elsewhere:
            noted.add(f.id)
        if len(named) >= 2:
            if covered(txns, None, o) > 0:
                ctx.disputed |= named
            if any(ln.restocked for ln in f.lines):
                ctx.disputed_stock |= named
            ctx.add(
                f"refund={f.id}",
                Derived("AMBIGUOUS_RMA", None, o.id, [f.id], covered(txns, None, o), o.currency),
            )
        elif len(named) == 1:
            (rma,) = named
            if rma in by_id and f.id not in elsewhere:
                links[f.id] = rma
            elif f.id in provider:  # Loop's record outranks an unknown number in a note
                links[f.id] = provider[f.id]
            elif f.id not in elsewhere:  # the heuristic may link it on its own order first
                ctx.add(
                    f"refund={f.id}",
                    Derived("UNKNOWN_RMA", rma, o.id, [f.id], covered(txns, None, o), o.currency),
                )
    for _o, f, _t in refunds:
        if f.id not in noted and f.id not in links and f.id in provider:
            links[f.id] = provider[f.id]
    linked_returns = set(links.values())

    for o, f, txns in refunds:
        if f.id in noted or f.id in links:
            continue
        skus = Counter(_line_sku(o, ln.line_item_id) for ln in f.lines for _ in range(ln.quantity))
        fits = []
        for r in returns_on.get(o.id, []):
            if r.id in linked_returns:
                continue
            conf = 0.0
            if abs(attempted(txns, r, o) - r.refund) <= tol(r.currency):
                conf += 0.5
            if skus == Counter(x.sku for x in r.line_items):
                conf += 0.5
            if conf >= 0.8:
                fits.append(r)
        live = [r for r in fits if r.state not in GONE]
        fits = live or fits  # a cancelled/expired return only when no live one qualifies
        if len(fits) == 1:
            links[f.id] = fits[0].id
        elif f.id in elsewhere:  # a return of another order's RMA, and none of its own fits
            ctx.add(
                f"refund={f.id}",
                Derived(
                    "UNKNOWN_RMA", elsewhere[f.id], o.id, [f.id], covered(txns, None, o), o.currency
                ),
            )
        elif returns_on.get(o.id) and (
            covered(txns, None, o) > 0 or _restocks_returned_item(o, f, returns_on[o.id])
        ):
            ctx.add(
                f"refund={f.id}",
                Derived("UNMATCHED_REFUND", None, o.id, [f.id], covered(txns, None, o), o.currency),
            )
    for r in returns:
        _per_return(
            ctx,
            r,
            orders[r.provider_order_id],
            [(f, t) for o, f, t in refunds if links.get(f.id) == r.id],
            covered,
        )
    _status_drift(ctx, orders, returns_on)
    _unsettled(ctx, orders, refunds, links)
    return ctx.out


def _line_sku(o: Order, line_id: str) -> str | None:
    return next((li.sku for li in o.line_items if li.id == line_id), None)


def _restocks_returned_item(o: Order, f: Refund, returns: list[LoopReturn]) -> bool:
    """A line of ``f`` restocked units of an item (line item or SKU) a return on ``o`` has."""
    ids = {x.provider_line_item_id for r in returns for x in r.line_items}
    skus = {x.sku for r in returns for x in r.line_items if x.sku}  # no SKU is no SKU match
    return any(
        ln.restocked and (ln.line_item_id in ids or _line_sku(o, ln.line_item_id) in skus)
        for ln in f.lines
    )


def _received(r: LoopReturn) -> bool:
    """Delivered, processed, or graded (inspected units are in the warehouse). Read per return:
    a return with some units graded and some not is beyond this checker."""
    graded = [bool(x.condition or x.disposition) for x in r.line_items]
    assert all(graded) or not any(graded), f"{r.id}: some units graded, some not"
    return (
        r.label_status == "delivered"
        or (r.state == "closed" and bool(r.was_processed))
        or (bool(graded) and all(graded))
    )


def _in_basis(ts: list[Transaction], r: LoopReturn, o: Order) -> tuple[Decimal, str]:
    """Transactions' sum in the money basis (the return's currency); shop money on a mismatch."""
    if basis(r, o) == "presentment":
        return sum((t.amount for t in ts), Decimal(0)), r.currency
    return sum((shop(t) for t in ts), Decimal(0)), o.currency


def _per_return(
    ctx: _Ctx,
    r: LoopReturn,
    o: Order,
    linked: list[tuple[Refund, list[Transaction]]],
    covered: object,
) -> None:
    now = ctx.world.now
    ids = sorted(f.id for f, _ in linked)
    cov = {f.id: covered(t, r, o) for f, t in linked}  # type: ignore[operator]
    total = sum(cov.values(), Decimal(0))
    mismatch = bool(linked) and basis(r, o) is None
    if mismatch:
        ctx.add(f"rma={r.id}", Derived("CURRENCY_MISMATCH", r.id, o.id, ids, r.refund, r.currency))
    failed_money = any(t.status in FAILED for _, ts in linked for t in ts)
    if (
        r.state == "closed"
        and r.refund > 0
        and not any(c > 0 for c in cov.values())
        and not failed_money
        and r.id not in ctx.disputed
    ):
        ctx.add(f"rma={r.id}", Derived("MISSING_REFUND", r.id, o.id, ids, r.refund, r.currency))
    paid = basis(r, o) is not None and total >= r.refund - tol(
        r.currency
    )  # a retry paid it in full
    # A return's failed refunds share what it still owes, latest first; once money went
    # through, the shortfall is its AMOUNT_MISMATCH's and they are priced 0.
    owed = Decimal(0) if total > 0 else r.refund
    latest_first = sorted(
        linked,
        key=lambda p: (p[0].processed_at or p[0].created_at, len(p[0].id), p[0].id),
        reverse=True,
    )
    for f, ts in latest_first:
        failed = [t for t in ts if t.status in FAILED]
        if failed and cov[f.id] == 0 and not paid and r.state not in GONE:
            money, currency = _in_basis(failed, r, o)
            if not mismatch:
                money, owed = min(money, owed), owed - min(money, owed)
            ctx.add(f"refund={f.id}", Derived("REFUND_FAILED", r.id, o.id, [f.id], money, currency))
    for f, ts in linked:
        pend = [t for t in ts if t.status in PENDING]
        if any(t.processed_at < now - timedelta(days=3) for t in pend):
            money, currency = _in_basis(pend, r, o)
            ctx.add(
                f"refund={f.id}", Derived("REFUND_PENDING", r.id, o.id, [f.id], money, currency)
            )
    dup = sum(1 for c in cov.values() if c > 0) >= 2 and total > r.refund + tol(r.currency)
    if dup and not mismatch:
        ctx.add(
            f"rma={r.id}",
            Derived("DUPLICATE_REFUND", r.id, o.id, ids, total - r.refund, r.currency),
        )
    if (
        not dup
        and not mismatch
        and total > 0
        and abs(total - r.refund) > tol(r.currency)
        and r.state not in GONE
    ):
        ctx.add(
            f"rma={r.id}",
            Derived("AMOUNT_MISMATCH", r.id, o.id, ids, abs(total - r.refund), r.currency),
        )
    if r.state in GONE and total > 0:
        ctx.add(
            f"rma={r.id}", Derived("REFUND_ON_CANCELLED_RETURN", r.id, o.id, ids, total, r.currency)
        )
    # A refund whose every money transaction failed or bounced refunded nothing: its lines are
    # not counted (a declined refund and its paid retry name the SKUs once).
    duds = {
        f.id
        for f, ts in linked
        if any(t.status in FAILED and t.amount for t in ts)
        and not any(t.status in OK | PENDING and t.amount for t in ts)
    }
    lines = [ln for f, _ in linked for ln in f.lines]
    counted = [ln for f, _ in linked if f.id not in duds for ln in f.lines]
    if counted:
        refunded = Counter(
            _line_sku(o, ln.line_item_id) for ln in counted for _ in range(ln.quantity)
        )
        if refunded != Counter(x.sku for x in r.line_items):
            ctx.add(f"rma={r.id}", Derived("SKU_MISMATCH", r.id, o.id, ids, Decimal(0), r.currency))
    if r.state == "closed" and r.gift_card > 0:
        pattern = re.compile(rf"(?<!\d){r.id}(?!\d)")
        cards = [
            g
            for g in ctx.world.gift_cards
            if g.created_at <= now and pattern.search(ascii_digits(g.note or ""))
        ]
        issued = sum((g.initial_value for g in cards if g.currency == r.currency), Decimal(0))
        short = r.gift_card - issued
        if not cards or (issued > 0 and short > tol(r.currency)):
            amount = short if cards else r.gift_card
            ctx.add(
                f"rma={r.id}",
                Derived("MISSING_STORE_CREDIT", r.id, o.id, ids, amount, r.currency),
            )
    _restock(ctx, r, o, ids, lines)
    if r.state in ("open", "review") and r.created_at < now - timedelta(days=30):
        ctx.add(f"rma={r.id}", Derived("STALE_RETURN", r.id, o.id, ids, r.total, r.currency))


def _restock(ctx: _Ctx, r: LoopReturn, o: Order, ids: list[str], lines: list) -> None:  # type: ignore[type-arg]
    """Counted in units: restocked quantity against the units of each line item (one each)."""
    units: dict[str, list[Decimal]] = {}
    for x in sorted(r.line_items, key=lambda x: (x.line_item_id, x.price)):
        units.setdefault(x.provider_line_item_id, []).append(x.price)
    restocked: Counter[str] = Counter()
    for ln in lines:
        if ln.restocked:
            restocked[ln.line_item_id] += ln.quantity
    for line_id, prices in units.items():
        scope = f"rma={r.id},line={line_id}"
        n, ghost = restocked[line_id], []
        if r.state not in GONE and _received(r):  # every unit is back: the uncovered are missing
            if (missing := prices[n:]) and r.id not in ctx.disputed_stock:
                amount = sum(missing, Decimal(0))
                ctx.add(scope, Derived("MISSING_RESTOCK", r.id, o.id, ids, amount, r.currency))
        else:  # none is back: each restock is ghost stock, on the units of the line first
            ghost = prices[:n]
        beyond = max(n - len(prices), 0)  # restocks past every unit: at the first unit's price
        if ghost or beyond:
            amount = sum(ghost, Decimal(0)) + beyond * prices[0]
            ctx.add(scope, Derived("GHOST_INVENTORY", r.id, o.id, ids, amount, r.currency))


def return_status(o: Order, now: object) -> str:
    """Order.returnStatus as docs/world-format.md derives it from the visible Shopify returns."""
    statuses = {x.status for x in o.returns if x.created_at <= now}  # type: ignore[operator]
    if "REQUESTED" in statuses:
        return "RETURN_REQUESTED"
    if "OPEN" in statuses:
        return "IN_PROGRESS"
    return "RETURNED" if "CLOSED" in statuses else "NO_RETURN"


def _status_drift(
    ctx: _Ctx, orders: dict[str, Order], returns_on: dict[str, list[LoopReturn]]
) -> None:
    for order_id, rs in returns_on.items():
        o = orders[order_id]
        closed = [r for r in rs if r.state == "closed"]
        if (
            all(r.state in GONE | {"closed"} for r in rs)
            and closed
            and return_status(o, ctx.world.now) in ("RETURN_REQUESTED", "IN_PROGRESS")
        ):
            rma = max(closed, key=lambda r: int(r.id)).id
            ctx.add(f"order={o.id}", Derived("STATUS_DRIFT", rma, o.id, [], Decimal(0), o.currency))


def _unsettled(ctx: _Ctx, orders: dict[str, Order], refunds: list, links: dict[str, str]) -> None:  # type: ignore[type-arg]
    now = ctx.world.now
    rows: dict[str, list] = {}  # type: ignore[type-arg]
    for b in ctx.world.balance_transactions:
        if b.transaction_date <= now and b.source_order_transaction_id:
            rows.setdefault(b.source_order_transaction_id, []).append(b)
    payouts = {p.id: p for p in ctx.world.payouts if p.issued_at <= now}
    for o, f, txns in refunds:
        for t in txns:
            if t.status != "SUCCESS" or t.gateway != "shopify_payments":
                continue
            mine = rows.get(t.id, [])
            bad_payout = any(
                b.payout_status in ("FAILED", "CANCELED")
                or (
                    b.payout_id in payouts and payouts[b.payout_id].status in ("FAILED", "CANCELED")
                )
                for b in mine
            )
            old = t.processed_at < now - timedelta(days=10)
            if bad_payout or (
                old
                and (
                    not mine or all(b.payout_status in ("PENDING", "ACTION_REQUIRED") for b in mine)
                )
            ):
                ctx.add(
                    f"transaction={t.id}",
                    Derived("UNSETTLED_REFUND", links.get(f.id), o.id, [f.id], shop(t), o.currency),
                )


def quantized(d: Derived) -> Decimal:
    return quantize(d.amount, d.currency)

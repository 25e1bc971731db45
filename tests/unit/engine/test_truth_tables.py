"""Truth tables for the engine: tiny inline datasets with the (category, scope) set they must raise.

Every dataset is order 100 (USD shop) unless it says otherwise; ``as_of`` is 2026-11-01 02:00 UTC.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_builders import (
    bt,
    gift,
    keyset,
    line,
    order,
    payout,
    refund,
    ret,
    rline,
    run,
    txn,
)

from recon.config import EngineSettings
from recon.engine import classify_restock
from recon.engine import codes as codes_mod
from recon.models import Category, ReturnLine

RMA = "12345"
PLI = "1345"  # the default return line's Shopify line item id for RMA 12345
UNIT = "9" + PLI  # its Loop line item id
UNRESTOCKED = rline(PLI, "SKU-A", restocked=False)  # a refund line of PLI that restocked nothing


def settled_refund(
    fid: str = "500",
    note: str | None = f"Loop RMA #{RMA}",
    amount: str = "20.00",
    tid: str = "600",
    **kw: object,
) -> list[object]:
    """A refund that went through and sits in paid payout 700, restocking the default line."""
    lines = kw.pop("lines", (rline(PLI, "SKU-A"),))
    return [
        refund(fid, note, (txn(tid, amount),), lines=lines, **kw),  # type: ignore[arg-type]
        bt("8" + tid, tid, amount),
    ]


def refund_with(status: str, *, days: float) -> object:
    """Refund 500 of RMA 12345 (restocking its line): one 20.00 transaction 600 in ``status``,
    processed ``days`` before as_of, in no payout."""
    return refund(
        "500",
        f"Loop RMA #{RMA}",
        (txn("600", "20.00", status=status, days=days),),
        lines=(rline(PLI, "SKU-A"),),
    )


def two_units(*, inspected: bool = False) -> tuple[ReturnLine, ReturnLine]:
    """Two returned units of line item PLI: Loop lines 9001 (graded if ``inspected``) and 9002."""
    return (
        line(PLI, "SKU-A", inspected=inspected, uid="9001"),
        line(PLI, "SKU-A", uid="9002"),
    )


def two_unit_refund(restocked: int) -> list[object]:
    """A settled 40.00 refund of both units of PLI, ``restocked`` of them restocked."""
    lines = [rline(PLI, "SKU-A", qty=restocked)] if restocked else []
    if restocked < 2:
        lines.append(rline(PLI, "SKU-A", qty=2 - restocked, restocked=False))
    return settled_refund(amount="40.00", lines=tuple(lines))


def yen_refund(paid: str) -> list[object]:
    """A 2000-yen return refunded ``paid`` yen (shop and order in JPY), not paid out yet."""
    return [
        ret(RMA, refund="2000", currency="JPY"),
        order(currency="JPY"),
        refund(
            "500",
            f"Loop RMA #{RMA}",
            (txn("600", paid, currency="JPY", shop_currency="JPY"),),
            lines=(rline(PLI, "SKU-A"),),
            currency="JPY",
            shop_currency="JPY",
        ),
    ]


def store_credit(*cards: object) -> list[object]:
    """A 20.00 store-credit return of RMA on order 100, and the gift cards given."""
    return [
        ret(RMA, refund="0", gift_card="20.00", outcome="gift_card", total="20.00"),
        order(),
        *cards,
    ]


def clean() -> list[object]:
    """One closed refund return, refunded, restocked and paid out: the baseline."""
    return [ret(RMA), order(), payout(), *settled_refund()]


# (records, expected (category, scope) set, Loop unit ids recon's ledger restocked per line item)
CASES: dict[
    str, tuple[list[object], set[tuple[str, str]], dict[tuple[str, str], tuple[str, ...]]]
] = {
    "clean": (clean(), set(), {}),
    # --- each category at least once ----------------------------------------------------------
    "missing refund: closed, refund owed, nothing in Shopify (restocked by recon)": (
        [ret(RMA), order()],
        {("MISSING_REFUND", f"rma={RMA}")},
        {(RMA, PLI): (UNIT,)},
    ),
    "refund failed: the only transaction failed": (
        [
            ret(RMA),
            order(),
            refund(
                "500",
                f"RMA {RMA}",
                (txn("600", "20.00", status="FAILURE"),),
                lines=(rline(PLI, "SKU-A"),),
            ),
        ],
        {("REFUND_FAILED", "refund=500")},
        {},
    ),
    "refund bounced: it went through and was paid out, then Shopify booked a REFUND_FAILURE": (
        [*clean(), bt("8900", "600", "20.00", kind="REFUND_FAILURE")],
        {("REFUND_FAILED", "refund=500")},
        {},
    ),
    "refund bounced: the failure names the transaction by sourceId only (unverified case)": (
        [*clean(), bt("8900", "600", "20.00", kind="REFUND_FAILURE", tied=False)],
        {("REFUND_FAILED", "refund=500")},
        {},
    ),
    "refund bounced, old and never paid out: failed money, not an unsettled refund": (
        [
            ret(RMA),
            order(),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "20", days=15),),
                lines=(rline(PLI, "SKU-A"),),
            ),
            bt("8900", "600", "20.00", kind="REFUND_FAILURE", payout=None),
        ],
        {("REFUND_FAILED", "refund=500")},
        {},
    ),
    "refund bounced, then a second refund paid it: the customer has the money": (
        [
            *clean(),
            bt("8900", "600", "20.00", kind="REFUND_FAILURE"),
            *settled_refund("501", amount="20.00", tid="601", lines=()),
        ],
        set(),
        {},
    ),
    "refund declined, then a retry paid it: the customer has the money": (
        [
            ret(RMA),
            order(),
            payout(),
            refund("500", f"Loop RMA #{RMA}", (txn("600", "20.00", status="FAILURE"),)),
            *settled_refund("501", tid="601"),
        ],
        set(),
        {},
    ),
    "refund declined, then a retry by hand with no note paid it: the customer has the money": (
        [
            ret(RMA),
            order(),
            payout(),
            refund("500", f"Loop RMA #{RMA}", (txn("600", "20.00", status="FAILURE"),)),
            *settled_refund("501", note=None, tid="601"),
        ],
        set(),
        {},
    ),
    "refund declined, a retry paid part of it: the failure still stands": (
        [
            ret(RMA),
            order(),
            payout(),
            refund("500", f"Loop RMA #{RMA}", (txn("600", "20.00", status="FAILURE"),)),
            *settled_refund("501", amount="12.00", tid="601"),
        ],
        {("REFUND_FAILED", "refund=500"), ("AMOUNT_MISMATCH", f"rma={RMA}")},
        {},
    ),
    "refund half bounced: one of two card transactions came back": (
        [
            ret(RMA),
            order(),
            payout(),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "12.00"), txn("601", "8.00")),
                lines=(rline(PLI, "SKU-A"),),
            ),
            bt("8600", "600", "12.00"),
            bt("8601", "601", "8.00"),
            bt("8900", "601", "8.00", kind="REFUND_FAILURE"),
        ],
        {("AMOUNT_MISMATCH", f"rma={RMA}")},
        {},
    ),
    "refund bounced, its note names no RMA: linked by the heuristic, not owed again": (
        [
            *clean()[:3],
            *settled_refund(note=None),
            bt("8900", "600", "20.00", kind="REFUND_FAILURE"),
        ],
        {("REFUND_FAILED", "refund=500")},
        {},
    ),
    "refund declined, its note names no RMA: linked by the heuristic, not owed again": (
        [
            ret(RMA),
            order(),
            refund(
                "500", None, (txn("600", "20.00", status="FAILURE"),), lines=(rline(PLI, "SKU-A"),)
            ),
        ],
        {("REFUND_FAILED", "refund=500")},
        {},
    ),
    "a bounce dated after the run's time has not happened yet": (
        [*clean(), bt("8900", "600", "20.00", kind="REFUND_FAILURE", tied=False, days=-2)],
        set(),
        {},
    ),
    "declined refund that restocked, then a retry that paid, no notes: both link, settled": (
        [
            ret(RMA),
            order(),
            payout(),
            refund(
                "500", None, (txn("600", "20.00", status="FAILURE"),), lines=(rline(PLI, "SKU-A"),)
            ),
            *settled_refund("501", note=None, tid="601", lines=(UNRESTOCKED,)),
        ],
        # The unit was restocked once (by the declined refund) and the retry paid: no money nor
        # stock finding; the declined refund refunded nothing, so SKU-A counts once (no
        # SKU_MISMATCH).
        set(),
        {},
    ),
    "declined refund naming SKU-B, paid retry naming SKU-A: the SKUs refunded match": (
        [
            *clean(),
            refund(
                "502",
                f"Loop RMA #{RMA}",
                (txn("602", "20.00", status="FAILURE"),),
                lines=(rline("1399", "SKU-B", restocked=False),),
            ),
        ],
        set(),  # the declined refund refunded nothing; the paid one is SKU-A, as returned
        {},
    ),
    "a paid refund and a restock-only refund naming another SKU: SKU_MISMATCH stands": (
        [*clean(), refund("502", f"Loop RMA #{RMA}", (), lines=(rline("1399", "SKU-B"),))],
        {("SKU_MISMATCH", f"rma={RMA}")},  # moving no money is not failing: its lines count
        {},
    ),
    "declined refund and its paid retry, a cancelled twin return: both link to the live one": (
        [
            ret(RMA, state="cancelled"),
            ret("12346", lines=(line(PLI, "SKU-A", uid="9002"),)),
            order(),
            payout(),
            refund("500", None, (txn("600", "20.00", status="FAILURE"),), lines=(UNRESTOCKED,)),
            *settled_refund("501", note=None, tid="601", lines=(UNRESTOCKED,)),
        ],
        {("MISSING_RESTOCK", f"rma=12346,line={PLI}")},
        {},
    ),
    "a REFUND_FAILURE naming a transaction of no refund raises nothing": (
        [*clean(), bt("8900", "999", "5.00", kind="REFUND_FAILURE")],
        set(),
        {},
    ),
    "refund pending: pending for 5 days (limit 3)": (
        [
            ret(RMA),
            order(),
            refund(
                "500",
                f"RMA#{RMA}",
                (txn("600", "20", status="PENDING", days=5),),
                lines=(rline(PLI, "SKU-A"),),
            ),
        ],
        {("REFUND_PENDING", "refund=500")},
        {},
    ),
    "amount mismatch: 15.00 refunded for 20.00 owed": (
        [ret(RMA), order(), payout(), *settled_refund(amount="15.00")],
        {("AMOUNT_MISMATCH", f"rma={RMA}")},
        {},
    ),
    "duplicate refund: two full refunds for one RMA": (
        [*clean(), *settled_refund("501", tid="601", lines=())],
        {("DUPLICATE_REFUND", f"rma={RMA}")},
        {},
    ),
    "unknown RMA: a second refund names RMA 99999": (
        [*clean(), *settled_refund("501", note="Loop RMA #99999", tid="601", lines=())],
        {("UNKNOWN_RMA", "refund=501")},
        {},
    ),
    "a note naming the order (Return #100 on order #100) is no RMA: linked by provider id": (
        [
            ret(RMA, provider_refund_ids=("500",)),
            order(),
            payout(),
            *settled_refund(note="Return #100 via Loop Returns"),
        ],
        set(),
        {},
    ),
    "refunds naming RMAs when no Loop return is mirrored at all (a month with refunds only)": (
        [payout(), *settled_refund("501", note="Loop RMA #4242", tid="601", lines=())],
        {("UNKNOWN_RMA", "refund=501")},
        {},
    ),
    "a number that is neither an RMA nor the order's still raises UNKNOWN_RMA": (
        [*clean(), *settled_refund("501", note="Return #4242", tid="601", lines=())],
        {("UNKNOWN_RMA", "refund=501")},
        {},
    ),
    "a note naming a return of another order pays it not: that return is still owed": (
        [
            ret(RMA),
            ret("12399", order="101", lines=(line("1399", "SKU-B"),)),
            order(),
            order("101"),
            payout(),
            *settled_refund(note="Loop RMA #12399"),  # 12345's refund, its RMA mistyped
        ],
        {("MISSING_REFUND", "rma=12399"), ("MISSING_RESTOCK", "rma=12399,line=1399")},
        {},
    ),
    "a note naming a return of another order, no return of its own fits: UNKNOWN_RMA": (
        [
            ret("12399", order="101", lines=(line("1399", "SKU-B"),)),
            order(),
            order("101"),
            payout(),
            *settled_refund(note="Loop RMA #12399", lines=()),
        ],
        {
            ("UNKNOWN_RMA", "refund=500"),
            ("MISSING_REFUND", "rma=12399"),
            ("MISSING_RESTOCK", "rma=12399,line=1399"),
        },
        {},
    ),
    "a note naming its order number and a return of another order: that return is not paid": (
        [
            ret(RMA),
            ret("12399", order="101", lines=(line("1399", "SKU-B"),)),
            order(),
            order("101"),
            payout(),
            *settled_refund(note="Return #100 - Loop RMA #12399"),
        ],
        {("MISSING_REFUND", "rma=12399"), ("MISSING_RESTOCK", "rma=12399,line=1399")},
        {},
    ),
    "ambiguous RMA: one refund names two open returns": (
        [
            ret(RMA, state="open", label="in_transit"),
            ret("12346", state="open", label="in_transit"),
            order(),
            payout(),
            *settled_refund(note=f"RMA {RMA} and RMA 12346", lines=()),
        ],
        {("AMBIGUOUS_RMA", "refund=500")},
        {},
    ),
    "ambiguous RMA: one refund for two closed returns asks for no second refund": (
        [
            ret(RMA),
            ret("12346"),
            order(),
            payout(),
            *settled_refund(
                note=f"RMA {RMA} and RMA 12346",
                amount="40.00",
                lines=(rline(PLI, "SKU-A"), rline("1346", "SKU-A")),
            ),
        ],
        {("AMBIGUOUS_RMA", "refund=500")},  # nor a second restock: its lines may be theirs
        {},
    ),
    "ambiguous RMA: a note naming two returns on a failed refund holds nothing back": (
        [
            ret(RMA),
            ret("12346"),
            order(),
            refund("500", f"RMA {RMA} and RMA 12346", (txn("600", "40.00", status="FAILURE"),)),
        ],
        {
            ("AMBIGUOUS_RMA", "refund=500"),
            ("MISSING_REFUND", f"rma={RMA}"),
            ("MISSING_REFUND", "rma=12346"),
            ("MISSING_RESTOCK", f"rma={RMA},line={PLI}"),
            ("MISSING_RESTOCK", "rma=12346,line=1346"),
        },
        {},
    ),
    "refund on cancelled return": (
        [
            ret(RMA, state="cancelled", label=None, processed=False),
            order(),
            payout(),
            *settled_refund(lines=(rline(PLI, "SKU-A", restocked=False),)),
        ],
        {("REFUND_ON_CANCELLED_RETURN", f"rma={RMA}")},
        {},
    ),
    "a declined refund on a cancelled return: nothing is owed, so no retry is asked for": (
        [
            ret(RMA, state="cancelled", label=None, processed=False),
            order(),
            refund("500", f"Loop RMA #{RMA}", (txn("600", "20.00", status="FAILURE"),)),
        ],
        set(),
        {},
    ),
    "a bounced refund on an expired return: the money is back, nothing is owed": (
        [
            ret(RMA, state="expired", label=None, processed=False),
            order(),
            payout(),
            *settled_refund(lines=(UNRESTOCKED,)),
            bt("8900", "600", "20.00", kind="REFUND_FAILURE"),
        ],
        set(),
        {},
    ),
    "unsettled: 15 days old, no balance transaction": (
        [
            ret(RMA),
            order(),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "20", days=15),),
                lines=(rline(PLI, "SKU-A"),),
            ),
        ],
        {("UNSETTLED_REFUND", "transaction=600")},
        {},
    ),
    "unsettled: no balance transaction after 15 days, the transaction's processedAt null": (
        [
            ret(RMA),
            order(),
            payout(),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "20", days=None),),
                lines=(rline(PLI, "SKU-A"),),
                days=15,
            ),
        ],
        {("UNSETTLED_REFUND", "transaction=600")},
        {},
    ),
    "refund pending for 5 days, the transaction's processedAt null": (
        [
            ret(RMA),
            order(),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "20", status="PENDING", days=None),),
                lines=(rline(PLI, "SKU-A"),),
                days=5,
            ),
        ],
        {("REFUND_PENDING", "refund=500")},
        {},
    ),
    "unsettled: its payout failed (any age)": (
        [
            ret(RMA),
            order(),
            payout("701", status="FAILED"),
            refund("500", f"Loop RMA #{RMA}", (txn("600", "20"),), lines=(rline(PLI, "SKU-A"),)),
            bt("8600", "600", "20", payout="701", status="FAILED"),
        ],
        {("UNSETTLED_REFUND", "transaction=600")},
        {},
    ),
    "unsettled: its payout waits on the merchant (ACTION_REQUIRED) after 15 days": (
        [
            ret(RMA),
            order(),
            payout("701", status="SCHEDULED"),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "20", days=15),),
                lines=(rline(PLI, "SKU-A"),),
            ),
            bt("8600", "600", "20", payout="701", status="ACTION_REQUIRED"),
        ],
        {("UNSETTLED_REFUND", "transaction=600")},
        {},
    ),
    "payout waits on the merchant for 3 days: inside the allowed days": (
        [
            ret(RMA),
            order(),
            payout("701", status="SCHEDULED"),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "20", days=3),),
                lines=(rline(PLI, "SKU-A"),),
            ),
            bt("8600", "600", "20", payout="701", status="ACTION_REQUIRED"),
        ],
        set(),
        {},
    ),
    "unmatched: a 7.00 refund with no note on a returned order": (
        [*clean(), *settled_refund("501", note="goodwill", amount="7.00", tid="601", lines=())],
        {("UNMATCHED_REFUND", "refund=501")},
        {},
    ),
    "clean: a 1-yen rounding difference is within the 0.01 tolerance (one minor unit)": (
        yen_refund(paid="1999"),
        set(),
        {},
    ),
    "amount mismatch: 2 yen short is more than one minor unit": (
        yen_refund(paid="1998"),
        {("AMOUNT_MISMATCH", f"rma={RMA}")},
        {},
    ),
    "unmatched: a restock-only refund with no RMA put the returned unit back (no money)": (
        [
            ret(RMA),
            order(),
            payout(),
            refund("501", "restocked at the counter", (), lines=(rline(PLI, "SKU-A"),)),
        ],
        {
            ("MISSING_REFUND", f"rma={RMA}"),
            ("MISSING_RESTOCK", f"rma={RMA},line={PLI}"),
            ("UNMATCHED_REFUND", "refund=501"),  # holds recon's restock of that unit
        },
        {},
    ),
    "unmatched: a restock-only refund of another line item of the returned SKU": (
        [*clean(), refund("502", None, (), lines=(rline("1399", "SKU-A"),))],
        {("UNMATCHED_REFUND", "refund=502")},  # the same item: it may be the return's unit
        {},
    ),
    "clean: a restock-only refund of an item no Loop return on the order returned": (
        [*clean(), refund("502", None, (), lines=(rline("1399", "SKU-B"),))],
        set(),  # its units are no return's: nothing of recon's to hold, nothing to resolve
        {},
    ),
    "sku mismatch: SKU-B refunded for SKU-A returned": (
        [ret(RMA), order(), payout(), *settled_refund(lines=(rline("777", "SKU-B"),))],
        {("SKU_MISMATCH", f"rma={RMA}"), ("MISSING_RESTOCK", f"rma={RMA},line={PLI}")},
        {},
    ),
    "currency mismatch: GBP return, USD/EUR order": (
        [ret(RMA, currency="GBP"), order(presentment="EUR"), payout(), *settled_refund()],
        {("CURRENCY_MISMATCH", f"rma={RMA}")},
        {},
    ),
    "missing store credit: the gift card names 123456, not 12345": (
        store_credit(
            gift("900", "Loop RMA 123456"),
        ),
        {("MISSING_STORE_CREDIT", f"rma={RMA}")},
        {(RMA, PLI): (UNIT,)},
    ),
    "missing store credit: the gift card naming the RMA holds 5.00 of 20.00": (
        store_credit(
            gift("900", f"Store credit for Loop return #{RMA}.", "5.00"),
        ),
        {("MISSING_STORE_CREDIT", f"rma={RMA}")},
        {(RMA, PLI): (UNIT,)},
    ),
    "clean: store credit in two gift cards naming the RMA": (
        store_credit(
            gift("900", f"Store credit for Loop return #{RMA}.", "15.00"),
            gift("901", f"Rest of the store credit, return {RMA}, return {RMA}", "5.00"),
        ),
        set(),
        {(RMA, PLI): (UNIT,)},
    ),
    "missing restock: refunded without restocking": (
        [
            ret(RMA),
            order(),
            payout(),
            *settled_refund(lines=(rline(PLI, "SKU-A", restocked=False),)),
        ],
        {("MISSING_RESTOCK", f"rma={RMA},line={PLI}")},
        {},
    ),
    "ghost inventory: restocked while the unit is still in transit": (
        [
            ret(RMA, state="open", label="in_transit", processed=False),
            order(),
            payout(),
            *settled_refund(),
        ],
        {("GHOST_INVENTORY", f"rma={RMA},line={PLI}")},
        {},
    ),
    "ghost inventory: recon restocked the unit, then the return was cancelled": (
        [ret(RMA, state="cancelled"), order()],
        {("GHOST_INVENTORY", f"rma={RMA},line={PLI}")},
        {(RMA, PLI): (UNIT,)},
    ),
    "clean: recon restocked a received unit of a closed return": (
        [
            ret(RMA),
            order(),
            payout(),
            *settled_refund(lines=(rline(PLI, "SKU-A", restocked=False),)),
        ],
        set(),
        {(RMA, PLI): (UNIT,)},
    ),
    "missing restock: two units of one line item, one restocked": (
        [ret(RMA, refund="40.00", lines=two_units()), order(), payout(), *two_unit_refund(1)],
        {("MISSING_RESTOCK", f"rma={RMA},line={PLI}")},
        {},
    ),
    "clean: two units of one line item, both restocked by one refund line": (
        [ret(RMA, refund="40.00", lines=two_units()), order(), payout(), *two_unit_refund(2)],
        set(),
        {},
    ),
    "clean: two units, the refund restocked one and recon the other": (
        [ret(RMA, refund="40.00", lines=two_units()), order(), payout(), *two_unit_refund(1)],
        set(),
        {(RMA, PLI): ("9002",)},
    ),
    "clean: two units, the refund restocked one, a ledger row without unit ids the other": (
        [ret(RMA, refund="40.00", lines=two_units()), order(), payout(), *two_unit_refund(1)],
        set(),
        {(RMA, PLI): ("",)},
    ),
    "missing restock: recon restocked one unit of two, the refund none": (
        [ret(RMA, refund="40.00", lines=two_units()), order(), payout(), *two_unit_refund(0)],
        {("MISSING_RESTOCK", f"rma={RMA},line={PLI}")},
        {(RMA, PLI): ("9001",)},
    ),
    "ghost inventory: two units restocked, one graded, one still in transit": (
        [
            ret(
                RMA,
                state="open",
                label="in_transit",
                processed=False,
                refund="40.00",
                lines=two_units(inspected=True),
            ),
            order(),
            payout(),
            *two_unit_refund(2),
        ],
        {("GHOST_INVENTORY", f"rma={RMA},line={PLI}")},
        {},
    ),
    "ghost inventory: a refund restocked two units of a line returned once": (
        [ret(RMA), order(), payout(), *settled_refund(lines=(rline(PLI, "SKU-A", qty=2),))],
        {("GHOST_INVENTORY", f"rma={RMA},line={PLI}"), ("SKU_MISMATCH", f"rma={RMA}")},
        {},
    ),
    "ghost inventory: recon restocked the unit and the refund restocked it too": (
        clean(),
        {("GHOST_INVENTORY", f"rma={RMA},line={PLI}")},
        {(RMA, PLI): (UNIT,)},
    ),
    "clean: the note names the order number beside the RMA": (
        [ret(RMA), order(), payout(), *settled_refund(note=f"Return #100 - Loop RMA #{RMA}")],
        set(),
        {},
    ),
    "clean: restocked after inspection while the label still says in transit": (
        [
            ret(
                RMA,
                state="open",
                label="in_transit",
                processed=False,
                lines=(line(PLI, "SKU-A", inspected=True),),
            ),
            order(),
            payout(),
            *settled_refund(),
        ],
        set(),
        {},
    ),
    "status drift: Loop closed, Shopify order still IN_PROGRESS": (
        [
            ret(RMA),
            ret("12399", state="closed", lines=(line("1399", "SKU-A"),)),
            order(return_status="IN_PROGRESS"),
            payout(),
            *settled_refund(),
            *settled_refund(
                "501", note="Loop RMA #12399", tid="601", lines=(rline("1399", "SKU-A"),)
            ),
        ],
        {("STATUS_DRIFT", "order=100")},
        {},
    ),
    "stale: open 40 days, still in transit": (
        [ret(RMA, state="open", label="in_transit", processed=False, created_days=40), order()],
        {("STALE_RETURN", f"rma={RMA}")},
        {},
    ),
    # --- clean cases that must raise nothing ---------------------------------------------------
    "clean: exchange with no refund (unit restocked by recon)": (
        [ret(RMA, refund="0", outcome="exchange", total="20.00"), order()],
        set(),
        {(RMA, PLI): (UNIT,)},
    ),
    "clean: store credit with its gift card": (
        store_credit(
            gift("900", f"Store credit for Loop return #{RMA}."),
        ),
        set(),
        {(RMA, PLI): (UNIT,)},
    ),
    "clean: partial refund (12.00 of a 20.00 item)": (
        [
            ret(RMA, refund="12.00", total="20.00"),
            order(),
            payout(),
            *settled_refund(amount="12.00"),
        ],
        set(),
        {},
    ),
    "clean: mixed tender in two transactions (card 12 + gift card 8)": (
        [
            ret(RMA),
            order(),
            payout(),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "12.00"), txn("601", "8.00", gateway="gift_card", days=15)),
                lines=(rline(PLI, "SKU-A"),),
            ),
            bt("8600", "600", "12.00"),
        ],
        set(),
        {},
    ),
    "clean: multi-currency (Loop USD; refund 18.50 EUR = 20.00 USD shop money)": (
        [
            ret(RMA),
            order(presentment="EUR"),
            payout(),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "18.50", currency="EUR", shop_amount="20.00"),),
                lines=(rline(PLI, "SKU-A"),),
                currency="EUR",
            ),
            bt("8600", "600", "20.00"),
        ],
        set(),
        {},
    ),
    "clean: several returns on one order, each refunded": (
        [
            ret(RMA),
            ret("12399", lines=(line("1399", "SKU-B"),)),
            order(),
            payout(),
            *settled_refund(),
            *settled_refund(
                "501", note="Loop RMA #12399", tid="601", lines=(rline("1399", "SKU-B"),)
            ),
        ],
        set(),
        {},
    ),
    "clean: refund issued before inspection, not restocked yet": (
        [
            ret(RMA, state="open", label="in_transit", processed=False),
            order(),
            payout(),
            *settled_refund(lines=(rline(PLI, "SKU-A", restocked=False),)),
        ],
        set(),
        {},
    ),
    "clean: refund 3 days old not yet in a payout (limit 10 days)": (
        [
            ret(RMA),
            order(),
            refund(
                "500", f"Loop RMA #{RMA}", (txn("600", "20", days=3),), lines=(rline(PLI, "SKU-A"),)
            ),
        ],
        set(),
        {},
    ),
    "clean: linked by Loop's provider_refund_id": (
        [ret(RMA, provider_refund_ids=("500",)), order(), payout(), *settled_refund(note=None)],
        set(),
        {},
    ),
    "two returns list the same refund: ambiguous, neither is refunded again": (
        [
            ret("999", provider_refund_ids=("500",)),
            ret("1000", provider_refund_ids=("500",)),
            order(),
            payout(),
            *settled_refund(note=None, lines=(rline("1999", "SKU-A"),)),
        ],
        {("AMBIGUOUS_RMA", "refund=500")},
        {},
    ),
    "two returns list a refund whose note names an unknown number: ambiguous": (
        [
            ret("999", provider_refund_ids=("500",)),
            ret("1000", provider_refund_ids=("500",)),
            order(),
            payout(),
            *settled_refund(note="RMA 777", lines=()),
        ],
        {  # it paid, so no second refund; it restocked nothing, so both still need restocking
            ("AMBIGUOUS_RMA", "refund=500"),
            ("MISSING_RESTOCK", "rma=999,line=1999"),
            ("MISSING_RESTOCK", "rma=1000,line=1000"),
        },
        {},
    ),
    "two returns list a refund whose note names one of them: ambiguous all the same": (
        [
            ret("999", provider_refund_ids=("500",)),
            ret("1000", provider_refund_ids=("500",)),
            order(),
            payout(),
            *settled_refund(note="Loop RMA #999", lines=(rline("1999", "SKU-A"),)),
        ],
        {("AMBIGUOUS_RMA", "refund=500")},
        {},
    ),
    "the note names one return, Loop lists the refund on another: ambiguous": (
        [
            ret("999"),
            ret("1000", provider_refund_ids=("500",)),
            order(),
            payout(),
            *settled_refund(note="Loop RMA #999", lines=(rline("1999", "SKU-A"),)),
        ],
        {("AMBIGUOUS_RMA", "refund=500")},
        {},
    ),
    "the note names two returns, Loop lists the refund on a third: all three are held": (
        [
            ret("999"),
            ret("1000"),
            ret("1001", provider_refund_ids=("500",)),
            order(),
            payout(),
            *settled_refund(note="RMA #999 RMA #1000", lines=()),
        ],
        {
            ("AMBIGUOUS_RMA", "refund=500"),
            ("MISSING_RESTOCK", "rma=999,line=1999"),
            ("MISSING_RESTOCK", "rma=1000,line=1000"),
            ("MISSING_RESTOCK", "rma=1001,line=1001"),
        },
        {},
    ),
    "the note and Loop name the same return: linked by the note": (
        [
            ret(RMA, provider_refund_ids=("500",)),
            order(),
            payout(),
            *settled_refund(),
        ],
        set(),
        {},
    ),
    "clean: Loop's provider_refund_id links a refund whose note names an unknown number": (
        [
            ret(RMA, provider_refund_ids=("500",)),
            order(),
            payout(),
            *settled_refund(note="Refund for Return #5551234"),
        ],
        set(),
        {},
    ),
    "clean: a note typing the RMA in fullwidth digits names that RMA": (
        [ret(RMA), order(), payout(), *settled_refund(note="Loop RMA #１２３４５")],
        set(),
        {},
    ),
    "clean: store credit whose gift card names the RMA in Arabic-Indic digits": (
        store_credit(
            gift("900", "Store credit for Loop return #١٢٣٤٥"),
        ),
        set(),
        {(RMA, PLI): (UNIT,)},
    ),
    # --- boundaries: each threshold is "more than", so the limit itself raises nothing ----------
    "amount off by exactly the tolerance (19.99 of 20.00): no mismatch": (
        [ret(RMA), order(), payout(), *settled_refund(amount="19.99")],
        set(),
        {},
    ),
    "amount off by one cent more than the tolerance (19.98 of 20.00): mismatch": (
        [ret(RMA), order(), payout(), *settled_refund(amount="19.98")],
        {("AMOUNT_MISMATCH", f"rma={RMA}")},
        {},
    ),
    "one refund over-paying (25.00 of 20.00) is an amount mismatch, not a duplicate": (
        [ret(RMA), order(), payout(), *settled_refund(amount="25.00")],
        {("AMOUNT_MISMATCH", f"rma={RMA}")},
        {},
    ),
    "refund pending for exactly 3 days (limit 3): not yet": (
        [ret(RMA), order(), refund_with("PENDING", days=3)],
        set(),
        {},
    ),
    "refund pending for 3.5 days (limit 3)": (
        [ret(RMA), order(), refund_with("PENDING", days=3.5)],
        {("REFUND_PENDING", "refund=500")},
        {},
    ),
    "unsettled: exactly 10 days old, no balance transaction (limit 10): not yet": (
        [ret(RMA), order(), refund_with("SUCCESS", days=10)],
        set(),
        {},
    ),
    "unsettled: 10.5 days old, no balance transaction (limit 10)": (
        [ret(RMA), order(), refund_with("SUCCESS", days=10.5)],
        {("UNSETTLED_REFUND", "transaction=600")},
        {},
    ),
    "stale: open exactly 30 days (limit 30): not yet": (
        [ret(RMA, state="open", label="in_transit", processed=False, created_days=30), order()],
        set(),
        {},
    ),
    "stale: open 30.5 days (limit 30)": (
        [ret(RMA, state="open", label="in_transit", processed=False, created_days=30.5), order()],
        {("STALE_RETURN", f"rma={RMA}")},
        {},
    ),
    # --- every status of findings.md's buckets, spelled out (not read from the engine) -------
    **{
        f"refund {status} for 5 days: pending": (
            [ret(RMA), order(), refund_with(status, days=5)],
            {("REFUND_PENDING", "refund=500")},
            {},
        )
        for status in ("PENDING", "AWAITING_RESPONSE", "UNKNOWN")
    },
    **{
        f"refund {status}: failed": (
            [ret(RMA), order(), refund_with(status, days=2)],
            {("REFUND_FAILED", "refund=500")},
            {},
        )
        for status in ("FAILURE", "ERROR")
    },
    "heuristic: same order and amount, other SKUs: half a match links nothing": (
        [
            ret(RMA),
            order(),
            payout(),
            *settled_refund(note="customer returned it", lines=(rline("1777", "SKU-B"),)),
        ],
        {("UNMATCHED_REFUND", "refund=500"), ("MISSING_REFUND", f"rma={RMA}")},
        {(RMA, PLI): (UNIT,)},
    ),
    "clean: store credit one cent short (19.99 of 20.00), within the tolerance": (
        store_credit(
            gift("900", f"Store credit for Loop return #{RMA}.", "19.99"),
        ),
        set(),
        {(RMA, PLI): (UNIT,)},
    ),
    "missing store credit: two cents short (19.98 of 20.00), beyond the tolerance": (
        store_credit(
            gift("900", f"Store credit for Loop return #{RMA}.", "19.98"),
        ),
        {("MISSING_STORE_CREDIT", f"rma={RMA}")},
        {(RMA, PLI): (UNIT,)},
    ),
    "clean: store credit issued in another currency counts as issued": (
        store_credit(
            gift("900", f"Store credit for Loop return #{RMA}.", "18.00").model_copy(
                update={"currency": "EUR"}
            ),
        ),
        set(),
        {(RMA, PLI): (UNIT,)},
    ),
    "clean: a refund's VOID transaction is no refund money (only kind REFUND counts)": (
        [
            ret(RMA),
            order(),
            payout(),
            refund(
                "500",
                f"Loop RMA #{RMA}",
                (txn("600", "20.00"), txn("601", "20.00").model_copy(update={"kind": "VOID"})),
                lines=(rline(PLI, "SKU-A"),),
            ),
            bt("8600", "600", "20.00"),
        ],
        set(),
        {},
    ),
    "status drift: Loop closed, Shopify order still RETURN_REQUESTED": (
        [
            ret(RMA),
            order(return_status="RETURN_REQUESTED"),
            payout(),
            *settled_refund(),
        ],
        {("STATUS_DRIFT", "order=100")},
        {},
    ),
    "closed by hand, never processed, parcel in transit: nothing is back to restock": (
        [ret(RMA, label="in_transit", processed=False), order()],
        {("MISSING_REFUND", f"rma={RMA}")},
        {},
    ),
    "clean: linked by heuristic (same order, amount and SKUs)": (
        [ret(RMA), order(), payout(), *settled_refund(note="customer returned it")],
        set(),
        {},
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_findings_truth_table(name: str) -> None:
    records, expected, restocked = CASES[name]
    assert keyset(run(*records, restocked=restocked)) == expected


def test_every_category_is_covered_by_a_truth_table() -> None:
    raised = {cat for _, expected, _ in CASES.values() for cat, _ in expected}
    assert raised == {c.value for c in Category}


def test_match_methods_and_amounts() -> None:
    provider = run(*CASES["clean: linked by Loop's provider_refund_id"][0])
    heuristic = run(*CASES["clean: linked by heuristic (same order, amount and SKUs)"][0])
    assert provider.matches.loc[0, "match_method"] == "provider_refund_id"
    assert heuristic.matches.loc[0, "match_method"] == "heuristic"
    assert heuristic.links.loc[0, "confidence"] == 1.0
    mismatch = run(*CASES["amount mismatch: 15.00 refunded for 20.00 owed"][0])
    (finding,) = mismatch.findings
    assert (finding.amount_at_risk, finding.currency) == (Decimal("5.00"), "USD")
    assert finding.shopify_refund_ids == ("500",) and finding.shopify_order_name == "#100"
    assert mismatch.matches.loc[0, "refunded_total"] == Decimal("15.00")


def test_a_refund_in_another_currency_is_no_refunded_total_of_zero() -> None:
    """A GBP return refunded 20.00 in the USD order's money: the Matched sheet showed its
    refunded_total as 0.00 GBP (nothing refunded) beside its paid refund and payout. The total
    cannot be stated in GBP, so it is left empty; the CURRENCY_MISMATCH says why."""
    result = run(*CASES["currency mismatch: GBP return, USD/EUR order"][0])
    row = result.matches.iloc[0]
    assert row["currency"] == "GBP" and row["refund_ids"] == "500"
    assert row["refunded_total"] is None
    clean = run(
        *CASES["clean: multi-currency (Loop USD; refund 18.50 EUR = 20.00 USD shop money)"][0]
    )
    assert clean.matches.loc[0, "refunded_total"] == Decimal("20.00")


def test_multi_currency_uses_presentment_when_loop_speaks_it() -> None:
    """Loop EUR, order shop USD / presentment EUR: the 18.50 EUR refund matches 18.50 EUR."""
    records = [
        ret(RMA, refund="18.50", currency="EUR"),
        order(presentment="EUR"),
        payout(),
        refund(
            "500",
            f"Loop RMA #{RMA}",
            (txn("600", "18.50", currency="EUR", shop_amount="20.00"),),
            lines=(rline(PLI, "SKU-A"),),
            currency="EUR",
        ),
        bt("8600", "600", "20.00"),
    ]
    assert keyset(run(*records)) == set()


def test_amounts_at_risk_are_in_the_money_findings_md_names() -> None:
    """Shop USD, presentment EUR, Loop EUR: a declined refund is at risk in Loop's EUR (the
    money basis), an unmatched one in shop money, a stale return for its total (not its
    refund). Amounts worked out by hand from docs/findings.md."""
    records = [
        ret(RMA, refund="18.50", currency="EUR"),
        ret("12399", state="open", label="in_transit", created_days=40, total="35.00"),
        order(presentment="EUR"),
        refund(
            "500",
            f"Loop RMA #{RMA}",
            (txn("600", "18.50", status="FAILURE", currency="EUR", shop_amount="20.00"),),
            lines=(rline(PLI, "SKU-A"),),
            currency="EUR",
        ),
        refund(
            "501",
            None,
            (txn("601", "7.00", currency="EUR", shop_amount="7.60"),),
            currency="EUR",
        ),
    ]
    found = {f.key: (f.amount_at_risk, f.currency) for f in run(*records).findings}
    assert found == {
        "REFUND_FAILED|refund=500": (Decimal("18.50"), "EUR"),
        "UNMATCHED_REFUND|refund=501": (Decimal("7.60"), "USD"),
        "STALE_RETURN|rma=12399": (Decimal("35.00"), "USD"),
    }


def test_heuristic_declines_when_two_returns_qualify() -> None:
    """Two unlinked returns on the order look the same: the refund stays unmatched.

    The refund matches both in amount and SKUs (confidence 1.0 each): it is the tie, not a
    weak match, that keeps it unlinked.
    """
    records = [
        ret(RMA, state="open", label="in_transit"),
        ret("12346", state="open", label="in_transit", lines=(line("1345", "SKU-A"),)),
        order(),
        payout(),
        *settled_refund(note=None, lines=(UNRESTOCKED,)),
    ]
    assert keyset(run(*records)) == {("UNMATCHED_REFUND", "refund=500")}
    alone = [r for r in records if getattr(r, "id", None) != "12346"]
    assert run(*alone).links["rma"].tolist() == [RMA]  # either return alone would link


@pytest.mark.parametrize("summary", ["-27.00", "27.00"])  # the summary's sign is unverified
def test_payout_tieout_counts_matched_and_unmatched_refunds(summary: str) -> None:
    records = [*CASES["unmatched: a 7.00 refund with no note on a returned order"][0]]
    records[2] = payout(refunds_gross=summary)
    tie = run(*records).payout_tieout
    row = tie.iloc[0]
    assert (row["refunds_count"], row["refunds_matched"], row["refunds_unmatched"]) == (2, 1, 1)
    assert (row["refunds_sum"], row["difference"]) == (Decimal("-27.00"), Decimal("0.00"))
    assert row["summary_refunds_gross"] == Decimal("-27.00")


def test_payout_tieout_sums_the_unmatched_refunds_for_finance_to_accrue() -> None:
    """Payout 700 carries the linked 20.00 refund and the 7.00 one with no note: the 7.00 no
    RMA explains is its unmatched sum, money out (negative) like ``refunds_sum``; a payout
    whose refunds all link has 0.00 unmatched."""
    records = CASES["unmatched: a 7.00 refund with no note on a returned order"][0]
    row = run(*records).payout_tieout.iloc[0]
    assert (row["refunds_unmatched"], row["refunds_unmatched_sum"]) == (1, Decimal("-7.00"))
    assert row["refunds_sum"] == Decimal("-27.00")
    quiet = run(*clean()).payout_tieout.iloc[0]
    assert (quiet["refunds_unmatched"], quiet["refunds_unmatched_sum"]) == (0, Decimal("0.00"))


@pytest.mark.parametrize("summary", ["-20.00", "20.00"])
def test_payout_tieout_difference_is_the_refunds_the_summary_lacks(summary: str) -> None:
    """Refund rows total -27.00 against a 20.00 summary: 7.00 more went out than it shows."""
    records = [*CASES["unmatched: a 7.00 refund with no note on a returned order"][0]]
    records[2] = payout(refunds_gross=summary)
    row = run(*records).payout_tieout.iloc[0]
    assert row["difference"] == Decimal("-7.00")


def test_payout_tieout_shows_bounced_refunds_beside_the_refunds() -> None:
    """A refund paid out in payout 700 bounced: the payout shows the REFUND_FAILURE (money back
    in) apart from the REFUND rows, whose tie-out against the summary it does not change."""
    records = [*clean(), bt("8900", "600", "20.00", kind="REFUND_FAILURE")]
    records[records.index(payout())] = payout(refunds_gross="-20.00")
    row = run(*records).payout_tieout.iloc[0]
    assert (row["refunds_count"], row["refund_failures_count"]) == (1, 1)
    assert (row["refunds_sum"], row["difference"]) == (Decimal("-20.00"), Decimal("0.00"))
    assert row["refund_failures_sum"] == Decimal("20.00")
    untied = [*clean(), bt("8900", "600", "20.00", kind="REFUND_FAILURE", tied=False)]
    assert run(*untied).payout_tieout.iloc[0]["refund_failures_count"] == 1
    quiet = run(*clean()).payout_tieout.iloc[0]
    assert (quiet["refund_failures_count"], quiet["refund_failures_sum"]) == (0, Decimal("0.00"))


def test_muted_categories_are_counted_not_reported() -> None:
    records = CASES["missing restock: refunded without restocking"][0]
    assert keyset(run(*records)) == {("MISSING_RESTOCK", f"rma={RMA},line={PLI}")}
    muted = run(*records, settings=EngineSettings(muted_categories=[Category.MISSING_RESTOCK]))
    assert muted.findings == [] and muted.muted == {"MISSING_RESTOCK": 1}
    other = run(*records, settings=EngineSettings(muted_categories=[Category.STALE_RETURN]))
    assert keyset(other) == keyset(run(*records)) and other.muted == {}


def test_a_partly_restocked_line_names_the_missing_unit_and_its_price() -> None:
    records = CASES["missing restock: two units of one line item, one restocked"][0]
    (finding,) = run(*records).findings
    assert finding.amount_at_risk == Decimal("20.00")  # one unit of two, not the line
    assert finding.loop_line_item_ids == ("9002",)  # units in Loop id order: 9001 is covered
    assert finding.detail == "1 of 2 received units not restocked in Shopify"


def test_a_ghost_unit_is_the_one_not_received() -> None:
    records = CASES["ghost inventory: two units restocked, one graded, one still in transit"][0]
    (finding,) = run(*records).findings
    assert finding.amount_at_risk == Decimal("20.00")
    assert finding.loop_line_item_ids == ("9002",)  # 9001 is graded: in the warehouse


class _PlainPaths:
    """``codes`` module stand-in whose uniqueness test always fails: the merge paths run."""

    def __getattr__(self, name: str) -> object:
        return getattr(codes_mod, name)

    @staticmethod
    def is_unique(*_: object) -> bool:
        return False


@pytest.mark.parametrize(
    "name", [n for n in CASES if "restock" in n or "ghost" in n or "unit" in n]
)
def test_stock_rules_give_the_same_findings_on_the_merge_path(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    records, _, restocked = CASES[name]
    fast = run(*records, restocked=restocked).findings
    monkeypatch.setattr(classify_restock, "codes_mod", _PlainPaths())
    assert run(*records, restocked=restocked).findings == fast


def test_the_unit_recon_restocked_is_not_named_again() -> None:
    records, _, restocked = CASES[
        "missing restock: recon restocked one unit of two, the refund none"
    ]
    (finding,) = run(*records, restocked={(RMA, PLI): ("9002",)}).findings
    assert finding.loop_line_item_ids == ("9001",)  # 9002 is named by the ledger: restocked
    (finding,) = run(*records, restocked=restocked).findings
    assert finding.loop_line_item_ids == ("9002",)


def test_a_repeated_loop_id_names_the_same_unit_whatever_the_row_order() -> None:
    cheap, dear = line(PLI, "SKU-A", "10.00", uid="777"), line(PLI, "SKU-A", "30.00", uid="777")
    amounts = set()
    for units in ((cheap, dear), (dear, cheap)):
        records = [ret(RMA, refund="40.00", lines=units), order(), payout(), *two_unit_refund(0)]
        (finding,) = run(*records, restocked={(RMA, PLI): ("777",)}).findings
        amounts.add((finding.loop_line_item_ids, finding.amount_at_risk))
    assert amounts == {(("777",), Decimal("30.00"))}  # the ledger's 777 is the first: 10.00


def test_return_scoped_findings_name_the_linked_refunds() -> None:
    records = [
        ret(RMA),
        order(),
        payout(),
        *settled_refund("500", tid="600"),
        *settled_refund("501", tid="601"),
    ]
    findings = {f.category: f for f in run(*records).findings}
    assert findings[Category.DUPLICATE_REFUND].shopify_refund_ids == ("500", "501")


def test_restocks_beyond_the_units_returned_are_ghost_stock_at_the_unit_price() -> None:
    records, _, restocked = CASES[
        "ghost inventory: a refund restocked two units of a line returned once"
    ]
    findings = {f.category: f for f in run(*records, restocked=restocked).findings}
    ghost = findings[Category.GHOST_INVENTORY]
    assert ghost.amount_at_risk == Decimal("20.00") and ghost.loop_line_item_ids == ()
    assert ghost.detail == "restocked more units than were returned"


def test_heuristic_prefers_the_live_return_to_a_cancelled_one() -> None:
    """The customer cancelled return 12346 and opened 12345 for the same item: the refund with
    no note is for the live return; with only the cancelled one, it links to that (and says so).
    """
    cancelled = ret("12346", state="cancelled", lines=(line(PLI, "SKU-A"),))
    live = ret(RMA)
    refund_ = settled_refund(note=None)
    both = run(cancelled, live, order(), payout(), *refund_)
    assert [(x.rma, x.match_method) for x in both.links.itertuples()] == [(RMA, "heuristic")]
    assert keyset(both) == set()
    alone = run(cancelled, order(), payout(), *refund_)
    assert keyset(alone) >= {("REFUND_ON_CANCELLED_RETURN", "rma=12346")}


def test_a_short_gift_card_leaves_the_rest_of_the_store_credit_at_risk() -> None:
    records, _, restocked = CASES[
        "missing store credit: the gift card naming the RMA holds 5.00 of 20.00"
    ]
    (finding,) = run(*records, restocked=restocked).findings
    assert finding.amount_at_risk == Decimal("15.00")
    assert finding.detail == "gift cards naming the RMA add up to less than the store credit"


def test_failed_and_pending_refunds_name_their_transactions() -> None:
    pending = run(*CASES["refund pending for 5 days, the transaction's processedAt null"][0])
    (finding,) = pending.findings
    assert finding.transaction_ids == ("600",)
    failed = run(*CASES["refund failed: the only transaction failed"][0])
    (finding,) = [f for f in failed.findings if f.category is Category.REFUND_FAILED]
    assert finding.transaction_ids == ("600",)


def test_a_bounced_refund_names_its_transaction_and_says_it_bounced() -> None:
    records = CASES[
        "refund bounced: the failure names the transaction by sourceId only (unverified case)"
    ]
    (finding,) = run(*records[0]).findings
    assert finding.transaction_ids == ("600",)
    assert finding.amount_at_risk == Decimal("20.00")
    assert "bounced" in finding.detail


def test_a_note_naming_a_return_of_another_order_says_so() -> None:
    records = CASES[
        "a note naming a return of another order, no return of its own fits: UNKNOWN_RMA"
    ]
    (finding,) = [f for f in run(*records[0]).findings if f.category is Category.UNKNOWN_RMA]
    assert (finding.rma, finding.amount_at_risk) == ("12399", Decimal("20.00"))
    assert finding.detail == "the note names a return of another order: 12399 on #101"


def test_a_refund_loop_lists_twice_says_so() -> None:
    records = CASES["two returns list the same refund: ambiguous, neither is refunded again"][0]
    (finding,) = run(*records).findings
    assert finding.detail == "Loop lists the refund on several returns: 999, 1000"
    assert finding.amount_at_risk == Decimal("20.00")
    records = CASES["the note names one return, Loop lists the refund on another: ambiguous"][0]
    (finding,) = run(*records).findings
    assert finding.detail == "the note and Loop's record name different returns: 999, 1000"


@pytest.mark.parametrize("category", [Category.AMBIGUOUS_RMA, Category.UNMATCHED_REFUND])
def test_findings_that_hold_refunds_back_cannot_be_muted(category: Category) -> None:
    """Muted, nothing would say why the returns are held back; not held, recon would propose
    paying them again."""
    with pytest.raises(ValueError, match=f"{category.value} cannot be muted"):
        EngineSettings(muted_categories=[category])

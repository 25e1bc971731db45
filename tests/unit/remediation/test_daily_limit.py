"""The per-shop daily limit on what remediation moves (``max_daily_total``, ``max_daily_count``).

Each truth-table row is a ledger (intents sent earlier, each as shop, amount, currency, when it
was sent and its state now), tonight's asked writes, the limits, and the expected verdict: None
(apply) or a phrase of the hold reason. The shop is in New York (UTC-5 in November): its day of
28 November runs from 05:00 UTC on the 28th to 05:00 UTC on the 29th.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count, pairwise

import pytest
from remediation_world import SHOP, finding, make_order, make_return, settings
from run_helpers import SimulatedCrashError, crash_once_at, intents, run
from sqlalchemy import select
from sqlalchemy.orm import Session

from recon.models import Category
from recon.remediation.daily import daily_limit_reason
from recon.remediation.ledger import ActionEventRow, ActionRow, events
from recon.remediation.limits import check_daily
from recon.remediation.planner import RmaContext
from recon.remediation.trail import RESENDING

NY = "America/New_York"
NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # 22:00 on 28 November in New York
_keys = count(1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add_sent(
    session: Session,
    sent_at: datetime,
    state: str = "done",
    *,
    amount: str | None = "100.00",
    currency: str | None = "USD",
    shop: str = SHOP,
    sends: int = 1,
) -> None:
    """An intent sent ``sends`` times at ``sent_at`` (0: never sent), now in ``state``."""
    n = next(_keys)
    row = ActionRow(
        key=f"key-{n}", shop=shop, rma=f"rma-{n}", kind="refund", subject="", n=0,
        category="MISSING_REFUND", finding_key=f"finding-{n}", order_id="gid://shopify/Order/1",
        amount=amount, currency=currency, state=state, reason="", details={},
        created_at=sent_at, updated_at=sent_at,
    )  # fmt: skip
    session.add(row)
    session.flush()
    trail = ["planned", *(["sending"] * sends), state]
    for before, after in pairwise(trail):
        resend = RESENDING if before == after == "sending" else ""  # as the executor says it
        session.add(
            ActionEventRow(
                action_id=row.id,
                at=sent_at,
                from_state=before,
                to_state=after,
                actor="recon",
                reason=resend,
            )
        )


USD = {"max_daily_total": {"USD": Decimal("250.00")}}
TWO = {"max_daily_count": 2}
ON_28 = at("2026-11-28 15:00")


@pytest.mark.parametrize(
    ("ledger", "asked", "limits", "expected"),
    [
        # no daily limits set: exactly as before, whatever was moved
        ([(ON_28, "done", {})] * 5, [("100.00", "USD")], {}, None),
        # per currency: 100 moved + 100 asked is within 250; + 200 asked is over
        ([(ON_28, "done", {})], [("100.00", "USD")], USD, None),
        ([(ON_28, "done", {})], [("200.00", "USD")], USD, "max_daily_total 250.00 USD"),
        # currencies are never added: 100 USD moved and 200 EUR asked, each within its limit
        (
            [(ON_28, "done", {})],
            [("200.00", "EUR")],
            {"max_daily_total": {"USD": Decimal("250"), "EUR": Decimal("250")}},
            None,
        ),
        # moved EUR does not count against USD
        (
            [(ON_28, "done", {"currency": "EUR", "amount": "240.00"})],
            [("200.00", "USD")],
            {"max_daily_total": {"USD": Decimal("250"), "EUR": Decimal("250")}},
            None,
        ),
        # a currency asked with no daily limit while others have one: held, as per run
        ([], [("10.00", "KWD")], USD, "no max_daily_total for KWD"),
        # count: 1 sent + 1 asked within 2; 1 sent + 2 asked over
        ([(ON_28, "done", {})], [("1.00", "USD")], TWO, None),
        ([(ON_28, "done", {})], [("1.00", "USD"), (None, None)], TWO, "max_daily_count 2"),
        # restocks and tags (no amount) count as writes, and add nothing to the totals
        ([(ON_28, "done", {"amount": None, "currency": None})] * 2, [(None, None)], TWO, "count"),
        # outcome unknown, or still sending: assume paid
        ([(ON_28, "unknown", {})], [("200.00", "USD")], USD, "max_daily_total"),
        ([(ON_28, "sending", {})], [("200.00", "USD")], USD, "max_daily_total"),
        # refused on its only send: nothing moved; refused on a resend after a lost answer:
        # the first send may have landed
        ([(ON_28, "failed", {})], [("200.00", "USD")], USD, None),
        ([(ON_28, "failed", {"sends": 2})], [("200.00", "USD")], USD, "max_daily_total"),
        ([(ON_28, "needs_review", {"sends": 2})], [("200.00", "USD")], USD, "max_daily_total"),
        # done without being sent (the re-read found the refund already there): recon moved nothing
        ([(ON_28, "done", {"sends": 0})], [("200.00", "USD")], USD, None),
        # another shop's intents are not this shop's day
        ([(ON_28, "done", {"shop": "other"})], [("200.00", "USD")], USD, None),
        # yesterday's (the shop's 27th) do not count
        ([(at("2026-11-27 15:00"), "done", {})], [("200.00", "USD")], USD, None),
        # the day is the shop's: 04:59 UTC on the 28th is still the 27th in New York...
        ([(at("2026-11-28 04:59"), "done", {})], [("200.00", "USD")], USD, None),
        # ...05:00 UTC on the 28th is its first minute of the 28th...
        ([(at("2026-11-28 05:00"), "done", {})], [("200.00", "USD")], USD, "max_daily_total"),
        # ...and 01:00 UTC on the 29th is still its 28th
        ([(at("2026-11-29 01:00"), "done", {})], [("200.00", "USD")], USD, "max_daily_total"),
        # nothing asked: nothing to hold
        ([(ON_28, "done", {})] * 5, [], {**USD, **TWO}, None),
    ],
)
def test_daily_limit(sessions, ledger, asked, limits, expected):
    with sessions() as session, session.begin():
        for sent_at, state, extra in ledger:
            add_sent(session, sent_at, state, **extra)
    policy = settings(**limits)
    writes = [(None if a is None else Decimal(a), c) for a, c in asked]
    with sessions() as session:
        verdict = daily_limit_reason(session, SHOP, writes, policy, NOW, NY)
    assert verdict is None if expected is None else expected in (verdict or "")


def test_hold_reason_names_the_limit_the_day_what_moved_and_what_was_asked():
    moved = [(Decimal("100.00"), "USD"), (Decimal("60.00"), "USD")]
    asked = [(Decimal("120.00"), "USD")]
    why = check_daily(moved, asked, settings(**USD), "2026-11-28 (America/New_York)")
    assert why == (
        "daily limit: 160.00 USD moved on 2026-11-28 (America/New_York) and 120.00 USD asked "
        "exceed max_daily_total 250.00 USD" + NEXT_DAY.format(setting="max_daily_total")
    )
    why = check_daily(moved, asked, settings(**TWO), "2026-11-28 (America/New_York)")
    assert why == (
        "daily limit: 2 writes sent on 2026-11-28 (America/New_York) and 1 asked exceed "
        "max_daily_count 2" + NEXT_DAY.format(setting="max_daily_count")
    )


# What the operator reads after the reason: the limits are all or nothing, and what to do.
NEXT_DAY = (
    "; all or nothing, none of them was sent: the shop's next day sends them, or sooner once "
    "some are rejected (run_recon.py actions list, then run_recon.py actions reject ID... "
    "--reason TEXT) "
    "or [remediation] {setting} is raised"
)
EVERY_DAY = (
    "; all or nothing, none of them was sent: these writes alone exceed {setting}, so every "
    "day holds them until some are rejected (run_recon.py actions list, then run_recon.py "
    "actions reject ID... --reason TEXT) or [remediation] {setting} is raised"
)


@pytest.mark.parametrize(
    ("moved", "asked", "limits", "expected"),
    [
        # tonight's writes alone are over: no later day sends them
        ([], ["300.00"], USD, EVERY_DAY.format(setting="max_daily_total")),
        ([], ["1.00"] * 3, TWO, EVERY_DAY.format(setting="max_daily_count")),
        # over only with what the day moved: the next day sends them
        (["200.00"], ["100.00"], USD, NEXT_DAY.format(setting="max_daily_total")),
        (["1.00"], ["1.00"] * 2, TWO, NEXT_DAY.format(setting="max_daily_count")),
    ],
)
def test_hold_reason_says_it_is_all_or_nothing_and_what_to_do(moved, asked, limits, expected):
    why = check_daily(
        [(Decimal(a), "USD") for a in moved],
        [(Decimal(a), "USD") for a in asked],
        settings(**limits),
        "2026-11-28 (America/New_York)",
    )
    assert why is not None and why.endswith(expected)


def test_a_currency_without_a_daily_total_says_to_name_it():
    why = check_daily([], [(Decimal("10.00"), "KWD")], settings(**USD), "2026-11-28 (UTC)")
    assert why == (
        "daily limit: refunds in KWD but no max_daily_total for KWD; all or nothing, none of "
        "them was sent: every day holds them until some are rejected (run_recon.py actions "
        "list, then run_recon.py actions reject ID... --reason TEXT) or [remediation] "
        "max_daily_total names KWD"
    )


def test_settings_default_to_no_daily_limit():
    assert settings().max_daily_total == {} and settings().max_daily_count is None


def test_second_run_of_the_day_is_held(sessions, gateway, clock):
    """Two runs on the shop's same day, each within the per-run limits: the first refunds 701
    (48.60 USD), the second's refund for 702 (30.00 USD) would take the day to 78.60, over
    max_daily_total 60: it is held unsent, with the reason on its audit trail. On the next
    shop day it goes out."""
    policy = settings(max_daily_total={"USD": Decimal("60.00")}, auto_apply=["MISSING_REFUND"])
    contexts = {
        rma: RmaContext(make_return(rma, line, refund=amount), make_order())
        for rma, line, amount in [("12345701", "2001", "48.60"), ("12345702", "2002", "30.00")]
    }
    first = run(
        sessions, gateway, clock, policy=policy, contexts=contexts,
        findings=[finding(Category.MISSING_REFUND, "12345701")], run_id="run-1", timezone=NY,
    )  # fmt: skip
    assert first.halted is None
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1
    clock.advance(timedelta(hours=1))  # 23:00 in New York: the same day, on demand
    both = [
        finding(Category.MISSING_REFUND, "12345701"),
        finding(Category.MISSING_REFUND, "12345702"),
    ]
    second = run(
        sessions, gateway, clock, policy=policy, contexts=contexts, findings=both,
        run_id="run-2", timezone=NY,
    )  # fmt: skip
    assert second.halted is not None and "max_daily_total 60.00 USD" in second.halted
    assert "48.60 USD moved" in second.halted and "30.00 USD asked" in second.halted
    assert gateway.refunds_with("Loop RMA #12345702") == []
    held = [row for row in intents(sessions) if row.rma == "12345702"]
    assert [row.state for row in held] == ["planned"]
    with sessions() as session:
        assert "daily limit" in events(session, held[0].id)[-1].reason
    clock.advance(timedelta(hours=24))  # the shop's next day
    third = run(
        sessions, gateway, clock, policy=policy, contexts=contexts, findings=both,
        run_id="run-3", timezone=NY,
    )  # fmt: skip
    assert third.halted is None
    assert len(gateway.refunds_with("Loop RMA #12345702")) == 1


def test_in_flight_intent_left_for_the_next_run_is_not_a_send_of_that_day(sessions):
    """An intent left ``sending`` on the 27th whose re-read failed on the 28th (the run notes
    it and leaves it for the next run) sent nothing on the 28th: the 28th's limit is untouched.
    A real resend on the 28th (sending → sending with the same key) does count."""
    with sessions() as session, session.begin():
        add_sent(session, at("2026-11-27 15:00"), "sending")
        row = session.scalars(select(ActionRow)).one()
        session.add(
            ActionEventRow(
                action_id=row.id, at=ON_28, from_state="sending", to_state="sending",
                actor="recon", reason="could not read Shopify, left for the next run: timeout",
            )
        )  # fmt: skip
    asked = [(Decimal("200.00"), "USD")]
    with sessions() as session:
        assert daily_limit_reason(session, SHOP, asked, settings(**USD), NOW, NY) is None
    with sessions() as session, session.begin():
        session.add(
            ActionEventRow(
                action_id=row.id, at=ON_28, from_state="sending", to_state="sending",
                actor="recon", reason=RESENDING,
            )
        )  # fmt: skip
    with sessions() as session:
        why = daily_limit_reason(session, SHOP, asked, settings(**USD), NOW, NY)
    assert why is not None and "100.00 USD moved on 2026-11-28" in why


def test_a_write_whose_run_died_before_its_answer_counts_for_the_day(sessions, gateway, clock):
    """The first run of the day sends 702's restock and is killed before Shopify's answer is
    recorded (the restock landed). The warehouse then acknowledges 702's MISSING_RESTOCK, so
    the day's second run sends the restock to review unresent: its outcome was never known,
    so it counts as moved, as one whose answer was lost to a 502 does. With max_daily_count 1
    the second run's refund waits for the next day; it went out, two writes on a day of one."""
    policy = settings(max_daily_count=1)
    with pytest.raises(SimulatedCrashError):
        run(
            sessions, gateway, clock, policy=policy, crash=crash_once_at("after_request_sent"),
            findings=[finding(Category.MISSING_RESTOCK, "12345702", line="2002")],
        )  # fmt: skip
    assert gateway.available("3002") == 8  # the restock landed; its answer was never recorded
    clock.advance(timedelta(minutes=11))  # the dead run's lease expires; the same day
    second = run(
        sessions, gateway, clock, policy=policy, holder="run-b", run_id="run-2",
        findings=[finding(Category.MISSING_REFUND, "12345701")],
    )  # fmt: skip
    restock = next(row for row in intents(sessions) if row.kind == "restock")
    assert restock.state == "needs_review" and "not resent" in restock.reason
    assert second.halted is not None and "max_daily_count 1" in second.halted
    assert "1 writes sent" in second.halted
    assert gateway.refunds_with("Loop RMA #12345701") == []

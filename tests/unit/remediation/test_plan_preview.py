"""Plan mode's preview of the limits: what an apply run now would send, and whether the
per-run breaker or the daily limits would hold it, with the figures.

Dataset: two returns owed a refund, 12345701 (48.60 USD) and 12345702 (30.00 USD), on a New
York shop. 701's refund was sent by an apply run at 22:00 on 28 November (New York); the
preview is taken an hour later, the same shop day, with both findings still open.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from remediation_world import SHOP, finding, make_order, make_return, settings
from run_helpers import run
from sqlalchemy import select
from test_daily_limit import NEXT_DAY, NOW, NY

from recon.models import Category
from recon.remediation.facts import ledger_facts
from recon.remediation.ledger import ActionRow
from recon.remediation.planner import RmaContext, plan_actions
from recon.remediation.preview import limits_preview

CONTEXTS = {
    rma: RmaContext(make_return(rma, line, refund=amount), make_order())
    for rma, line, amount in [("12345701", "2001", "48.60"), ("12345702", "2002", "30.00")]
}
BOTH = [finding(Category.MISSING_REFUND, "12345701"), finding(Category.MISSING_REFUND, "12345702")]
DAY = "2026-11-28 (America/New_York)"


def _preview(sessions, clock, **limits) -> tuple[str, ...]:
    policy = settings(auto_apply=["MISSING_REFUND"], **limits)
    with sessions() as session:
        facts = ledger_facts(session, SHOP)
        plan = plan_actions(BOTH, policy, CONTEXTS, shop=SHOP, ledger=facts)
        return limits_preview(
            session, plan, facts, policy, shop=SHOP, now=clock.now(), timezone=NY
        ).lines


@pytest.fixture
def sent_701(sessions, gateway, clock):
    clock.set(NOW)  # 22:00 on the 28th in New York
    policy = settings(auto_apply=["MISSING_REFUND"])
    report = run(
        sessions, gateway, clock, policy=policy, contexts=CONTEXTS,
        findings=BOTH[:1], timezone=NY,
    )  # fmt: skip
    assert [a.state for a in report.applied] == ["done"]
    clock.advance(timedelta(hours=1))


@pytest.mark.parametrize(
    ("limits", "verdict"),
    [
        ({}, "within every limit"),
        ({"max_daily_total": {"USD": Decimal("100.00")}}, "within every limit"),
        (
            {"max_daily_total": {"USD": Decimal("60.00")}},
            "the limits would hold all of them: daily limit: 48.60 USD moved on "
            f"{DAY} and 30.00 USD asked exceed max_daily_total 60.00 USD"
            + NEXT_DAY.format(setting="max_daily_total"),
        ),
        (
            {"max_daily_count": 1},
            "the limits would hold all of them: daily limit: 1 writes sent on "
            f"{DAY} and 1 asked exceed max_daily_count 1"
            + NEXT_DAY.format(setting="max_daily_count"),
        ),
        (
            {"max_run_total": {"USD": Decimal("20.00")}},
            "the limits would hold all of them: circuit breaker: refunds of 30.00 USD exceed "
            "max_run_total 20.00 USD; all or nothing, none of them was sent: every run holds "
            "them until some are rejected (run_recon.py actions list, then run_recon.py "
            "actions reject ID... --reason TEXT) or [remediation] max_run_total is raised",
        ),
    ],
)
def test_the_preview_says_whether_an_apply_run_would_be_held(
    sessions, clock, sent_701, limits, verdict
):
    headline, per_run, per_day = _preview(sessions, clock, **limits)
    assert headline == (
        "plan only, nothing sent: an apply run now would send 1 write(s) (refunds 30.00 USD); "
        + verdict
    )
    run_total = limits.get("max_run_total", settings().max_run_total)["USD"]
    assert per_run == (
        f"per run: 1 write(s) of max_run_count 50; 30.00 USD planned of max_run_total "
        f"{run_total} USD"
    )
    if not {"max_daily_total", "max_daily_count"} & limits.keys():
        assert per_day == (
            f"per day {DAY}: no daily limit set ([remediation] max_daily_total, max_daily_count)"
        )
        return
    total = limits.get("max_daily_total", {}).get("USD")
    assert per_day == (
        f"per day {DAY}: 1 write(s) sent so far + 1 planned of max_daily_count "
        f"{limits.get('max_daily_count', '(none)')}; 48.60 USD moved so far + 30.00 USD "
        f"planned = 78.60 USD of max_daily_total {f'{total} USD' if total else '(not set)'}"
    )


def test_nothing_to_send_says_nothing(sessions, clock):
    """Nothing auto-applied and nothing approved: an apply run would send nothing."""
    policy = settings(auto_apply=[], max_daily_count=0)
    with sessions() as session:
        facts = ledger_facts(session, SHOP)
        plan = plan_actions(BOTH, policy, CONTEXTS, shop=SHOP, ledger=facts)
        lines = limits_preview(session, plan, facts, policy, shop=SHOP, now=NOW, timezone=NY).lines
    assert lines == ()


def test_a_currency_without_a_daily_total_is_shown_held(sessions, clock, sent_701):
    limits = {"max_daily_total": {"EUR": Decimal("100.00")}}
    headline, _, per_day = _preview(sessions, clock, **limits)
    assert "daily limit: refunds in USD but no max_daily_total for USD;" in headline
    assert headline.endswith("[remediation] max_daily_total names USD")
    assert per_day.endswith("= 78.60 USD of max_daily_total (none for USD: held)")


def test_a_held_write_whose_amount_changed_since_is_not_counted(sessions, gateway, clock):
    """An apply run's circuit breaker held both refunds (planned, unsent); then Loop lowered
    702's to 25.00. An apply run now withdraws 702's intent unsent (the write it holds is no
    longer owed; the new amount is proposed on the next run) and sends 701's alone: the preview
    says so, not two writes of 73.60 USD."""
    clock.set(NOW)
    held = settings(auto_apply=["MISSING_REFUND"], max_run_total={"USD": Decimal("10.00")})
    report = run(sessions, gateway, clock, policy=held, contexts=CONTEXTS, findings=BOTH)
    assert report.halted is not None
    lowered = {
        **CONTEXTS,
        "12345702": RmaContext(make_return("12345702", "2002", refund="25.00"), make_order()),
    }
    policy = settings(auto_apply=["MISSING_REFUND"])
    with sessions() as session:
        facts = ledger_facts(session, SHOP)
        plan = plan_actions(BOTH, policy, lowered, shop=SHOP, ledger=facts)
        headline = limits_preview(
            session, plan, facts, policy, shop=SHOP, now=clock.now(), timezone=NY
        ).lines[0]

    applied = run(sessions, gateway, clock, policy=policy, contexts=lowered, findings=BOTH).applied

    sent = [(a.rma, a.state) for a in applied if a.state == "done"]
    assert sent == [("12345701", "done")]
    assert headline == (
        "plan only, nothing sent: an apply run now would send 1 write(s) (refunds 48.60 USD); "
        "within every limit"
    )


@pytest.mark.parametrize("left", ["unknown", "sending"])
def test_an_intent_an_apply_run_would_resend_counts_toward_the_day(sessions, gateway, clock, left):
    """701's refund (48.60 USD) was sent on the 27th and its answer lost (``unknown``), or the
    run died while sending it (``sending``). On the 28th an apply run first re-reads Shopify,
    finds no refund and resends it: a send of the 28th. With 702's 30.00 USD that is 78.60 USD,
    over max_daily_total 60: the apply run is held, so the preview must say it would be."""
    clock.set(NOW - timedelta(days=1))  # 22:00 on the 27th in New York
    policy = settings(auto_apply=["MISSING_REFUND"], max_daily_total={"USD": Decimal("60.00")})
    gateway.lose = {"refund"}  # the request never arrived: the intent is unknown
    first = run(
        sessions, gateway, clock, policy=policy, contexts=CONTEXTS, findings=BOTH[:1],
        timezone=NY,
    )  # fmt: skip
    assert [a.state for a in first.applied] == ["unknown"]
    if left == "sending":
        with sessions() as session, session.begin():
            session.scalars(select(ActionRow)).one().state = "sending"
    clock.set(NOW)

    headline, _, per_day = _preview(sessions, clock, max_daily_total={"USD": Decimal("60.00")})
    applied = run(
        sessions, gateway, clock, policy=policy, contexts=CONTEXTS, findings=BOTH,
        run_id="run-2", timezone=NY,
    )  # fmt: skip

    assert applied.halted is not None and "48.60 USD moved" in applied.halted
    assert headline == (
        "plan only, nothing sent: an apply run now would send 1 write(s) (refunds 30.00 USD) "
        "after resending 1 left in flight (refunds 48.60 USD); the limits would hold all of "
        f"them: {applied.halted}"
    )
    assert per_day == (
        f"per day {DAY}: 0 write(s) sent so far + 1 to resend + 1 planned of max_daily_count "
        "(none); 0.00 USD moved so far + 48.60 USD to resend + 30.00 USD planned = 78.60 USD "
        "of max_daily_total 60.00 USD"
    )


def test_an_intent_sent_earlier_the_same_day_is_counted_once(sessions, gateway, clock):
    """701's answer was lost at 22:00 on the 28th; an hour later its resend would be a second
    send of the same day, not a second write of it: 48.60 + 30.00 USD, within 100.00."""
    clock.set(NOW)
    policy = settings(auto_apply=["MISSING_REFUND"], max_daily_total={"USD": Decimal("100.00")})
    gateway.lose = {"refund"}
    run(sessions, gateway, clock, policy=policy, contexts=CONTEXTS, findings=BOTH[:1], timezone=NY)
    clock.advance(timedelta(hours=1))

    headline, _, per_day = _preview(sessions, clock, max_daily_total={"USD": Decimal("100.00")})
    applied = run(
        sessions, gateway, clock, policy=policy, contexts=CONTEXTS, findings=BOTH,
        run_id="run-2", timezone=NY,
    )  # fmt: skip

    assert applied.halted is None
    assert headline.endswith("(refunds 30.00 USD); within every limit")
    assert per_day.endswith(
        "48.60 USD moved so far + 30.00 USD planned = 78.60 USD of max_daily_total 100.00 USD"
    )


def test_the_preview_says_when_an_apply_run_would_only_resend_what_is_in_flight(
    sessions, gateway, clock
):
    """701's refund (48.60 USD) was sent on the 27th and its answer lost (``unknown``); nothing
    else is owed. Plan mode said nothing of the limits (nothing new to send), though an apply
    run would resend 701's refund first: the preview says so, and that no limit holds it."""
    clock.set(NOW - timedelta(days=1))
    policy = settings(auto_apply=["MISSING_REFUND"], max_daily_count=1)
    gateway.lose = {"refund"}
    first = run(
        sessions, gateway, clock, policy=policy, contexts=CONTEXTS, findings=BOTH[:1],
        timezone=NY,
    )  # fmt: skip
    assert [a.state for a in first.applied] == ["unknown"]
    gateway.lose = set()
    clock.set(NOW)
    with sessions() as session:
        facts = ledger_facts(session, SHOP)
        plan = plan_actions(BOTH[:1], policy, CONTEXTS, shop=SHOP, ledger=facts)
        said = limits_preview(
            session, plan, facts, policy, shop=SHOP, now=clock.now(), timezone=NY
        ).lines

    applied = run(
        sessions, gateway, clock, policy=policy, contexts=CONTEXTS, findings=BOTH[:1],
        run_id="run-2", timezone=NY,
    )  # fmt: skip

    assert [(a.rma, a.state) for a in applied.recovered] == [("12345701", "done")]
    assert said == (
        "plan only, nothing sent: an apply run now would send nothing new; it would first "
        "resend 1 left in flight (refunds 48.60 USD) unless its re-read finds it in Shopify "
        "(no limit holds a resend)",
    )

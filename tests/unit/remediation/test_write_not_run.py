"""A write Shopify answered with top-level GraphQL errors (shopify-admin-api.md §16, §17).

A document rejected whole (validation, parse: no ``data``) ran nothing: the intent fails with
Shopify's message (reported, not resent every night, not counted toward the day's money). A
throttle outlasted (THROTTLED or 429 retried until the attempts ran out) ran nothing either,
but the write is still owed: it stays for the next run, which re-reads the order before it
resends with the same key, and counts toward the day only once it is sent again.
``INTERNAL_SERVER_ERROR`` may have run: unknown, counted, as before. So does any HTTP 4xx
other than 429 (§16 leaves their meaning for a write unverified): recorded as unknown.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from remediation_world import SHOP, T0, finding
from run_helpers import intents, run

from recon.clock import VirtualClock
from recon.errors import (
    AuthError,
    FatalHTTPError,
    OutcomeUnknownError,
    RequestRejectedError,
    RetryBudgetExhaustedError,
    RetryExhaustedError,
)
from recon.models import Category
from recon.remediation.daily import moved_between
from recon.remediation.trail import NOT_RUN
from recon.sources.http import RetryingSender, RetryPolicy
from recon.sources.retry_budget import RetryBudget
from recon.sources.shopify_checks import raise_for_errors

REFUND_701 = [finding(Category.MISSING_REFUND, "12345701")]
DAY = (T0 - timedelta(hours=2), T0 + timedelta(days=1))
VALIDATION = {
    "errors": [
        {
            "message": "Variable $input of type RefundInput! was provided invalid value",
            "extensions": {"code": "INVALID_VARIABLE"},
        }
    ]
}


def _rejection(body: dict) -> FatalHTTPError:
    """What the Shopify client raises for this body (its own check, not a hand-made error)."""
    response = httpx.Response(200, json=body, headers={"X-Request-Id": "req-1"})
    with pytest.raises(FatalHTTPError) as caught:
        raise_for_errors(body, response)
    return caught.value


def _moved(sessions) -> list:
    with sessions() as session:
        return moved_between(session, SHOP, *DAY)


def test_a_rejected_document_fails_with_shopifys_message_and_is_not_resent(
    sessions, gateway, clock
):
    gateway.raise_next["refund"] = _rejection(VALIDATION)
    first = run(sessions, gateway, clock, findings=REFUND_701)
    (outcome,) = first.applied
    assert outcome.state == "failed", outcome.reason
    assert "INVALID_VARIABLE" in outcome.reason and "nothing was written" in outcome.reason
    assert _moved(sessions) == []  # nothing ran: the day moved nothing
    second = run(sessions, gateway, clock, findings=REFUND_701, run_id="run-2")
    assert second.applied == () and second.recovered == ()  # not resent night after night
    assert gateway.refunds_with("Loop RMA #12345701") == []


def test_partial_data_with_errors_may_have_run_and_stays_unknown(sessions, gateway, clock):
    body = {**VALIDATION, "data": {"refundCreate": None}}
    gateway.raise_next["refund"] = _rejection(body)
    (outcome,) = run(sessions, gateway, clock, findings=REFUND_701).applied
    assert outcome.state == "unknown"
    assert len(_moved(sessions)) == 1  # counted as paid until the next run re-reads it


def test_a_throttle_outlasted_is_sent_by_the_next_run_and_counted_once(sessions, gateway, clock):
    """The next run resends it before its new writes are checked against the limits, with no
    check of its own: the day counts it when first sent, as a write that may move, and once."""
    gateway.raise_next["refund"] = RetryExhaustedError(
        "shopify POST /graphql.json: gave up after 5 attempts; last failure: THROTTLED"
    )
    (outcome,) = run(sessions, gateway, clock, findings=REFUND_701).applied
    assert outcome.state == "unknown" and "not run" in outcome.reason
    assert len(_moved(sessions)) == 1  # nothing ran, but its resend is not checked again
    clock.advance(timedelta(hours=1))
    second = run(sessions, gateway, clock, findings=REFUND_701, run_id="run-2")
    assert [o.state for o in second.recovered] == ["done"]
    assert len(gateway.refunds_with("Loop RMA #12345701")) == 1
    assert len(_moved(sessions)) == 1
    (row,) = intents(sessions)
    assert row.state == "done"


def test_a_resend_throttled_after_a_lost_answer_still_counts(sessions, gateway, clock):
    """The first send's answer was lost (it may have landed): the day counts it though the
    resend ran nothing."""
    gateway.raise_next["refund"] = OutcomeUnknownError("HTTP 502")  # may have run
    run(sessions, gateway, clock, findings=REFUND_701)
    assert len(_moved(sessions)) == 1
    gateway.raise_next["refund"] = RetryExhaustedError("gave up: THROTTLED")
    clock.advance(timedelta(hours=1))
    (resent,) = run(sessions, gateway, clock, findings=REFUND_701, run_id="run-2").recovered
    assert resent.state == "unknown"
    assert len(_moved(sessions)) == 1


@pytest.mark.parametrize(
    ("body", "rejected"),
    [
        (VALIDATION, True),
        ({"errors": [{"message": "Parse error on \"}\" (RCURLY) at [1, 2]"}]}, True),
        ({**VALIDATION, "data": None}, True),
        ({**VALIDATION, "data": {"refundCreate": None}}, False),  # partial: may have run
        ({"errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR",
          "requestId": "r"}}]}, False),
        ({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}, False),
        # How refundCreate reports a key conflict is unverified (shopify-admin-api.md §10): as a
        # top-level error, its first request did or may run; taken for "nothing ran", the
        # write would fail and a person might pay it again.
        ({"errors": [{"message": "busy",
                      "extensions": {"code": "IDEMPOTENCY_CONCURRENT_REQUEST"}}]}, False),
        ({"errors": [{"message": "Idempotency key was used with different parameters"}]}, False),
    ],
)  # fmt: skip
def test_only_a_document_rejected_whole_is_taken_for_nothing_run(body, rejected):
    assert isinstance(_rejection(body), RequestRejectedError) is rejected


def _answered(status: int, *, budget: RetryBudget | None = None) -> Exception:
    """What the real sender raises for a write Shopify answers ``status`` every time."""
    answer = httpx.Response(status, text="{}", headers={"Retry-After": "2"})
    transport = httpx.MockTransport(lambda request: answer)
    sender = RetryingSender(  # on a virtual clock: its waits take no time
        httpx.Client(transport=transport),
        clock=VirtualClock(T0),
        policy=RetryPolicy(max_attempts=3),
        service="shopify",
        budget=budget,
    )
    with pytest.raises(Exception) as caught:
        sender.send(httpx.Request("POST", "https://shop.example/graphql.json"), write=True)
    return caught.value


def test_a_write_answered_429_until_the_runs_budget_ran_out_ran_nothing(sessions, gateway, clock):
    """429 means Shopify did not run the request (§17). Once the run's throttle budget is
    spent the run stops; the refund is recorded as not run, not as an outcome unknown: the
    next run sends it, and a refusal then is no money that may have moved today."""
    spent = _answered(429, budget=RetryBudget("shopify", throttle_seconds=0.5))
    assert isinstance(spent, RetryBudgetExhaustedError)
    gateway.raise_next["refund"] = spent
    with pytest.raises(RetryBudgetExhaustedError):
        run(sessions, gateway, clock, findings=REFUND_701)
    (row,) = intents(sessions)
    assert row.state == "unknown" and row.reason.startswith(NOT_RUN), row.reason
    gateway.user_errors["refund"] = {"field": ["orderId"], "message": "Order is archived"}
    clock.advance(timedelta(hours=1))
    (refused,) = run(sessions, gateway, clock, findings=REFUND_701, run_id="run-2").recovered
    assert refused.state == "failed"
    assert _moved(sessions) == []  # Shopify ran neither send: the day moved nothing


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 422, 423])
def test_other_4xx_answers_to_a_write_stay_unknown(sessions, gateway, clock, status):
    """§16 gives these statuses' meanings as unverified and says nothing of whether a write so
    answered ran: recon does not guess, the next run re-reads before any resend."""
    error = _answered(status)
    assert isinstance(error, AuthError | FatalHTTPError)
    assert not isinstance(error, RequestRejectedError)
    gateway.raise_next["refund"] = error
    if isinstance(error, AuthError):
        with pytest.raises(AuthError):
            run(sessions, gateway, clock, findings=REFUND_701)
    else:
        run(sessions, gateway, clock, findings=REFUND_701)
    (row,) = intents(sessions)
    assert row.state == "unknown" and "outcome unknown" in row.reason, row.reason
    assert len(_moved(sessions)) == 1  # counted as paid until the next run re-reads it

"""One intent's audit trail, and why money was not paid back.

An auditor could not see one action's history (who proposed, approved or rejected it, when, why,
what was sent and what Shopify answered): the ledger kept it, no command showed it. And
``actions reject`` took no reason (found by review). ``actions history ID`` shows the trail;
``reject`` requires ``--reason``, as ``findings ack`` requires ``--note``.

Dataset: refund intent 1 (48.60 USD, RMA 12345701) proposed by the planner on Nov 1, approved
by alice@finance on Nov 1 ("checked the return in Loop"), sent and done on Nov 2 (Shopify's
refund gid://shopify/Refund/777), as the ledger's own calls record them; refund intent 2 (RMA
12345702) proposed on Nov 1 and not decided.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.unit.cli.test_cli_superseded import NIGHT_1, NIGHT_2, _main, _refund

APPROVED_AT = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
SENT = {"input": {"orderId": "gid://shopify/Order/1001", "note": "Loop RMA #12345701",
                  "transactions": [{"amount": "48.60"}], "currency": "USD"}}  # fmt: skip
ANSWER = {"refundCreate": {"refund": {"id": "gid://shopify/Refund/777"}, "userErrors": []}}


def _ledger(config: Path) -> None:
    from dataclasses import replace

    from sqlalchemy.orm import sessionmaker

    from recon.bootstrap import open_store
    from recon.config import RemediationMode, load_settings
    from recon.remediation.ledger import ActionRow, approve, record_plan, transition
    from recon.remediation.planner import ActionState, idempotency_key

    store = open_store(load_settings(config))
    other = replace(_refund(1, "20.00"), rma="12345702", finding_key="MISSING_REFUND|rma=12345702")
    other = replace(other, key=idempotency_key("sandbox", "12345702", other.kind, 1))
    try:
        with sessionmaker(store.engine)() as session, session.begin():
            record_plan(session, [_refund(1, "48.60"), other],
                        mode=RemediationMode.APPROVAL, now=NIGHT_1, run_id="night-1")  # fmt: skip
        with sessionmaker(store.engine)() as session, session.begin():
            approve(session, "sandbox", [1], actor="alice@finance", now=APPROVED_AT,
                    reason="checked the return in Loop")  # fmt: skip
        with sessionmaker(store.engine)() as session, session.begin():
            row = session.get_one(ActionRow, 1)
            row.variables = SENT
            transition(session, row, ActionState.SENDING, actor="run", now=NIGHT_2,
                       reason="sending", run_id="night-2")  # fmt: skip
            row.result_id = "gid://shopify/Refund/777"
            transition(session, row, ActionState.DONE, actor="run", now=NIGHT_2,
                       reason="refunded", response=ANSWER, run_id="night-2")  # fmt: skip
    finally:
        store.close()


def _states(config: Path) -> tuple[dict[int, str], int]:
    """Each intent's state, and how many events the trail holds."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from recon.bootstrap import open_store
    from recon.config import load_settings
    from recon.remediation.ledger import ActionEventRow, ActionRow

    store = open_store(load_settings(config))
    try:
        with Session(store.engine) as session:
            states = {
                i: state for i, state in session.execute(select(ActionRow.id, ActionRow.state))
            }
            return states, int(session.scalar(select(func.count(ActionEventRow.id))) or 0)
    finally:
        store.close()


def test_history_shows_who_decided_what_was_sent_and_what_shopify_answered(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ledger(config)
    before = _states(config)
    code, out, err = _main(monkeypatch, capsys, "actions", "history", "1", "--config", str(config))
    assert code == 0, err
    lines = out.splitlines()
    assert "refund 48.60 USD" in out and "RMA 12345701" in out and "order 1001" in out, out
    (proposed,) = [x for x in lines if "2026-11-01 02:00" in x]
    assert "proposed" in proposed and "planner" in proposed and "night-1" in proposed, proposed
    (approved,) = [x for x in lines if "2026-11-01 09:30" in x]
    assert "approved" in approved and "alice@finance" in approved, approved
    assert "checked the return in Loop" in approved, approved
    (done,) = [x for x in lines if "2026-11-02 02:00" in x and "sending → done" in x]
    assert "night-2" in done and "refunded" in done, done
    (answer,) = [x for x in lines if "gid://shopify/Refund/777" in x and "refundCreate" in x]
    assert "2026-11-02 02:00" in answer and "done" in answer, answer  # Shopify's answer
    (sent,) = [x for x in lines if "Loop RMA #12345701" in x]
    assert '"amount": "48.60"' in sent and "sent" in sent, sent  # what went out under the key
    assert _states(config) == before  # read-only


def test_history_of_an_unknown_action_exits_2(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ledger(config)
    code, _, err = _main(monkeypatch, capsys, "actions", "history", "99", "--config", str(config))
    assert code == 2 and "99" in err and "Traceback" not in err, err


@pytest.mark.parametrize("reason", [None, "  "])
def test_reject_without_a_reason_is_refused_and_rejects_nothing(
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reason: str | None,
) -> None:
    _ledger(config)
    given = [] if reason is None else ["--reason", reason]
    code, out, err = _main(
        monkeypatch, capsys, "actions", "reject", "2", *given, "--config", str(config)
    )
    assert code == 2 and "--reason" in out + err, (out, err)
    assert _states(config)[0][2] == "proposed"


def test_reject_with_a_reason_records_who_and_why(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _ledger(config)
    why = "customer kept the item"
    code, _, err = _main(
        monkeypatch, capsys, "actions", "reject", "2", "--reason", why, "--config", str(config)
    )
    assert code == 0, err
    code, out, err = _main(monkeypatch, capsys, "actions", "history", "2", "--config", str(config))
    (rejected,) = [x for x in out.splitlines() if "rejected" in x and why in x]
    assert "proposed → rejected" in rejected, rejected

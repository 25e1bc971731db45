"""``actions history ID``: each send under the key reads as a send, with what it sent.

A resend (sending → sending, the same key) read "note (sending)", as a note that sends
nothing does, and only the last variables were shown: an auditor could not tell how many
times recon wrote to Shopify, nor what each write carried.

Datasets, as the ledger's own calls record them:
- refund intent 1 (48.60 USD) approved on Nov 1; sent on Nov 2 (no answer: unknown); resent
  on Nov 3 (a read of Shopify then failed: a note, nothing sent); resent on Nov 4, done.
- intent 1 with a restock's variables (2 units), approved on Nov 1; sent on Nov 2 with
  changeFromQuantity 5, throttled (not run by Shopify); resent on Nov 3 with the stock read
  again (7), done.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from recon.remediation.trail import NOT_RUN, RESENDING, resend_reason
from tests.unit.cli.test_cli_superseded import NIGHT_1, _main, _refund

DAY = timedelta(days=1)
REFUND = {"input": {"orderId": "gid://shopify/Order/1001", "note": "Loop RMA #12345701",
                    "transactions": [{"amount": "48.60"}], "currency": "USD"}}  # fmt: skip
ANSWER = {"refundCreate": {"refund": {"id": "gid://shopify/Refund/777"}, "userErrors": []}}


def _restock(quantity: int) -> dict[str, Any]:
    change = {"delta": 2, "changeFromQuantity": quantity, "inventoryItemId": "gid://x/1"}
    return {"input": {"reason": "restock", "changes": [change]}}


def _sends(config: Path, sends: list[tuple[dict[str, Any], str, str | None]]) -> None:
    """Intent 1 approved on NIGHT_1, then each ``(variables, reason, state after)`` a night
    apart: a send (``reason`` "sending" or a resend's), or a note (``variables`` None)."""
    from sqlalchemy.orm import sessionmaker

    from recon.bootstrap import open_store
    from recon.config import RemediationMode, load_settings
    from recon.remediation.ledger import ActionRow, approve, note, record_plan, transition
    from recon.remediation.planner import ActionState

    store = open_store(load_settings(config))
    try:
        with sessionmaker(store.engine)() as session, session.begin():
            record_plan(session, [_refund(1, "48.60")], mode=RemediationMode.APPROVAL,
                        now=NIGHT_1, run_id="night-1")  # fmt: skip
            approve(session, "sandbox", [1], actor="alice@finance", now=NIGHT_1, reason="ok")
        for night, (variables, why, after) in enumerate(sends, start=2):
            at, run = NIGHT_1 + (night - 1) * DAY, f"night-{night}"
            with sessionmaker(store.engine)() as session, session.begin():
                row = session.get_one(ActionRow, 1)
                if variables is None:
                    note(session, row, actor="run", now=at, reason=why, run_id=run)
                    continue
                row.variables = variables
                transition(session, row, ActionState.SENDING, actor="run", now=at, reason=why,
                           run_id=run)  # fmt: skip
                if after is not None:
                    response = ANSWER if after == "done" else None
                    transition(session, row, ActionState(after), actor="run", now=at,
                               reason=after if after == "done" else NOT_RUN, run_id=run,
                               response=response)  # fmt: skip
    finally:
        store.close()


def _history(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    code, out, err = _main(monkeypatch, capsys, "actions", "history", "1", "--config", str(config))
    assert code == 0, err
    return out.splitlines()


def test_each_send_reads_as_a_send_numbered_with_what_it_sent(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failed_read = "could not read Shopify, left for the next run: 503"
    _sends(config, [(REFUND, "sending", "unknown"), (REFUND, RESENDING, None),
                    (None, failed_read, None), (REFUND, RESENDING, "done")])  # fmt: skip
    lines = _history(config, monkeypatch, capsys)
    rows = [x for x in lines if "│" in x and "night-" in x]
    first = next(x for x in rows if "2026-11-02" in x and "send" in x)
    assert "first send" in first and "note" not in first, first
    (resend_1,) = [x for x in rows if "2026-11-03" in x and "send" in x]
    assert "resend 1" in resend_1 and "note" not in resend_1, resend_1
    (nothing_sent,) = [x for x in rows if "2026-11-04" in x]  # the failed read sent nothing
    assert "note (sending)" in nothing_sent and "resend" not in nothing_sent, nothing_sent
    resend_2 = next(x for x in rows if "2026-11-05" in x and "send" in x)
    assert "resend 2" in resend_2, resend_2
    sent = [x for x in lines if "Loop RMA #12345701" in x]
    assert len(sent) == 3, lines  # what each of the three sends carried, whole
    for said, label, day in zip(
        sent, ("first send", "resend 1", "resend 2"), (2, 3, 5), strict=True
    ):
        assert label in said and f"2026-11-0{day}" in said and '"amount": "48.60"' in said


def test_a_resend_with_the_stock_read_again_shows_each_sends_own_figure(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reread = resend_reason(_restock(5), _restock(7))
    _sends(config, [(_restock(5), "sending", "unknown"), (_restock(7), reread, "done")])
    lines = _history(config, monkeypatch, capsys)
    (first,) = [x for x in lines if "changeFromQuantity" in x and "first send" in x]
    assert '"changeFromQuantity": 5' in first and "2026-11-02" in first, first
    (again,) = [x for x in lines if "changeFromQuantity" in x and "resend 1" in x and "{" in x]
    assert '"changeFromQuantity": 7' in again and "2026-11-03" in again, again
    assert not any("2026" in x and "note (sending)" in x for x in lines), lines


def test_an_unsent_intent_shows_no_send(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _sends(config, [])
    lines = _history(config, monkeypatch, capsys)
    assert not any("send" in x for x in lines if "│" in x), lines
    assert not any("sent" in x or "send" in x for x in lines if "{" in x), lines

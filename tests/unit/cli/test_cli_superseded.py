"""``actions list`` and ``actions approve`` on a superseded intent: the listing showed it as
``needs_review`` (waiting, to a reader) and approving it exited 2 without naming the intent
that replaced it (found by review).

Dataset: the shop's ledger as two nights in approval mode leave it: night 1 proposed refund
intent 1 (48.60 USD, RMA 12345701); night 2 Loop lowered it to 30.00, so the run withdrew 1 to
review ("superseded: ...", as ``Executor.record`` does) and proposed intent 2 (30.00).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from recon import cli

NIGHT_1, NIGHT_2 = datetime(2026, 11, 1, 2, tzinfo=UTC), datetime(2026, 11, 2, 2, tzinfo=UTC)


def _main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["run_recon.py", *args])
    monkeypatch.setenv("COLUMNS", "240")
    for name in [n for n in os.environ if n.startswith("RECON_")]:
        monkeypatch.delenv(name)
    capsys.readouterr()
    try:
        cli.main()
    except SystemExit as ended:
        out = capsys.readouterr()
        return int(ended.code or 0), out.out, out.err
    out = capsys.readouterr()
    return 0, out.out, out.err


def _refund(n: int, amount: str) -> object:
    from recon.models import Category
    from recon.remediation.planner import ActionKind, Disposition, PlannedAction, idempotency_key

    return PlannedAction(
        key=idempotency_key("sandbox", "12345701", ActionKind.REFUND, n),
        kind=ActionKind.REFUND,
        category=Category.MISSING_REFUND,
        finding_key="MISSING_REFUND|rma=12345701",
        shop="sandbox",
        rma="12345701",
        n=n,
        subject="",
        order_id="1001",
        amount=Decimal(amount),
        currency="USD",
        details={"lines": [], "note": "Loop RMA #12345701", "amount": amount},
        disposition=Disposition.APPROVAL,
    )


def _two_nights(config: Path) -> None:
    from sqlalchemy.orm import sessionmaker

    from recon.bootstrap import open_store
    from recon.config import RemediationMode, load_settings
    from recon.remediation.ledger import PLANNER, ActionRow, record_plan, transition
    from recon.remediation.planner import ActionState

    store = open_store(load_settings(config))
    approval = RemediationMode.APPROVAL
    try:
        with sessionmaker(store.engine)() as session, session.begin():
            record_plan(session, [_refund(1, "48.60")], mode=approval, now=NIGHT_1)
        with sessionmaker(store.engine)() as session, session.begin():
            stale = session.get_one(ActionRow, 1)
            why = "superseded: tonight's plan for MISSING_REFUND|rma=12345701 has no such action"
            transition(session, stale, ActionState.NEEDS_REVIEW, actor=PLANNER, now=NIGHT_2,
                       reason=why, run_id="night-2")  # fmt: skip
            record_plan(session, [_refund(2, "30.00")], mode=approval, now=NIGHT_2)
    finally:
        store.close()


def test_the_listing_marks_a_superseded_intent_with_its_replacement(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _two_nights(config)
    code, out, err = _main(monkeypatch, capsys, "actions", "list", "--config", str(config))
    assert code == 0, err
    (stale,) = [line for line in out.splitlines() if "refund 48.60 USD" in line]
    (current,) = [line for line in out.splitlines() if "refund 30.00 USD" in line]
    assert "superseded by 2" in stale and "needs_review" not in stale, stale
    assert "amount 48.60 USD → 30.00 USD" in stale, stale  # what changed
    assert "proposed" in current and "superseded" not in current, current


def test_approving_a_superseded_intent_names_its_replacement(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _two_nights(config)
    code, _, err = _main(monkeypatch, capsys, "actions", "approve", "1", "--config", str(config))
    said = " ".join(err.split())
    assert code == 2, err
    assert "action 1 was superseded by action 2 (proposed)" in said, said
    assert "amount 48.60 USD → 30.00 USD" in said and "approve 2 instead" in said, said

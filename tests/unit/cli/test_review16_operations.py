"""Review16: the commands the engineer on call runs by hand (approvals, acknowledgements), as a
container runs them: under a user id with no name."""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from recon import cli


def _nameless_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of ``docker run --user 1001`` or an OpenShift pod (an arbitrary uid):
    no USER, LOGNAME, LNAME or USERNAME, and no /etc/passwd entry for the uid, so
    ``pwd.getpwuid`` raises KeyError (3.11; OSError on 3.13)."""
    import pwd

    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)


def _main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["run_recon.py", *args])
    for name in [n for n in os.environ if n.startswith("RECON_")]:
        monkeypatch.delenv(name)
    capsys.readouterr()
    try:
        cli.main()
    except SystemExit as ended:
        return int(ended.code or 0), capsys.readouterr().err
    return 0, capsys.readouterr().err


def _proposed_refund(config: Path) -> int:
    """One refund intent waiting for approval in the shop's ledger; its id."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import sessionmaker

    from recon.bootstrap import open_store
    from recon.config import RemediationMode, load_settings
    from recon.models import Category
    from recon.remediation.ledger import record_plan
    from recon.remediation.planner import ActionKind, Disposition, PlannedAction, idempotency_key

    store = open_store(load_settings(config))
    action = PlannedAction(
        key=idempotency_key("sandbox", "12345701", ActionKind.REFUND, 1),
        kind=ActionKind.REFUND,
        category=Category.MISSING_REFUND,
        finding_key="MISSING_REFUND|rma=12345701",
        shop="sandbox",
        rma="12345701",
        n=1,
        subject="",
        order_id="1001",
        amount=Decimal("48.60"),
        currency="USD",
        details={"lines": [], "note": "Loop RMA #12345701", "amount": "48.60"},
        disposition=Disposition.APPROVAL,
    )
    try:
        with sessionmaker(store.engine)() as session, session.begin():
            (action_id,) = record_plan(
                session, [action], mode=RemediationMode.APPROVAL, now=datetime.now(UTC)
            )
    finally:
        store.close()
    return action_id


def test_an_approval_by_a_user_id_with_no_name_is_recorded(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a container run as an arbitrary uid (no passwd entry, no USER), the engineer on call
    approves a refund: the decision must be recorded with who made it (the uid, at least), not
    end in a traceback and exit 1 (which a wrapper reads as "the run failed") with nothing
    approved."""
    from sqlalchemy.orm import sessionmaker

    from recon.bootstrap import open_store
    from recon.config import load_settings
    from recon.remediation.ledger import list_actions

    action_id = _proposed_refund(config)
    _nameless_user(monkeypatch)
    try:
        code, stderr = _main(
            monkeypatch, capsys, "actions", "approve", str(action_id), "--reason", "checked",
            "--config", str(config),
        )  # fmt: skip
    except KeyError as exc:  # what escapes today: not even an exit code of recon's own
        pytest.fail(f"actions approve raised {exc!r} instead of recording the approval")
    assert code == 0, stderr
    store = open_store(load_settings(config))
    try:
        with sessionmaker(store.engine)() as session:
            (view,) = list_actions(session, "sandbox")
    finally:
        store.close()
    assert view.state == "approved"
    assert view.approved_by and str(os.getuid()) in view.approved_by  # who, by uid at least


def test_an_acknowledgement_by_a_user_id_with_no_name_is_recorded(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same container: finance refunded by hand and acknowledges the MISSING_REFUND so
    recon's own refund is not sent too. The acknowledgement must land (with the uid as who)."""
    from recon.bootstrap import open_store
    from recon.config import load_settings
    from recon.models import Category, Finding, FindingStatus, Owner, Severity

    key = "MISSING_REFUND|rma=12345701"
    store = open_store(load_settings(config))
    try:
        store.save_findings(
            [Finding(key=key, category=Category.MISSING_REFUND, severity=Severity.HIGH,
                     owner=Owner.FINANCE)]
        )  # fmt: skip
    finally:
        store.close()
    _nameless_user(monkeypatch)
    try:
        code, stderr = _main(
            monkeypatch, capsys, "findings", "ack", key, "--note", "refunded by hand",
            "--config", str(config),
        )  # fmt: skip
    except KeyError as exc:
        pytest.fail(f"findings ack raised {exc!r} instead of recording the acknowledgement")
    assert code == 0, stderr
    store = open_store(load_settings(config))
    try:
        (finding,) = store.load_findings()
    finally:
        store.close()
    assert finding.status is FindingStatus.ACKNOWLEDGED
    assert finding.acknowledged_by and str(os.getuid()) in finding.acknowledged_by


def test_every_command_that_records_a_decision_names_a_nameless_user_by_uid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`quarantine resolve` records who resolved an entry as the two commands above do: one
    helper names the user for all three, by login name or, with none, by uid."""
    from recon import cli_actions, cli_findings, cli_quarantine
    from recon.cli_options import cli_actor

    monkeypatch.setenv("USER", "ap-clerk")
    assert cli_actor() == "cli:ap-clerk"
    _nameless_user(monkeypatch)
    assert cli_actor() == f"cli:uid-{os.getuid()}"
    for module in (cli_actions, cli_findings, cli_quarantine):
        assert module.cli_actor is cli_actor
        assert "getpass" not in vars(module)

"""``--json`` on ``quarantine``, ``actions list``, ``actions history`` and ``outbox list``:
the records a script checks (what is held, what recon would write, what the relay refused)
read without scraping a table.

Datasets:
- quarantine: refund 222 rejected (``processedAt``, "bad date") three times a day apart, then
  an item of Loop's returns list that was not an object (no record id), resolved by hand by
  cli:ops ("test webhook").
- actions: ``test_cli_action_audit``'s ledger (refund intent 1, 48.60 USD, proposed, approved
  by alice@finance, sent and done; intent 2 proposed) and ``test_cli_superseded``'s (intent 1
  withdrawn to review, replaced by intent 2 at 30.00).
- outbox: one report parked with a 550 answer spanning two lines.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from recon.clock import VirtualClock
from recon.models import Quarantined
from recon.store.sql import SqlStore
from tests.fakes import EPOCH
from tests.unit.cli.json_output import document, in_env, listed, store_env
from tests.unit.cli.test_cli_action_audit import _ledger
from tests.unit.cli.test_cli_superseded import _two_nights

BACKENDS = ["sqlite", "postgresql"]


def _seed_quarantine(config: Path, env: dict[str, str]) -> int:
    """The dataset's entries; the id of the one without a record id."""
    url = env.get("RECON_STORE__URL", f"sqlite:///{config.parent.parent / 'var' / 'recon.db'}")
    clock = VirtualClock(EPOCH)
    store = SqlStore(url, clock=clock)
    try:
        for night in (1, 2, 3):
            bad = Quarantined(source="shopify", kind="refund", record_id="222",
                              field="processedAt", reason="bad date")  # fmt: skip
            store.add_quarantined([bad], f"night-{night}")
            clock.advance(timedelta(days=1))
        why = "expected an object, got str"
        garbage = Quarantined(source="loop", kind="return", record_id=None, field="$",
                              reason=why, raw={"value": "'x'"})  # fmt: skip
        store.add_quarantined([garbage], "night-4")
        idless = max(e.entry_id for e in store.quarantine_entries())
        store.resolve_quarantine_by_hand([idless], by="cli:ops", note="test webhook")
    finally:
        store.close()
    return idless


@pytest.mark.parametrize("backend", BACKENDS)
def test_quarantine_json_lists_each_record_with_its_field_reason_and_times(
    config: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = store_env(backend, request)
    idless = _seed_quarantine(config, env)
    doc = document(monkeypatch, "quarantine", "-c", str(config), env=env)
    assert doc["format"] == "recon-quarantine" and doc["shop"] == "sandbox"
    (refund,) = doc["entries"]  # the still-broken one only; its three nights as one row
    assert (refund["kind"], refund["record_id"], refund["field"]) == (
        "refund",
        "222",
        "processedAt",
    )
    assert refund["reason"] == "bad date" and refund["times"] == 3
    assert isinstance(refund["id"], str) and refund["resolved_at"] is None
    last = EPOCH + timedelta(days=2)
    assert refund["last_seen_at"] == last.isoformat().replace("+00:00", "Z")

    everything = document(monkeypatch, "quarantine", "--all", "-c", str(config), env=env)
    garbage, again = everything["entries"]  # newest first, as the table
    assert again == refund
    assert garbage["id"] == str(idless) and garbage["record_id"] is None
    assert garbage["resolved_by"] == "cli:ops" and garbage["resolved_note"] == "test webhook"
    assert garbage["resolved_at"] is not None and "raw" not in garbage  # payloads stay in the store

    newest = document(monkeypatch, "quarantine", "--all", "--limit", "1", "-c", str(config),
                      env=env)  # fmt: skip
    assert newest["entries"] == [garbage]


def test_quarantine_json_with_nothing_held_is_an_empty_list(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert document(monkeypatch, "quarantine", "-c", str(config))["entries"] == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_actions_list_json_gives_each_intents_state_amount_and_decision(
    config: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = store_env(backend, request)
    in_env(env, monkeypatch)
    _ledger(config)
    doc = document(monkeypatch, "actions", "list", "-c", str(config), env=env)
    assert doc["format"] == "recon-actions" and doc["shop"] == "sandbox"
    done, proposed = doc["actions"]  # oldest first, as the table
    assert (done["id"], done["kind"], done["state"]) == ("1", "refund", "done")
    assert (done["amount"], done["currency"]) == ("48.60", "USD")
    assert (done["rma"], done["order_id"]) == ("12345701", "1001")
    assert done["approved_by"] == "alice@finance"
    assert done["decision_reason"] == "checked the return in Loop"
    assert done["result_id"] == "gid://shopify/Refund/777" and done["superseded_by"] is None
    assert done["created_at"] == "2026-11-01T02:00:00Z"
    assert (proposed["id"], proposed["state"], proposed["amount"]) == ("2", "proposed", "20.00")
    only = document(monkeypatch, "actions", "list", "--state", "proposed", "-c", str(config),
                    env=env)  # fmt: skip
    assert [a["id"] for a in only["actions"]] == ["2"]
    none = document(monkeypatch, "actions", "list", "--state", "failed", "-c", str(config),
                    env=env)  # fmt: skip
    assert none["actions"] == []


def test_actions_list_json_names_the_intent_that_replaced_a_superseded_one(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_nights(config)
    stale, current = document(monkeypatch, "actions", "list", "-c", str(config))["actions"]
    assert stale["state"] == "needs_review"  # the ledger's state; the table says "superseded"
    assert stale["superseded_by"] == {"id": "2", "state": "proposed",
                                      "change": "amount 48.60 USD → 30.00 USD"}  # fmt: skip
    assert current["superseded_by"] is None and current["amount"] == "30.00"


def test_actions_list_json_of_an_empty_ledger_is_an_empty_list(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert document(monkeypatch, "actions", "list", "-c", str(config))["actions"] == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_actions_history_json_gives_the_trail_each_send_and_shopifys_answer(
    config: Path, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.cli.test_cli_action_audit import ANSWER, SENT

    env = store_env(backend, request)
    in_env(env, monkeypatch)
    _ledger(config)
    doc = document(monkeypatch, "actions", "history", "1", "-c", str(config), env=env)
    assert doc["format"] == "recon-action-history"
    action = doc["action"]
    assert (action["id"], action["state"], action["amount"]) == ("1", "done", "48.60")
    assert action["variables"] == SENT
    recorded, approved, sending, done = doc["events"]  # oldest first
    assert (recorded["from_state"], recorded["to_state"]) == (None, "proposed")
    assert (recorded["actor"], recorded["run_id"]) == ("planner", "night-1")
    assert (approved["to_state"], approved["actor"]) == ("approved", "alice@finance")
    assert approved["at"] == "2026-11-01T09:30:00Z" and approved["send"] is None
    assert (sending["send"], sending["variables"]) == ("first send", SENT)
    assert (done["to_state"], done["response"], done["send"]) == ("done", ANSWER, None)


def _park(config: Path) -> Path:
    from recon.config import load_settings
    from recon.mail_parked import park_message

    message = EmailMessage()
    message["Subject"] = "recon: 3 open findings, 1,048.60 USD at risk"
    message["To"] = "finance@example.com"
    message["X-Recon-Shop"] = "sandbox"
    message["X-Recon-Team"] = "finance"
    message.set_content("report")
    outbox = load_settings(config).delivery.outbox_dir
    answer = "550 5.1.1 <finance@example.com>: no such mailbox\n550 5.1.1 see the relay's log"
    return park_message(message, "report-finance.eml", outbox, answer)


def test_outbox_list_json_gives_each_parked_message_and_the_relays_answer(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recon.mail_messages import SHOP_HEADER, TEAM_HEADER

    assert (SHOP_HEADER, TEAM_HEADER) == ("X-Recon-Shop", "X-Recon-Team")  # as _park writes
    empty = document(monkeypatch, "outbox", "list", "-c", str(config))
    assert empty["format"] == "recon-outbox" and empty["messages"] == []
    parked = _park(config)
    (message,) = document(monkeypatch, "outbox", "list", "-c", str(config))["messages"]
    assert message["name"] == "report-finance.eml" and message["path"] == str(parked)
    assert (message["shop"], message["team"]) == ("sandbox", "finance")
    assert message["to"] == "finance@example.com"
    assert message["subject"] == "recon: 3 open findings, 1,048.60 USD at risk"
    assert message["answer"] == (
        "550 5.1.1 <finance@example.com>: no such mailbox\n550 5.1.1 see the relay's log"
    )
    assert message["refused_at"].endswith("Z") and "T" in message["refused_at"]


def _retried_while_read(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``outbox retry`` (``unpark``) moves the parked message and drops its answer file right
    as ``outbox list`` reads that answer, after the listing found it."""
    from recon.config import load_settings
    from recon.mail_parked import ANSWER_SUFFIX, unpark

    outbox = load_settings(config).delivery.outbox_dir
    read_text = Path.read_text

    def racing(self: Path, *args: object, **kwargs: object) -> str:
        if self.name.endswith(ANSWER_SUFFIX):
            unpark(outbox, "sandbox")
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", racing)


def test_outbox_list_json_leaves_out_a_message_a_retry_moves_while_it_reads(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A monitoring script runs ``outbox list --json`` while an operator retries: it gets a
    document without the message the retry took back to the outbox (it was a traceback)."""
    _park(config)
    _retried_while_read(config, monkeypatch)
    doc = document(monkeypatch, "outbox", "list", "-c", str(config))
    assert doc["format"] == "recon-outbox" and doc["messages"] == []


def test_outbox_list_leaves_out_a_message_a_retry_moves_while_it_reads(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table form: no traceback, and the moved message is not listed as parked."""
    parked = _park(config)
    _retried_while_read(config, monkeypatch)
    code, out, err = listed(monkeypatch, "outbox", "list", "-c", str(config))
    assert code == 0, (out, err)
    assert str(parked) not in out and "Traceback" not in out + err

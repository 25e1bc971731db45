"""Finding lifecycle across runs, and the findings.json contract read back from disk."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from engine_builders import AS_OF, bt, order, payout, refund, ret, rline, run, txn

from recon.engine.findings_json import read_findings_json, write_findings_json
from recon.engine.lifecycle import merge
from recon.models import Category, Finding, FindingStatus, Owner, Severity

LATER = AS_OF + timedelta(days=1)


def finding(
    key: str,
    amount: str = "10.00",
    severity: Severity = Severity.HIGH,
    status: FindingStatus = FindingStatus.NEW,
) -> Finding:
    return Finding(
        key=key,
        category=Category.MISSING_REFUND,
        severity=severity,
        owner=Owner.FINANCE,
        rma=key[-5:],
        amount_at_risk=Decimal(amount),
        currency="USD",
        status=status,
        first_seen=AS_OF,
        last_seen=AS_OF,
    )


def test_new_then_open_then_resolved() -> None:
    first = merge([], [finding("MISSING_REFUND|rma=11111")], AS_OF)
    assert first[0].status is FindingStatus.NEW and first[0].first_seen == AS_OF
    second = merge(first, [finding("MISSING_REFUND|rma=11111")], LATER)
    assert (second[0].status, second[0].first_seen, second[0].last_seen) == (
        FindingStatus.OPEN,
        AS_OF,
        LATER,
    )
    third = merge(second, [], LATER + timedelta(days=1))
    assert third[0].status is FindingStatus.RESOLVED
    assert third[0].resolved_at == LATER + timedelta(days=1)
    assert merge(third, [], LATER + timedelta(days=2)) == []  # resolved and gone: dropped


def test_acknowledged_stays_quiet_until_the_amount_changes() -> None:
    acked = [finding("K|rma=22222", status=FindingStatus.ACKNOWLEDGED)]
    same = merge(acked, [finding("K|rma=22222")], LATER)
    assert same[0].status is FindingStatus.ACKNOWLEDGED
    changed = merge(acked, [finding("K|rma=22222", amount="12.00")], LATER)
    assert changed[0].status is FindingStatus.OPEN and changed[0].first_seen == AS_OF


@pytest.mark.parametrize(
    "change",
    [
        {"shopify_refund_ids": ("501",)},
        {"transaction_ids": ("601",)},
        {"loop_line_item_ids": ("9002",)},  # another unit missing, at the same price
        {"currency": "EUR"},  # the same figure in another currency is another amount
    ],
)
def test_acknowledged_opens_again_when_the_ids_it_names_change(change: dict[str, object]) -> None:
    ack = {
        "status": FindingStatus.ACKNOWLEDGED,
        "acknowledged_by": "cli:ana",
        "acknowledged_note": "ok",
    }
    acked = [finding("K|rma=22222").model_copy(update=ack)]
    same = merge(acked, [finding("K|rma=22222")], LATER)
    assert (same[0].status, same[0].acknowledged_by, same[0].acknowledged_note) == (
        FindingStatus.ACKNOWLEDGED,
        "cli:ana",
        "ok",
    )
    changed = merge(acked, [finding("K|rma=22222").model_copy(update=change)], LATER)
    assert changed[0].status is FindingStatus.OPEN and changed[0].acknowledged_by is None


def test_when_a_finding_was_acknowledged_is_kept_until_it_opens_again(tmp_path: Path) -> None:
    """An acknowledgement's time stays with it across runs (a month-end book shows a finding
    acknowledged only if it was by the period's end), is written to findings.json, and goes
    with who and why when the finding changes."""
    ack = {
        "status": FindingStatus.ACKNOWLEDGED,
        "acknowledged_by": "cli:ana",
        "acknowledged_at": AS_OF + timedelta(hours=3),
    }
    acked = [finding("K|rma=22222").model_copy(update=ack)]
    (same,) = merge(acked, [finding("K|rma=22222")], LATER)
    assert same.acknowledged_at == AS_OF + timedelta(hours=3)
    path = tmp_path / "findings.json"
    write_findings_json(path, [same], shop="s", run_id="r", as_of=LATER)
    assert json.loads(path.read_text())["findings"][0]["acknowledged_at"] == "2026-11-01T05:00:00Z"
    assert read_findings_json(path)[1][0].acknowledged_at == same.acknowledged_at
    (changed,) = merge(acked, [finding("K|rma=22222", amount="12.00")], LATER)
    assert changed.acknowledged_at is None


def test_an_acknowledged_over_refund_that_turns_short_opens_again() -> None:
    """Loop owes 15.00; refund 500 paid 10.00 + 10.00, 5.00 too much: finance acknowledges it.
    Then the 10.00 card part bounces: the customer is 5.00 short. The amount at risk is 5.00
    either way, but what the finding says changed: it must not stay quiet."""
    records = [
        ret("12345", refund="15.00", total="20.00"),
        order(),
        payout(),
        refund(
            "500",
            "Loop RMA #12345",
            (txn("600", "10.00"), txn("601", "10.00")),
            lines=(rline("1345", "SKU-A"),),
        ),
        bt("8600", "600", "10.00"),
        bt("8601", "601", "10.00"),
    ]
    (over,) = run(*records).findings
    assert (over.category, over.amount_at_risk) == (Category.AMOUNT_MISMATCH, Decimal("5.00"))
    acked = [over.model_copy(update={"status": FindingStatus.ACKNOWLEDGED})]
    (short,) = run(*records, bt("8901", "601", "10.00", kind="REFUND_FAILURE")).findings
    assert (short.key, short.amount_at_risk) == (over.key, Decimal("5.00"))
    (merged,) = merge(acked, [short], LATER)
    assert merged.status is FindingStatus.OPEN


def test_resolved_finding_that_reappears_is_new_again() -> None:
    resolved = [finding("K|rma=33333", status=FindingStatus.RESOLVED)]
    again = merge(resolved, [finding("K|rma=33333")], LATER)
    assert (again[0].status, again[0].first_seen, again[0].resolved_at) == (
        FindingStatus.NEW,
        LATER,
        None,
    )


def test_findings_json_round_trip_sorted_with_string_amounts(tmp_path: Path) -> None:
    path = tmp_path / "out" / "findings.json"
    items = [
        finding("A|rma=10001", "5.00", Severity.LOW),
        finding("B|rma=10002", "5.00"),
        finding("C|rma=10003", "50.00"),
        finding("D|rma=10004", "1.00", Severity.CRITICAL),
    ]
    write_findings_json(path, items, shop="sandbox", run_id="r1", as_of=AS_OF)
    raw = json.loads(path.read_text())
    # Version 2: status may be left_out and findings carry acknowledged_at; a consumer that
    # took "not resolved" for open work would count left-out findings, so the number moved.
    assert (raw["format"], raw["version"], raw["as_of"]) == (
        "recon-findings",
        2,
        "2026-11-01T02:00:00Z",
    )
    assert [f["key"] for f in raw["findings"]] == [
        "D|rma=10004",
        "C|rma=10003",
        "B|rma=10002",
        "A|rma=10001",
    ]
    assert raw["findings"][1]["amount_at_risk"] == "50.00"
    assert (
        raw["findings"][1]["shopify_refund_ids"] == [] and raw["findings"][1]["payout_id"] is None
    )
    header, back = read_findings_json(path)
    assert header["run_id"] == "r1"
    assert {f.key: f.amount_at_risk for f in back} == {f.key: f.amount_at_risk for f in items}
    assert [p.name for p in path.parent.iterdir()] == ["findings.json"]  # no temp file left


def test_a_version_1_document_is_still_read(tmp_path: Path) -> None:
    """Reports written before version 2 (no acknowledged_at, no left_out) are read back."""
    path = tmp_path / "findings.json"
    write_findings_json(path, [finding("A|rma=1", "2.50", Severity.HIGH)], shop="s", run_id="r",
                        as_of=AS_OF)  # fmt: skip
    raw = json.loads(path.read_text())
    raw["version"] = 1
    for item in raw["findings"]:
        del item["acknowledged_at"]
    path.write_text(json.dumps(raw))
    header, back = read_findings_json(path)
    assert (header["version"], [f.key for f in back]) == (1, ["A|rma=1"])


def test_read_rejects_other_documents(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"format": "something-else", "version": 1, "findings": []}')
    with pytest.raises(ValueError, match="recon-findings"):
        read_findings_json(path)

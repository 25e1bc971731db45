"""Lenient Loop parsing: every published shape parses; each kind of bad record is quarantined."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from recon.models import LoopReturnRecord, Quarantined
from recon.sources.loop_parse import parse_return, parse_return_items

EXAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "examples" / "loop"
SHAPES = [
    "return-open-exchange.json",
    "return-closed-refund.json",
    "return-closed-gift-card.json",
    "return-cancelled.json",
    "return-review-out-of-stock.json",
    "return-details.json",
    "webhook-return-created-2020.json",
    "webhook-return-closed.json",
]


def _load(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


@pytest.mark.parametrize("name", SHAPES)
def test_every_published_shape_parses(name: str) -> None:
    record = parse_return(_load(name))
    assert isinstance(record, LoopReturnRecord), record
    assert record.created_at.tzinfo is not None and record.updated_at.tzinfo is not None


def test_list_item_fields() -> None:
    record = parse_return(_load("return-closed-refund.json"))
    assert isinstance(record, LoopReturnRecord)
    assert (record.id, record.state, record.provider_order_id) == (
        "12345701",
        "closed",
        "5444175757553",
    )
    assert record.refund == Decimal("48.60") and record.currency == "USD"
    # {date, timezone_type, timezone} object form (loop-returns-api.md §12)
    assert record.refund_processed_at == datetime(2024, 3, 5, 14, 22, 12, tzinfo=UTC)
    assert [r.provider_refund_id for r in record.refunds] == ["918273645123"]
    assert record.lines[0].restock_location_id == "71234567890"
    assert record.lines[0].inspected is False
    assert record.raw["order_name"] == "#7400123"


def test_details_shape_integer_ids_and_zone_less_times() -> None:
    record = parse_return(_load("return-details.json"))
    assert isinstance(record, LoopReturnRecord)
    assert record.id == "12345701" and record.lines[0].line_item_id == "300000001"
    assert record.created_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert record.refunds[0].amount == Decimal("48.60")


def test_graded_line_is_inspected_and_unknown_fields_ignored() -> None:
    item = _load("return-closed-refund.json")
    item["line_items"][0]["condition"] = {"grade": "A"}
    item["brand_new_field"] = {"anything": 1}
    record = parse_return(item)
    assert isinstance(record, LoopReturnRecord) and record.lines[0].inspected


def _set(path: list[Any], value: Any) -> dict[str, Any]:
    item = copy.deepcopy(_load("return-closed-refund.json"))
    target: Any = item
    for key in path[:-1]:
        target = target[key]
    if value is _DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return item


_DROP = object()


@pytest.mark.parametrize(
    ("zone", "utc_hour"),
    [("Z", 14), ("z", 14), ("EDT", 18), ("PST", 22), ("CEST", 12), ("+02:00", 12)],
)
def test_a_php_date_with_a_zone_abbreviation_is_read_in_that_zone(zone: str, utc_hour: int) -> None:
    """PHP's DateTime, which the object form is (§10.3, §12), names a zone given as an
    abbreviation by the abbreviation (``timezone_type`` 2): ``Z`` when the time was parsed from
    an ISO string ending in Z, ``EDT`` and the like. A return whose outcome time came so was
    quarantined whole ("unknown time zone 'Z'"): its refund went unreconciled, its order unread."""
    stamp = {"date": "2024-03-05 14:22:12.000000", "timezone_type": 2, "timezone": zone}
    record = parse_return(_set(["outcomes_processed_at", "refund_processed"], stamp))
    assert isinstance(record, LoopReturnRecord), record
    assert record.refund_processed_at == datetime(2024, 3, 5, utc_hour, 22, 12, tzinfo=UTC)


def test_a_zone_identifier_keeps_its_summer_time() -> None:
    """``CET`` as an identifier (``timezone_type`` 3) is the tz database's zone, with summer
    time; only as an abbreviation (type 2) is it a fixed UTC+1."""
    summer = {"date": "2024-07-05 14:22:12.000000", "timezone_type": 3, "timezone": "CET"}
    record = parse_return(_set(["outcomes_processed_at", "refund_processed"], summer))
    assert isinstance(record, LoopReturnRecord)
    assert record.refund_processed_at == datetime(2024, 7, 5, 12, 22, 12, tzinfo=UTC)


BAD = [
    # (what is wrong, path, value, expected quarantine field)
    ("null line amount", ["line_items", 0, "refund"], None, "line_items[0].refund"),
    ("missing total", ["total"], _DROP, "total"),
    ("thousands separator", ["refund"], "1,000.00", "refund"),
    ("unknown currency", ["currency"], "ZZZ", "currency"),
    ("amount beyond exact arithmetic", ["refund"], "1" * 30 + ".00", "refund"),
    ("wrong type for amount", ["gift_card"], {"amount": "1"}, "gift_card"),
    ("wrong type for lines", ["line_items"], "none", "line_items"),
    ("control character in id", ["provider_order_id"], "544\n417", "provider_order_id"),
    # Sent to Shopify's nodes(ids:) as a GID: a malformed one fails the whole call, not this id.
    ("order id that is not a Shopify id", ["provider_order_id"], "abc", "provider_order_id"),
    (
        "order GID with a non-numeric tail",
        ["provider_order_id"],
        "gid://x/O/1a",
        "provider_order_id",
    ),
    # The mirror's id columns hold 64 characters; a longer id would fail the night's write.
    ("overlong id", ["line_items", 0, "line_item_id"], "7" * 65, "line_items[0].line_item_id"),
    ("bad timestamp", ["created_at"], "yesterday", "created_at"),
    ("timestamp before year 1 in UTC", ["created_at"], "0001-01-01T00:00:00+01:00", "created_at"),
    ("placeholder timestamp", ["created_at"], "0001-01-01T00:00:00Z", "created_at"),
    ("timestamp past pandas' range", ["created_at"], "2300-01-01T00:00:00Z", "created_at"),
    (
        "zoned timestamp before year 1 in UTC",
        ["created_at"],
        {"date": "0001-01-01 00:00:00", "timezone": "Europe/Paris"},
        "created_at",
    ),
    # PHP DateTime objects (§10.3, §12): a zone name the tz database cannot open must not escape
    # as an OSError (a directory of zones, a name longer than a file name) and stop the run.
    (
        "zone name that is a tz directory",
        ["outcomes_processed_at", "refund_processed"],
        {"date": "2024-03-05 14:22:12.000000", "timezone_type": 3, "timezone": "America"},
        "outcomes_processed_at.refund_processed",
    ),
    (
        "zone name longer than a file name",
        ["outcomes_processed_at", "refund_processed"],
        {"date": "2024-03-05 14:22:12.000000", "timezone_type": 3, "timezone": "Z" * 300},
        "outcomes_processed_at.refund_processed",
    ),
]


@pytest.mark.parametrize(("case", "path", "value", "field"), BAD, ids=[row[0] for row in BAD])
def test_bad_record_is_quarantined_with_the_field_named(
    case: str, path: list[Any], value: Any, field: str
) -> None:
    result = parse_return(_set(path, value))
    assert isinstance(result, Quarantined), case
    assert (result.source, result.kind, result.record_id, result.field) == (
        "loop",
        "return",
        "12345701",
        field,
    )
    assert result.reason and result.raw["id"] == "12345701"


CLEANED = [
    # (what is odd, path, value, field named for review, what the record keeps)
    (
        "overlong text recon does not read",
        ["line_items", 0, "return_comment"],
        "x" * 10_001,
        "line_items[0].return_comment",
        None,
    ),
    (
        "control character in sku",
        ["line_items", 0, "sku"],
        "TEE\x00BLK",
        "line_items[0].sku",
        "TEEBLK",
    ),
    ("overlong sku", ["line_items", 0, "sku"], "S" * 10_050, "line_items[0].sku", "S" * 10_000),
]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["line_items", 0, "returned_at"], "0001-01-01T00:00:00Z", "line_items[0].returned_at"),
        (
            ["outcomes_processed_at", "refund_processed"],
            "9999-12-31T23:59:59Z",
            "outcomes_processed_at.refund_processed",
        ),
    ],
)
def test_a_placeholder_in_an_optional_timestamp_reads_as_missing_and_keeps_the_record(
    path: list[Any], value: str, field: str
) -> None:
    item = _set(path, value)
    record, *notes = parse_return_items(item)
    assert isinstance(record, LoopReturnRecord)
    assert [
        (n.field, n.reason.startswith("kept after cleaning: timestamp out of range")) for n in notes
    ] == [(field, True)]


@pytest.mark.parametrize(
    ("case", "path", "value", "field", "kept"), CLEANED, ids=[row[0] for row in CLEANED]
)
def test_odd_free_text_is_cleaned_the_record_kept_and_listed_for_review(
    case: str, path: list[Any], value: Any, field: str, kept: str | None
) -> None:
    """Free text never costs the record: a refund recon cannot see might be paid twice."""
    record, *notes = parse_return_items(_set(path, value))
    assert isinstance(record, LoopReturnRecord), case
    if kept is not None:
        assert record.lines[0].sku == kept
    assert [(n.record_id, n.field) for n in notes] == [("12345701", field)]
    assert all(isinstance(n, Quarantined) and n.reason.startswith("kept after") for n in notes)


def test_customer_contact_data_is_not_kept_in_raw() -> None:
    item = _load("return-closed-refund.json")
    item["customer_detail"] = {"email": "a@example.com", "phone": "+1 555 0100"}
    item["address"] = {"address1": "1 Main St"}
    item["return_method"] = {"provider": "x", "address": {"address1": "2 Side St"}}
    record = parse_return(item)
    assert isinstance(record, LoopReturnRecord)
    assert not {"customer", "customer_detail", "address"} & set(record.raw)
    assert record.raw["return_method"] == {"provider": "x"}


def test_non_object_is_quarantined() -> None:
    result = parse_return(["not", "a", "return"])
    assert isinstance(result, Quarantined) and result.field == "$"


@pytest.mark.parametrize("sent", ["Delivered", "DELIVERED", " delivered "])
def test_a_label_status_is_read_whatever_its_case(sent: str) -> None:
    """Loop's enums are open strings (loop-returns-api.md §11); the engine counts a unit as
    received when its label is ``delivered``. A "Delivered" label read as sent counted no unit
    as received: no MISSING_RESTOCK was raised for stock the warehouse got back."""
    raw = _load("return-closed-refund.json")
    raw["label_status"] = sent
    record = parse_return(raw)
    assert isinstance(record, LoopReturnRecord)
    assert record.label_status == "delivered"

"""Lenient parsing of Loop return payloads into ``LoopReturnRecord`` or ``Quarantined``.

Rules from loop-returns-api.md §10 and §12: ids int-or-str, money as Decimal from the text, four
timestamp shapes, unknown fields ignored, bad records quarantined with the field that failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from recon.models import CLEANED, LoopRefundRecord, LoopReturnRecord, Quarantined, ReturnLine
from recon.sources.parsing import MAX_TEXT as _MAX_TEXT
from recon.sources.parsing import (
    BadFieldError,
    as_bool,
    as_currency,
    as_id,
    as_list,
    as_money,
    as_php_mapping,
    as_text,
    as_time,
    collecting_notes,
    find_overlong_text,
    note_cleaned,
    opt_id,
    opt_numeric_id,
    opt_text,
    opt_time,
)

# Customer contact data recon never needs: dropped before the payload is kept as ``raw``, so
# the mirror holds no e-mail, phone or address (DESIGN decision 10; loop-returns-api.md §10.1).
_PII_KEYS = ("customer", "customer_detail", "address")


def parse_return(item: object) -> LoopReturnRecord | Quarantined:
    """One list item, details response or webhook body → a record, or its quarantine entry."""
    return parse_return_items(item)[0]


def parse_return_items(item: object) -> list[LoopReturnRecord | Quarantined]:
    """``[record, *notes]`` for a usable return (notes: free text that was cleaned, kept for
    review), or ``[quarantined]`` when an id, amount, currency or timestamp cannot be trusted."""
    if not isinstance(item, Mapping):
        return [
            Quarantined(
                source="loop",
                kind="return",
                record_id=None,
                field="$",
                reason=f"expected an object, got {type(item).__name__}",
                raw={"value": repr(item)[:1000]},
            )
        ]
    raw = _without_pii(item)
    record_id = _safe_id(raw.get("id"))
    with collecting_notes() as notes:
        try:
            record = _build(raw)
        except BadFieldError as bad:
            return [
                Quarantined(
                    source="loop",
                    kind="return",
                    record_id=record_id,
                    field=bad.field,
                    reason=bad.reason,
                    raw=raw,
                )
            ]
    cleaned = [
        Quarantined(
            source="loop",
            kind="return",
            record_id=record_id,
            field=field,
            reason=f"{CLEANED}{reason}",
            raw=raw,
        )
        for field, reason in _by_field(notes).items()
    ]
    return [record, *cleaned]


def _by_field(notes: list[tuple[str, str]]) -> dict[str, str]:
    """One note per field (a field can be both overlong and cleaned)."""
    merged: dict[str, str] = {}
    for field, reason in notes:
        merged[field] = f"{merged[field]}; {reason}" if field in merged else reason
    return merged


def _without_pii(item: Mapping[str, Any]) -> dict[str, Any]:
    raw = {key: value for key, value in item.items() if key not in _PII_KEYS}
    method = raw.get("return_method")
    if isinstance(method, Mapping) and "address" in method:
        raw["return_method"] = {k: v for k, v in method.items() if k != "address"}
    return raw


def _safe_id(value: object) -> str | None:
    try:
        return as_id(value, "id")
    except BadFieldError:
        return None


def _build(raw: dict[str, Any]) -> LoopReturnRecord:
    overlong = find_overlong_text(raw)
    if overlong is not None:  # in a field recon does not read: the record is still usable
        note_cleaned(overlong, f"text longer than {_MAX_TEXT} characters (kept in raw only)")
    created = as_time(raw.get("created_at"), "created_at")
    # PHP sends an object with no keys as [] (``as_php_mapping``); its entries may be null.
    processed = as_php_mapping(raw.get("outcomes_processed_at"), "outcomes_processed_at")
    return LoopReturnRecord(
        id=as_id(raw.get("id"), "id"),
        state=_state(raw.get("state")),
        # The details endpoint has no return-level outcome (§7): an empty string, not a failure.
        outcome=(opt_text(raw.get("outcome"), "outcome", single_line=True) or "").strip(),
        created_at=created,
        # The 2020 webhook shape has no updated_at (§10.1).
        updated_at=opt_time(raw.get("updated_at"), "updated_at") or created,
        provider_order_id=opt_numeric_id(raw.get("provider_order_id"), "provider_order_id"),
        order_name=opt_text(raw.get("order_name"), "order_name", single_line=True, clean=True),
        currency=as_currency(raw.get("currency"), "currency"),
        total=as_money(raw.get("total"), "total"),
        refund=as_money(raw.get("refund"), "refund"),
        gift_card=as_money(raw.get("gift_card"), "gift_card"),
        # A fee kept from a card refund (§10.1); recon reads none of its money from it: absent
        # and null are 0. ``total``, ``refund`` and ``gift_card`` above are the money owed
        # (§10.1 marks none optional or nullable): null there is refused, never read as 0.
        handling_fee=_opt_money(raw, "handling_fee", "handling_fee"),
        # An open string (§11), compared as ``delivered``: read whatever its case, as ``state``.
        label_status=_lower(opt_text(raw.get("label_status"), "label_status", single_line=True)),
        was_processed=as_bool(raw.get("was_processed"), "was_processed"),
        refund_before_inspection=as_bool(
            raw.get("refund_before_inspection"), "refund_before_inspection"
        ),
        refund_processed_at=opt_time(
            processed.get("refund_processed"), "outcomes_processed_at.refund_processed"
        ),
        return_processed_at=opt_time(
            processed.get("return_processed"), "outcomes_processed_at.return_processed"
        ),
        gift_card_processed_at=opt_time(
            processed.get("gift_card_processed"), "outcomes_processed_at.gift_card_processed"
        ),
        lines=tuple(
            _line(line, f"line_items[{index}]")
            for index, line in enumerate(as_list(raw.get("line_items"), "line_items"))
        ),
        refunds=_refunds(raw),
        raw=raw,
    )


def _opt_money(item: Mapping[str, Any], key: str, path: str) -> Decimal:
    """An optional amount: absent or ``null`` → 0; any other value must parse.

    PHP (Loop's API is Laravel) writes a field with no value as ``null`` where another payload
    leaves it out: both mean "no amount". For an amount that carries money owed, use
    ``as_money``, which refuses null (a guess of 0 could hide a refund).
    """
    value = item.get(key)
    if value is None:
        return Decimal("0")
    return as_money(value, path)


def _state(value: object) -> str:
    """The return's state (an open string, §11), trimmed and in lower case.

    Raises:
        BadFieldError: if missing or blank: what is owed on a return depends on its state.
    """
    state = as_text(value, "state").strip().lower()
    if not state:
        raise BadFieldError("state", "blank state")
    return state


def _line(value: object, path: str) -> ReturnLine:
    line = as_php_mapping(value, path)
    if not line:
        raise BadFieldError(path, "empty line item")
    if line.get("price") is None:  # §10.2 lists it per item: its absence is worth a look
        note_cleaned(f"{path}.price", "no price (missing or null): read as 0.00, so restock "
                     "findings on this line show no amount at risk")  # fmt: skip
    return ReturnLine(
        line_item_id=as_id(line.get("line_item_id"), f"{path}.line_item_id"),
        provider_line_item_id=opt_id(
            line.get("provider_line_item_id"), f"{path}.provider_line_item_id"
        ),
        sku=opt_text(line.get("sku"), f"{path}.sku", single_line=True, clean=True),
        # ``price`` only prices restock findings (docs/findings.md) and orders units; recon reads
        # it as "absent = 0", so null is too. ``refund`` is the line's credited money (§10.2):
        # refused when null.
        price=_opt_money(line, "price", f"{path}.price"),
        refund=as_money(line.get("refund"), f"{path}.refund"),
        returned_at=opt_time(line.get("returned_at"), f"{path}.returned_at"),
        restock_location_id=opt_id(
            line.get("provider_restock_location_id"), f"{path}.provider_restock_location_id"
        ),
        # Graded by the warehouse when either grading result is present (§10.2, observed).
        inspected=bool(line.get("condition")) or bool(line.get("disposition")),
    )


def _refunds(raw: Mapping[str, Any]) -> tuple[LoopRefundRecord, ...]:
    """``refunds[]`` (details, webhooks), then ``shopify_refund_object[]`` (list): one per id."""
    records: list[LoopRefundRecord] = []
    seen: set[str] = set()
    for index, value in enumerate(as_list(raw.get("refunds"), "refunds")):
        path = f"refunds[{index}]"
        entry = as_php_mapping(value, path)
        amount = entry.get("amount")
        currency = entry.get("currency")
        record = LoopRefundRecord(
            gateway=opt_text(entry.get("gateway"), f"{path}.gateway", single_line=True, clean=True),
            amount=None if amount is None else as_money(amount, f"{path}.amount"),
            currency=None if currency in (None, "") else as_currency(currency, f"{path}.currency"),
            provider_refund_id=opt_id(
                entry.get("provider_refund_id"), f"{path}.provider_refund_id"
            ),
        )
        records.append(record)
        if record.provider_refund_id:
            seen.add(record.provider_refund_id)
    objects = as_list(raw.get("shopify_refund_object"), "shopify_refund_object")
    for index, value in enumerate(objects):
        path = f"shopify_refund_object[{index}]"
        entry = as_php_mapping(value, path)
        refund_id = opt_id(entry.get("provider_refund_id"), f"{path}.provider_refund_id")
        if refund_id is not None and refund_id not in seen:
            seen.add(refund_id)
            records.append(LoopRefundRecord(provider_refund_id=refund_id))
    return tuple(records)


def _lower(text: str | None) -> str | None:
    return None if text is None else text.strip().lower()

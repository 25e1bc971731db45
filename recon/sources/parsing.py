"""Lenient field readers shared by the Loop and Shopify parsers: ids, text, timestamps, money.

Each reader raises ``BadFieldError`` naming the field path; the record parsers turn that into a
``Quarantined`` entry so one bad record never stops a run (loop-returns-api.md §12).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from recon.money import MoneyError, parse_amount, parse_currency

MAX_TEXT = 10_000
MAX_ID = 64  # the mirror's id columns (real ids: at most 20 digits)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # keeps \t \n \r
# A surrogate code point in a ``str`` is always a lone one (JSON's escaped pairs decode whole).
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOTES: ContextVar[list[tuple[str, str]] | None] = ContextVar("recon_parse_notes", default=None)
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
# ISO 4217 active codes: a three-letter string outside this set is a data error, not a currency.
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
    SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU
    UYI UZS VES VED VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL""".split()  # noqa: SIM905 - a table reads better than 170 quoted strings
)
# Three-letter codes Shopify's ``CurrencyCode`` enum (2026-04) holds beside ISO 4217's active
# ones: JEP and KID are in use (Jersey, Kiribati); HRK, LTL and LVL were replaced by the euro
# and BYR, STD and VEF (deprecated in the enum) by new codes, and an older order keeps them.
SHOPIFY_CURRENCIES = frozenset({"JEP", "KID", "HRK", "LTL", "LVL", "BYR", "STD", "VEF"})
# The enum's one code that is not three letters. Whether Shopify ever sends it as an order's,
# a refund's or a payout's currency the reference does not say; recon keeps currency codes in
# three-letter columns and formats, so a record in it is held for review, saying why.
NOT_YET_READ = frozenset({"USDC"})


class BadFieldError(ValueError):
    """One field of a record could not be trusted; carries the field path for the quarantine."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def as_id(value: object, field: str) -> str:
    """An id as a string: ints and strings accepted, GIDs reduced to their numeric tail.

    Raises:
        BadFieldError: for None, booleans, other types, blanks, control characters, huge ids.
    """
    if isinstance(value, bool) or value is None:
        raise BadFieldError(field, f"expected an id, got {value!r}")
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise BadFieldError(field, f"expected an id, got {type(value).__name__}")
    if _CONTROL.search(value):
        raise BadFieldError(field, "control character in id")
    text = value.strip()
    if text.startswith("gid://"):
        text = text.rsplit("/", 1)[-1].split("?", 1)[0]
    if not text or len(text) > MAX_ID:
        raise BadFieldError(field, f"empty or overlong id (at most {MAX_ID} characters)")
    return text


def opt_id(value: object, field: str) -> str | None:
    """Like ``as_id`` but ``None`` and ``""`` mean no value.

    Raises:
        BadFieldError: as ``as_id``.
    """
    if value is None or value == "":
        return None
    return as_id(value, field)


def opt_numeric_id(value: object, field: str) -> str | None:
    """Like ``opt_id`` for an id that names a Shopify object: digits only (or its GID).

    Such an id is sent to Shopify as ``gid://shopify/<Kind>/<id>`` in a ``nodes(ids:)`` call.
    How Shopify answers a malformed global id is not in the reference: a null for that id, or a
    top-level error that fails the whole call (and so the run). Both cases are covered by never
    sending one: the record is quarantined with the field named instead.

    Raises:
        BadFieldError: as ``as_id``, or for an id that is not all ASCII digits.
    """
    text = opt_id(value, field)
    if text is not None and not (text.isascii() and text.isdigit()):
        raise BadFieldError(field, f"not a Shopify id (digits expected): {text[:40]!r}")
    return text


@contextmanager
def collecting_notes() -> Iterator[list[tuple[str, str]]]:
    """Collect the (field, reason) of every text cleaned while parsing one record."""
    notes: list[tuple[str, str]] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def note_cleaned(field: str, reason: str) -> None:
    """Record that a field was cleaned (kept for review beside the record)."""
    notes = _NOTES.get()
    if notes is not None:
        notes.append((field, reason))


def clean_text(value: str, field: str, *, single_line: bool) -> str:
    """Free text made safe to keep: control characters removed, at most 10,000 characters.

    Untrusted text (notes, names, SKUs) never costs the record: losing a refund because its note
    is odd would make recon see a refund as missing and risk paying it twice. What was changed is
    noted for review (``collecting_notes``); the raw payload keeps the original.
    """
    pattern = _CONTROL if single_line else _CONTROL_MULTILINE
    cleaned = pattern.sub("", value)
    if cleaned != value:
        note_cleaned(field, "control characters removed")
    # Half of a UTF-16 pair (valid JSON, ``"\ud83d"``): no database column takes it.
    whole = _SURROGATE.sub("\ufffd", cleaned)
    if whole != cleaned:
        note_cleaned(field, "lone surrogate characters replaced by U+FFFD")
        cleaned = whole
    if len(cleaned) > MAX_TEXT:
        note_cleaned(field, f"text of {len(cleaned)} characters cut to {MAX_TEXT}")
        cleaned = cleaned[:MAX_TEXT]
    return cleaned


def opt_text(
    value: object, field: str, *, single_line: bool = False, clean: bool = False
) -> str | None:
    """A text field. ``clean`` (free text: notes, names, SKUs) removes control characters and
    cuts overlong text, noting it; otherwise (states, enums) such text is refused.

    Raises:
        BadFieldError: for non-strings; without ``clean``, text over 10,000 characters or (with
            ``single_line``) control characters.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadFieldError(field, f"expected text, got {type(value).__name__}")
    if clean:
        return clean_text(value, field, single_line=single_line)
    if len(value) > MAX_TEXT:
        raise BadFieldError(field, f"text longer than {MAX_TEXT} characters")
    if single_line and _CONTROL.search(value):
        raise BadFieldError(field, "control character in text")
    return value


def as_text(value: object, field: str) -> str:
    """A required single-line text field (names, states, enums).

    Raises:
        BadFieldError: if missing or invalid (see ``opt_text``).
    """
    text = opt_text(value, field, single_line=True)
    if text is None:
        raise BadFieldError(field, "missing")
    return text


def as_money(value: object, field: str) -> Decimal:
    """A money amount as Decimal (never via float arithmetic).

    Raises:
        BadFieldError: for null, blanks, ``"1,000.00"`` and anything not a plain decimal.
    """
    try:
        return parse_amount(value)
    except MoneyError as exc:
        raise BadFieldError(field, str(exc)) from exc


def as_currency(value: object, field: str) -> str:
    """A currency code that exists: ISO 4217's, or one Shopify's ``CurrencyCode`` adds.

    Raises:
        BadFieldError: for anything that is not a known three-letter code.
    """
    if isinstance(value, str) and value.strip().upper() in NOT_YET_READ:
        raise BadFieldError(
            field,
            f"currency {value.strip().upper()!r} is not read by recon yet (its codes are three "
            "letters); the record is held for review",
        )
    try:
        code = parse_currency(value)
    except MoneyError as exc:
        raise BadFieldError(field, str(exc)) from exc
    if code not in ISO_4217 and code not in SHOPIFY_CURRENCIES:
        raise BadFieldError(field, f"unknown currency {code!r}")
    return code


def as_int(value: object, field: str) -> int:
    """An integer (quantities); digit strings accepted.

    Raises:
        BadFieldError: for booleans, floats with fractions and non-numeric text.
    """
    if isinstance(value, bool):
        raise BadFieldError(field, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value.strip()):
        return int(value.strip())
    raise BadFieldError(field, f"expected an integer, got {value!r}")


def as_quantity(value: object, field: str) -> int:
    """A count of units: an integer, never negative.

    Raises:
        BadFieldError: as ``as_int``, and for a negative count.
    """
    quantity = as_int(value, field)
    if quantity < 0:
        raise BadFieldError(field, f"negative quantity {quantity}")
    return quantity


def as_enum(value: object, field: str, allowed: frozenset[str]) -> str:
    """A value of an API enum (compared in upper case; kept as sent).

    An API version is pinned, so its enums are closed: a value outside one is read as no state
    recon knows, and a paid refund would look unpaid.

    Raises:
        BadFieldError: if missing, not text, or not one of ``allowed``.
    """
    text = as_text(value, field)
    if text.strip().upper() not in allowed:
        raise BadFieldError(
            field, f"unknown value {text[:40]!r} (expected one of {', '.join(sorted(allowed))})"
        )
    return text


def as_bool(value: object, field: str, default: bool = False) -> bool:
    """A boolean; ``None`` means the default.

    Raises:
        BadFieldError: for anything but a bool, 0/1 or "true"/"false".
    """
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadFieldError(field, f"expected a boolean, got {value!r}")


# Zone abbreviations PHP's DateTime keeps as given (``timezone_type`` 2), as PHP reads them
# (minutes east of UTC). ``Z`` is what an ISO string ending in Z parses to; the tz database
# knows none of these but a few, and "CST" there is not PHP's (America/Chicago's) anyway.
_PHP_ABBREVIATIONS = {
    "Z": 0, "UT": 0, "UTC": 0, "GMT": 0, "WET": 0, "WEST": 60, "BST": 60, "CET": 60,
    "CEST": 120, "EET": 120, "EEST": 180, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
    "MST": -420, "MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480,
    "HST": -600, "AEST": 600, "AEDT": 660, "JST": 540,
}  # fmt: skip


def _zone(name: object, field: str, kind: object = None) -> tzinfo:
    if not isinstance(name, str) or not name.strip():
        return UTC
    # Only as an abbreviation (type 2): as an identifier (type 3) "CET" observes summer time.
    as_abbreviation = kind == 2 or name.strip().upper() == "Z"
    abbreviation = _PHP_ABBREVIATIONS.get(name.strip().upper()) if as_abbreviation else None
    if abbreviation is not None:
        return timezone(timedelta(minutes=abbreviation)) if abbreviation else UTC
    match = _OFFSET.match(name.strip())
    if match:
        sign = -1 if match.group(1) == "-" else 1
        minutes = int(match.group(2)) * 60 + int(match.group(3))
        return timezone(sign * timedelta(minutes=minutes))
    try:
        return ZoneInfo(name.strip())
    # OSError: the tz database is files, so a directory ("America") or an overlong name fails
    # with an OS error rather than ZoneInfoNotFoundError; one odd record must not stop the run.
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise BadFieldError(field, f"unknown time zone {name!r}") from exc


# Timestamps outside these are placeholders or garbage, never a real event of either API, and
# the engine's timestamps (pandas: 1677-2262) could not hold them: one such value in the mirror
# would fail every night's reconciliation.
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


class _OutOfRangeError(BadFieldError):
    """A timestamp that parses but is no real date (``0001-01-01``, ``9999-12-31``)."""


def opt_time(value: object, field: str) -> datetime | None:
    """A timestamp as aware UTC, from any format of loop-returns-api.md §12.

    Accepts ``2023-01-01T22:27:15.000Z``, ``2023-08-22 14:08:31`` (no zone: UTC),
    ``2020-10-29T16:07:31+00:00`` and ``{"date": ..., "timezone_type": 3, "timezone": "UTC"}``
    (PHP's DateTime: type 1 an offset, 2 an abbreviation such as ``Z`` or ``EDT``, 3 a zone).
    A placeholder outside 1900-2199 reads as missing and is noted for review: the record is
    kept (a refund recon cannot see is one it might pay twice); the raw payload keeps it.

    Raises:
        BadFieldError: for unparseable text, unknown zones or wrong types.
    """
    try:
        return _moment(value, field)
    except _OutOfRangeError as exc:
        note_cleaned(field, f"{exc.reason}: read as missing")
        return None


def as_time(value: object, field: str) -> datetime:
    """A required timestamp (see ``opt_time``).

    Raises:
        BadFieldError: if missing, unparseable or out of range (1900-2199).
    """
    moment = _moment(value, field)
    if moment is None:
        raise BadFieldError(field, "missing timestamp")
    return moment


def _moment(value: object, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    zone: tzinfo = UTC
    if isinstance(value, Mapping):
        zone = _zone(value.get("timezone"), field, value.get("timezone_type"))
        value = value.get("date")
    if not isinstance(value, str) or len(value) > 64:
        raise BadFieldError(field, f"expected a timestamp, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise BadFieldError(field, f"unparseable timestamp {value[:40]!r}") from exc
    if moment.tzinfo is None:
        # Loop's zone-less forms are taken as UTC (loop-returns-api.md §12, unverified upstream).
        moment = moment.replace(tzinfo=zone)
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 0001-01-01T00:00:00+01:00
        raise _OutOfRangeError(field, f"timestamp out of range {value[:40]!r}") from None
    if not EARLIEST <= moment < LATEST:
        raise _OutOfRangeError(field, f"timestamp out of range (1900-2199) {value[:40]!r}")
    return moment


def as_mapping(value: object, field: str) -> Mapping[str, Any]:
    """A JSON object; ``None`` reads as empty.

    Raises:
        BadFieldError: for any other type.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadFieldError(field, f"expected an object, got {type(value).__name__}")
    return value


def as_php_mapping(value: object, field: str) -> Mapping[str, Any]:
    """A JSON object from a PHP service (Loop): ``None`` and ``[]`` read as empty.

    PHP's ``json_encode`` writes an associative array with no keys as ``[]``, not ``{}``; Loop's
    API is PHP (Laravel), so an object with nothing in it may come as an empty list. A list that
    holds anything is no object and is refused.

    Raises:
        BadFieldError: for any other type, and for a non-empty list.
    """
    if isinstance(value, list) and not value:
        return {}
    return as_mapping(value, field)


def as_list(value: object, field: str) -> list[Any]:
    """A JSON array; ``None`` reads as empty.

    Raises:
        BadFieldError: for any other type.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadFieldError(field, f"expected a list, got {type(value).__name__}")
    return value


def find_overlong_text(value: object, path: str = "") -> str | None:
    """The path of the first string longer than 10,000 characters anywhere in a payload."""
    if isinstance(value, str):
        return path if len(value) > MAX_TEXT else None
    if isinstance(value, Mapping):
        items: list[tuple[str, object]] = [
            (f"{path}.{key}" if path else str(key), item) for key, item in value.items()
        ]
    elif isinstance(value, list):
        items = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    else:
        return None
    for child_path, child in items:
        found = find_overlong_text(child, child_path)
        if found is not None:
            return found
    return None

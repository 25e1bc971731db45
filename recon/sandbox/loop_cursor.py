"""Loop list cursors: encoding, decoding, page-edge cursors and Loop's date formats.

Cursor: base64url JSON in the style of Loop's sample, ``{"<filter column>": "2024-03-05 14:22:15",
"id": "12345701", "_pointsToNextItems": true}``. Loop's sample carries the timestamp only; by
default the sandbox adds ``id`` as a tie-breaker so a page edge inside one second neither repeats
nor skips rows. With ``Faults.loop_cursor_without_id`` it issues Loop's shape instead (trap 4): the
edge timestamp cut to the second, no id, and the next page starts strictly past that second
(before it, or after it when pages run oldest first), so rows sharing it that did not fit on the
page are skipped (a cursor without ``id`` is always accepted). Reference:
``reference/loop-returns-api.md`` §6.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from recon.sandbox.loop_index import Key

BIG_ID = 10**30  # above every id: turns "after this second" into a key bound
_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)


class InvalidParamError(Exception):
    """A request parameter Loop would reject with 422."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Cursor:
    """A position in the ordered results; ``forward`` is Loop's ``_pointsToNextItems``."""

    column: str
    at: datetime
    return_id: int | None
    forward: bool

    def encode(self) -> str:
        payload: dict[str, Any] = {self.column: format_time(self.at)}
        if self.return_id is not None:
            payload["id"] = str(self.return_id)
        payload["_pointsToNextItems"] = self.forward
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, column: str) -> Cursor:
        """Parse a cursor handed out by this emulator (or one shaped like Loop's sample).

        Raises:
            InvalidParamError: if it is not base64 JSON naming the filter column's timestamp.
        """
        try:
            payload = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            at = parse_time(str(payload[column]))
            raw_id = payload.get("id")
            return_id = int(raw_id) if raw_id is not None else None
            forward = bool(payload.get("_pointsToNextItems", True))
        except (binascii.Error, ValueError, KeyError, TypeError, AttributeError, InvalidParamError):
            raise InvalidParamError("cursor", "The cursor is invalid.") from None
        return cls(column, at, return_id, forward)

    def lower(self) -> Key:
        """Smallest key strictly after this position (an id-less cursor: after its second)."""
        if self.return_id is None:
            # Cut to the second like Loop's sample, it stands for that whole second: the page
            # after it starts at the next one, as the page before it ends before it (``upper``).
            return (self.at.replace(microsecond=0) + timedelta(seconds=1), -1)
        return (self.at, self.return_id + 1)

    def upper(self) -> Key:
        """Largest key strictly before this position."""
        return (self.at, -1 if self.return_id is None else self.return_id - 1)


def format_time(moment: datetime) -> str:
    """``2024-03-31 00:00:00`` (UTC), as in Loop's sample ``nextPageUrl``; micros only if set."""
    pattern = "%Y-%m-%d %H:%M:%S.%f" if moment.microsecond else "%Y-%m-%d %H:%M:%S"
    return moment.astimezone(UTC).strftime(pattern)


def parse_time(text: str, field: str = "cursor") -> datetime:
    """Accept ``2023-01-01 00:00:00``, ISO 8601 (Z, offset, millis) and plain dates; naive = UTC.

    Raises:
        InvalidParamError: for anything else.
    """
    if not _DATE.match(text.strip()):
        raise InvalidParamError(field, f"The {field} field must be a valid date.")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidParamError(field, f"The {field} field must be a valid date.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def edge_cursor(key: Key, column: str, *, forward: bool, with_id: bool) -> Cursor:
    """A cursor at a page edge: (timestamp, id), or Loop's timestamp-only shape cut to seconds."""
    at, return_id = key
    if with_id:
        return Cursor(column, at, return_id, forward)
    return Cursor(column, at.replace(microsecond=0), None, forward)

"""Make untrusted text safe for reports: control characters, Excel limits, formula injection, PII.

Notes, names and reasons come from Loop, Shopify and people; DESIGN decision 10 says they are
escaped in HTML (Jinja autoescape does that) and forced to text in Excel (this module does that).
"""

from __future__ import annotations

import re

# Excel refuses a cell longer than this (Excel specifications and limits: "Total number of
# characters that a cell can contain: 32,767").
EXCEL_CELL_LIMIT = 32_767
_TRUNCATED = "…[truncated]"

# XML 1.0 forbids C0 controls other than tab/LF/CR; openpyxl raises IllegalCharacterError on them.
# DEL and C1 controls are legal XML but render as garbage, so they go too.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# A spreadsheet treats a cell starting with one of these as a formula when the text is typed,
# pasted or exported to CSV (OWASP "CSV Injection"); tab and CR are used to hide the prefix.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# An address starts where its local part does (the lookbehind): without it the search tried
# every position of a long run of letters, each scanning to the run's end for an "@", and a
# 40,000-character note took 0.8 s per cell (quadratic), a 400,000-character one over a minute.
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Phone numbers need a leading + or separators between digit groups, so that RMA numbers and
# Shopify ids (long bare digit strings) are never mistaken for phones. An international number
# (+ and a country code) may be written in any grouping: "+33 6 12 34 56 78", "+44 7700 900123",
# "+44 (0)20 7946 0958", "+15551234567"; it is a phone when it holds 8 to 15 digits (E.164 has at
# most 15), so "+100.00" stays. A national one needs three groups: "(555)123-4567", "555 123 4567".
_PHONE = re.compile(
    r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(\d{1,4}\))?(?:[\s.-]?\d{1,6}){1,7}(?![\w])"
    r"|(?<![\w])(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4}(?![\w])"
)
_E164_DIGITS = range(8, 16)
EMAIL_PLACEHOLDER = "[email removed]"
PHONE_PLACEHOLDER = "[phone removed]"


def strip_control(text: str) -> str:
    """Remove control characters that XML or spreadsheets cannot show (keeps tab, LF, CR)."""
    return _CONTROL.sub("", text)


def cap_cell(text: str, limit: int = EXCEL_CELL_LIMIT) -> str:
    """Cut text to Excel's per-cell limit, saying that it was cut.

    Excel counts UTF-16 code units: a character outside the Basic Multilingual Plane (an emoji)
    is two of them.
    """
    if _utf16_units(text) <= limit:
        return text
    room = limit - _utf16_units(_TRUNCATED)
    cut, used = 0, 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > room:
            break
        used += size
        cut += 1
    return text[:cut] + _TRUNCATED


def _utf16_units(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet could read the text as a formula."""
    return text.startswith(FORMULA_PREFIXES)


def scrub_pii(text: str) -> str:
    """Replace e-mail addresses and phone numbers with placeholders."""
    return _PHONE.sub(_phone_placeholder, _EMAIL.sub(EMAIL_PLACEHOLDER, text))


def _phone_placeholder(match: re.Match[str]) -> str:
    """The placeholder for a phone; an international-looking match of too few or too many digits
    (a signed amount, a long id) is kept."""
    text = match.group(0)
    if text.startswith("+") and sum(ch.isdigit() for ch in text) not in _E164_DIGITS:
        return text
    return PHONE_PLACEHOLDER


def clean_text(value: object, *, include_pii: bool = False) -> str:
    """Untrusted value → displayable text: control characters removed, PII scrubbed unless allowed.

    ``None`` becomes the empty string. Length is not capped here (HTML has no cell limit); the
    Excel writer caps with ``cap_cell``.
    """
    if value is None:
        return ""
    text = strip_control(str(value))
    return text if include_pii else scrub_pii(text)


def excel_text(value: str) -> str:
    """Text fit for one Excel cell: control characters removed and capped at the cell limit."""
    return cap_cell(strip_control(value))

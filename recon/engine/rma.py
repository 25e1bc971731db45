"""Parse Loop RMA numbers out of Shopify refund notes (scalar and vectorised over a Series)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from recon.config import DEFAULT_RMA_PATTERNS, NOT_AN_RMA

# Notes the RE2 fast path may parse: printable ASCII only (Arrow's ``ascii_is_printable``, true
# for "" too). On such text RE2 and Python ``re``
# agree on \d, \w, \s, \b and case folding; anything else (Unicode digits, \x1c-\x1f or \v, which
# Python counts as whitespace) goes through ``parse_rmas``.
_PLAIN_NOTE = r"^[\x20-\x7e]*$"

# A list after one RMA names every RMA in it: "RMA 12345, 12346", "RMAs 12345 and 12346",
# "RMA #12345 / #12346" (issue #4: a note naming two RMAs is AMBIGUOUS_RMA, not a silent pick
# of the first). Items are read after a match of any pattern; a word between ends the list.
# Items split by a punctuation mark or a word ("," "/" "&" ";" "|" "+", "and", "or"); by a
# dash between numbers ("-", "--" for an em dash typed without one, or the en and em dashes,
# U+2013 and U+2014, a mail client writes for " - "): "RMA 12345 - 12346"; glued, "12345-12347",
# only between two of five digits or more: a range, read as its two ends, never expanded, see
# ``NOT_AN_RMA``; by whitespace alone between numbers ("RMA 12345 12346"); by "#" repeated
# ("RMA #12345 #12346": the id before had one, else "RMA 12345 #1001" is an RMA and an order
# name). "Between numbers" (the look-behind) keeps a dash or a space after a word out:
# "RMA-12345" and "ticket 12345 returned 12346" hold no list there. A line break alone is no
# separator: the list goes on past one only after a separator on the line before ("RMA
# 12345,\n12346"), so an address under the note ("Loop RMA #12345\n1001 Main St") is none.
# "+" or whitespace alone before a number with fewer digits than the id before it is an amount
# or a year, a phone number ("Loop RMA #12345 + 500 shipping", "RMA 12345 2026", "RMA 12345
# 555 1234"): ``parse_rmas`` skips it (the ``plus`` and ``space`` groups).
_SPACE = r"[^\S\n\r\v\f\x1c-\x1e\x85\u2028\u2029]"  # \s but no line break (str.splitlines)
_PUNCTUATION = r"[,/&;|]|(?P<plus>\+)|\band\b|\bor\b"
_DASH_MARK = "(?:--?|[\u2013\u2014])"
_DASH = (
    rf"(?<=\d)(?:{_SPACE}+{_DASH_MARK}|{_DASH_MARK}\s)\s*#?\s*"
    rf"|(?<=\d{{5}}){_DASH_MARK}(?=\d{{5}})"  # glued: as ``NOT_AN_RMA`` reads it
)
_LIST_SEPARATOR = (
    rf"(?:{_SPACE}*(?:{_PUNCTUATION})\s*#?\s*|{_DASH}"
    rf"|(?<=\d){_SPACE}*(?P<hash>#)\s*|(?<=\d)(?P<space>{_SPACE}+))"
)
_CURRENCY = (
    r"(?:usd|eur|gbp|cad|aud|nzd|jpy|chf|sek|nok|dkk|pln|czk|huf|mxn|brl|inr"
    r"|sgd|hkd|cny|krw|zar|aed|ils|dollars?|euros?)\b|[$€£¥]"
)
# A list item with a currency after it is an amount, as a person reads it: "RMA 12345, 150
# USD", "RMA 12345 / 150 €", "150 dollars". Only codes that are no English word or name (not
# ALL, TOP, RON), and not a currency that leads an amount after it ("RMA 12345, 12346 USD
# 40.00", "12346 $40": 12346 is an RMA). A word alone ("RMA 12345, 12346 refunded") proves
# nothing: read as an amount, a real second RMA would look unpaid and be refunded again. With
# punctuation between ("12346 EUR: 40.00") the grammar cannot tell "150 USD (2 items)", an
# amount, from a currency leading one; the note's other return of the same order is named by
# ``rma_siblings`` whatever the grammar read, which is where a missed RMA could cost money.
_CURRENCY_AFTER = rf"\d{{3,20}}\s*(?:{_CURRENCY})(?!\s*\d)"
# A list item that is no RMA after "RMA" either (``NOT_AN_RMA``: an amount with decimals, a
# date, a phone number, a number glued to "-<digit>"), or is one with fewer digits than an RMA
# ("15.00", "15,00", "30.11.2026", "02/11/2026"), read to its last digit ("150.0" is where
# ``NOT_AN_RMA`` stops in "150.00") and its currency. It is skipped, not the list's end:
# "RMA 12345, 150.00, 12346" names 12346 too, which would otherwise look unpaid.
_NO_ITEM = (
    rf"(?:{NOT_AN_RMA}|\d{{1,2}}(?:[.-]\d|,\d{{1,2}}\b)|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b)"
    rf"(?:[.-]?\d)*(?:\s*(?:{_CURRENCY}))?"
)
# The list goes on after such an item or a whole amount ("RMA 12345, 150 USD, 12346").
_LIST_NEXT = re.compile(
    rf"{_LIST_SEPARATOR}(?:{_NO_ITEM}|{_CURRENCY_AFTER}|(?P<rma>\d{{3,20}}))",
    re.IGNORECASE,
)
# RE2, over plain notes: a separator, then 3 digits, anywhere. A note with one match and this
# may hold a list, so ``parse_rmas`` reads it (few notes: most name their RMA alone). Each
# ``_LIST_SEPARATOR`` before an item is found by it (the look-behinds' digit read as one), so
# it misses no list; not "digits, a separator" for the punctuation: a list is read from the
# end of the match, and a custom pattern may end in text ("(?P<rma>\d+) returned" on "12345
# returned, 12346"), which RE2 then read as one RMA. A dash or a space counts after a digit
# only, so "RMA-12345", "Refund RMA 12345" and "RMA 777 (call 555-123-4567)" stay on the
# fast path.
_LIST_HINT = (
    r"(?i)(?:(?:[,/&;|+]|\band\b|\bor\b)\s*#?|\d(?:\s+--?|--?\s)\s*#?|\d\s*#|\d\s)\s*\d{3}"
    r"|\d{5}--?\d{5}"
)


@lru_cache(maxsize=32)
def _compile(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One alternation of all patterns, group ``rma`` renamed ``rma_<i>``: one scan per note.

    Notes are free text typed by staff ("rma: 123", "Loop RMA #123"), so matching ignores case.
    """
    parts = [f"(?:{p.replace('(?P<rma>', f'(?P<rma_{i}>')})" for i, p in enumerate(patterns)]
    return re.compile("|".join(parts), re.IGNORECASE)


def ascii_digits(text: str) -> str:
    """``text`` with every Unicode decimal digit written as its ASCII digit.

    Python's ``\\d`` matches any decimal digit, so a note typed with fullwidth (an IME) or
    Arabic-Indic digits names an RMA in them; Loop's ids are ASCII. Other characters are kept.
    """
    if text.isascii():
        return text
    return "".join(
        str(digit) if (digit := unicodedata.decimal(c, None)) is not None else c for c in text
    )


def parse_rmas(note: str | None, patterns: Iterable[str] = DEFAULT_RMA_PATTERNS) -> list[str]:
    """Return the distinct RMA numbers a note names, in order of first appearance.

    Every pattern must have a named group ``rma``. The patterns are tried as one alternation
    (earlier patterns win at a position), so ``"RMA 1 and RMA 2"`` gives two ids (findings.md: a
    note naming two RMAs is AMBIGUOUS_RMA), and so does a list after one match, ``"RMA 123,
    124"`` (``_LIST_NEXT``). Leading zeros are kept: an RMA is an id, not a number.
    Digits are given in ASCII (``ascii_digits``): fullwidth "RMA 123" names RMA 123.

    Raises:
        re.error: if a pattern is not a regular expression (settings validate them first).
    """
    if not note:
        return []
    found: dict[str, None] = {}
    for match in _compile(tuple(patterns)).finditer(note):
        group = next((k for k, v in match.groupdict().items() if k.startswith("rma_") and v), "")
        if not group:
            continue
        rma, end = match[group], match.end()
        found.setdefault(ascii_digits(rma), None)
        # "RMA #12345", "RMA #: 12345": written with "#"
        hashed = note[: match.start(group)].rstrip().removesuffix(":").rstrip().endswith("#")
        while (item := _LIST_NEXT.match(note, end)) is not None:
            if item["hash"] and not hashed:
                break  # "RMA 12345 #1001": an order name after the RMA
            # else an amount, a date or a phone number, "+ 500" or " 2026" after 12345: read past
            weak = item["plus"] or item["space"]
            if item["rma"] and not (weak and len(item["rma"]) < len(rma)):
                hashed = hashed or "#" in note[end : item.start("rma")]
                rma = item["rma"]
                found.setdefault(ascii_digits(rma), None)  # "RMA 12345, 12346"
            end = item.end()
    return list(found)


def parse_rma_series(notes: pd.Series, patterns: Sequence[str] = DEFAULT_RMA_PATTERNS) -> pd.Series:
    """Parse a Series of notes into a Series of RMA tuples (same index), as ``parse_rmas`` would.

    Raises:
        re.error: if a pattern is not a regular expression.
    """
    counts, first = parse_rma_arrays(notes, patterns)
    return pd.Series(rma_tuples(notes, counts, first, patterns), index=notes.index, dtype=object)


def rma_tuples(
    notes: pd.Series, counts: np.ndarray, first: np.ndarray, patterns: Sequence[str]
) -> np.ndarray:
    """The RMA tuples ``parse_rma_series`` returns, from ``parse_rma_arrays``' answer.

    Raises:
        re.error: if a pattern is not a regular expression.
    """
    out = np.empty(len(counts), dtype=object)
    out[:] = [()] * len(counts)
    one = np.flatnonzero(counts == 1)
    out[one] = [(rma,) for rma in first[one]]
    filled = notes.fillna("").astype(str).to_numpy()
    many = np.flatnonzero(counts >= 2)
    out[many] = [tuple(parse_rmas(note, tuple(patterns))) for note in filled[many]]
    return out


@dataclass(frozen=True)
class ParsedNotes:
    """``parse_notes``' answer: counts, and the first RMA of each note in two parts.

    Notes parsed by RE2 with one match keep their RMA in ``fast`` (an Arrow string array, null
    elsewhere; None without pyarrow) so callers can look them up without making 1M ``str``
    objects; ``first`` holds the other notes' first RMA (None for the ``fast`` rows).
    """

    counts: np.ndarray
    first: np.ndarray
    fast: Any
    fast_rows: np.ndarray

    def first_rmas(self) -> np.ndarray:
        """The first RMA of every note as ``str`` (or None), ``fast`` rows included."""
        first = self.first.copy()
        if self.fast_rows.any():
            first[self.fast_rows] = self.fast.to_numpy(zero_copy_only=False)[self.fast_rows]
        return first


def parse_rma_arrays(
    notes: pd.Series, patterns: Sequence[str] = DEFAULT_RMA_PATTERNS
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_rmas, first_rma)`` per note: how many distinct RMAs it names and the first (or None).

    Raises:
        re.error: if a pattern is not a regular expression.
    """
    parsed = parse_notes(notes, patterns)
    return parsed.counts, parsed.first_rmas()


def parse_notes(notes: pd.Series, patterns: Sequence[str] = DEFAULT_RMA_PATTERNS) -> ParsedNotes:
    """``parse_rma_arrays``, with the RE2-parsed first RMAs left in Arrow.

    The bulk goes through Arrow's RE2 kernels when pyarrow is installed (a 1M-refund run spent
    seconds in ``re``, issue H10); notes with two or more matches, unusual characters, or
    patterns RE2 cannot compile are parsed by ``parse_rmas``, each distinct note once, so the
    answer is the same either way. Notes exactly as recon writes them (``Loop RMA #<digits>``)
    skip the regex when the default pattern comes first (``_own_notes``).

    Raises:
        re.error: if a pattern is not a regular expression.
    """
    own = _own_notes(notes, tuple(patterns))
    if own is None:
        return _parse_notes(notes, patterns)
    rows, rmas = own
    rest = np.flatnonzero(~rows)
    if not len(rest):
        return ParsedNotes(
            counts=np.ones(len(rows), dtype=np.int64),
            first=np.full(len(rows), None, dtype=object),
            fast=rmas,
            fast_rows=rows,
        )
    other = _parse_notes(notes.iloc[rest], patterns)
    counts = np.ones(len(rows), dtype=np.int64)
    counts[rest] = other.counts
    first = np.full(len(rows), None, dtype=object)
    first[rest] = other.first
    fast_rows = rows.copy()
    fast_rows[rest] = other.fast_rows
    if other.fast is not None and other.fast_rows.any():
        import pyarrow as pa  # present: ``_own_notes`` used it
        import pyarrow.compute as pc

        at = np.full(len(rows), -1, dtype=np.int64)
        at[rest] = np.arange(len(rest))
        theirs = other.fast.take(pa.array(at, mask=at < 0)).cast(rmas.type)
        rmas = pc.if_else(pa.array(rows), rmas, theirs)
    return ParsedNotes(counts=counts, first=first, fast=rmas, fast_rows=fast_rows)


# recon's own refund note (config.py ``note_template``), matched whole by DEFAULT_RMA_PATTERNS[0].
_OWN_PREFIX = "Loop RMA #"


def _own_notes(notes: pd.Series, patterns: tuple[str, ...]) -> tuple[np.ndarray, Any] | None:
    """Rows that are exactly ``Loop RMA #`` + 3-20 ASCII digits, and those digits (Arrow).

    With the default first pattern such a note gives exactly those digits (the first
    alternative matches the whole note at position 0), so no regex needs to run. None when
    patterns differ or pyarrow is missing.
    """
    if not patterns or patterns[0] != DEFAULT_RMA_PATTERNS[0] or not len(notes):
        return None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - optional dependency
        return None
    try:
        array = pa.array(notes.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a note that is not text: the general path
        return None
    tail = pc.utf8_slice_codeunits(array, len(_OWN_PREFIX))
    size = pc.utf8_length(tail)
    own = pc.and_(
        pc.and_(pc.starts_with(array, _OWN_PREFIX), pc.ascii_is_decimal(tail)),
        pc.and_(pc.greater_equal(size, 3), pc.less_equal(size, 20)),
    )
    rows = np.asarray(pc.fill_null(own, False).to_numpy(zero_copy_only=False), dtype=bool)
    return rows, pc.if_else(own, tail, pa.scalar(None, type=tail.type))


def _parse_notes(notes: pd.Series, patterns: Sequence[str]) -> ParsedNotes:
    """``parse_notes`` without the own-note shortcut."""
    key = tuple(patterns)
    filled = notes.fillna("").astype(str).to_numpy(dtype=object)
    counts = np.zeros(len(filled), dtype=np.int64)
    first = np.full(len(filled), None, dtype=object)
    slow, fast = np.ones(len(filled), dtype=bool), None
    fast_rows = np.zeros(len(filled), dtype=bool)
    if len(filled) and all(p.isascii() for p in key):
        slow, fast, fast_rows = _fast_parse(filled, _compile(key).pattern, counts)
    parsed: dict[str, list[str]] = {}
    for i in np.flatnonzero(slow):
        note = filled[i]
        found = parsed[note] if note in parsed else parsed.setdefault(note, parse_rmas(note, key))
        counts[i] = len(found)
        first[i] = found[0] if found else None
    return ParsedNotes(counts=counts, first=first, fast=fast, fast_rows=fast_rows)


def _fast_parse(
    filled: np.ndarray, pattern: str, counts: np.ndarray
) -> tuple[np.ndarray, Any, np.ndarray]:
    """Count plain notes with at most one match; return the rest's mask, RMAs and their rows."""
    everything, none = np.ones(len(filled), dtype=bool), np.zeros(len(filled), dtype=bool)
    try:
        import pyarrow as pa  # optional dependency; no stubs
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is optional: ``re`` parses every note
        return everything, None, none
    arr = pa.array(filled, type=pa.string())
    regex = "(?i)" + pattern
    try:
        matched = pc.count_substring_regex(arr, regex).to_numpy(zero_copy_only=False)
        groups = pc.extract_regex(arr, regex)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # RE2 lacks it: use ``re``
        return everything, None, none
    plain = pc.ascii_is_printable(arr).to_numpy(zero_copy_only=False)  # ``_PLAIN_NOTE``
    listed = pc.match_substring_regex(arr, _LIST_HINT).to_numpy(zero_copy_only=False)
    one = plain & (matched == 1) & ~listed  # a list after the one match: ``parse_rmas``
    rma = pa.nulls(len(filled), pa.string())
    for name in (f.name for f in groups.type if f.name.startswith("rma_")):
        value = pc.struct_field(groups, name)  # "" is no RMA, as in ``parse_rmas``
        rma = pc.if_else(pc.is_null(rma), pc.if_else(pc.equal(value, ""), None, value), rma)
    found = one & ~pc.is_null(rma).to_numpy(zero_copy_only=False)
    counts[found] = 1
    slow: np.ndarray = ~((plain & (matched == 0)) | one)
    return slow, rma, found

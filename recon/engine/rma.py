"""Parse Loop RMA numbers out of Shopify refund notes (scalar and vectorised over a Series)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import pandas as pd

from recon.config import DEFAULT_RMA_PATTERNS


@lru_cache(maxsize=32)
def _compile(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One alternation of all patterns, group ``rma`` renamed ``rma_<i>``: one scan per note.

    Notes are free text typed by staff ("rma: 123", "Loop RMA #123"), so matching ignores case.
    """
    parts = [f"(?:{p.replace('(?P<rma>', f'(?P<rma_{i}>')})" for i, p in enumerate(patterns)]
    return re.compile("|".join(parts), re.IGNORECASE)


def parse_rmas(note: str | None, patterns: Iterable[str] = DEFAULT_RMA_PATTERNS) -> list[str]:
    """Return the distinct RMA numbers a note names, in order of first appearance.

    Every pattern must have a named group ``rma``. The patterns are tried as one alternation
    (earlier patterns win at a position), so ``"RMA 1 and RMA 2"`` gives two ids (findings.md: a
    note naming two RMAs is AMBIGUOUS_RMA). Leading zeros are kept: an RMA is an id, not a number.

    Raises:
        re.error: if a pattern is not a regular expression (settings validate them first).
    """
    if not note:
        return []
    found: dict[str, None] = {}
    for match in _compile(tuple(patterns)).finditer(note):
        rma = next((v for k, v in match.groupdict().items() if k.startswith("rma_") and v), None)
        if rma is not None:
            found.setdefault(rma, None)
    return list(found)


def parse_rma_series(notes: pd.Series, patterns: Sequence[str] = DEFAULT_RMA_PATTERNS) -> pd.Series:
    """Parse a Series of notes into a Series of RMA lists (same index); each distinct note once.

    Raises:
        re.error: if a pattern is not a regular expression.
    """
    key = tuple(patterns)
    filled = notes.fillna("").astype(str)
    unique = pd.unique(filled)
    parsed = {note: tuple(parse_rmas(note, key)) for note in unique}
    return filled.map(parsed)

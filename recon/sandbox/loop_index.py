"""Sorted indexes over the world's Loop returns, so a list page costs its size plus a bisect."""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from recon.sandbox.world_loop import LoopReturn

Key = tuple[datetime, int]  # (filter column value, numeric id): the order of list results
COLUMNS = ("created_at", "updated_at")


@dataclass
class _Part:
    """One (column, state) slice of the returns, sorted by key."""

    keys: list[Key] = field(default_factory=list)
    rows: list[LoopReturn] = field(default_factory=list)


def _stream(part: _Part, positions: range) -> Iterator[tuple[Key, LoopReturn]]:
    for pos in positions:
        yield part.keys[pos], part.rows[pos]


def _sort_key(item: tuple[Key, LoopReturn]) -> Key:
    return item[0]


@dataclass
class ReturnIndex:
    """Per (column, state) sorted keys, plus lookups for the details endpoint."""

    parts: dict[tuple[str, str], _Part] = field(default_factory=dict)
    by_id: dict[str, LoopReturn] = field(default_factory=dict)
    by_order_id: dict[str, list[LoopReturn]] = field(default_factory=dict)
    by_order_name: dict[str, list[LoopReturn]] = field(default_factory=dict)

    @staticmethod
    def key(column: str, row: LoopReturn) -> Key:
        moment: datetime = getattr(row, column)
        return (moment, int(row.id))

    def take(
        self,
        column: str,
        states: Iterable[str],
        lower: Key,
        upper: Key,
        limit: int | None,
        now: datetime,
        *,
        newest_first: bool,
    ) -> list[LoopReturn]:
        """Up to ``limit`` visible rows with ``lower <= key <= upper``, from ``upper`` down
        (``newest_first``) or from ``lower`` up; the states are merged in key order.

        Work is proportional to the rows taken (plus rows not yet created, normally none) and a
        bisect per state: the parts are walked lazily, never copied.
        """
        streams = []
        for state in states:
            part = self.parts.get((column, state))
            if part is None:
                continue
            start, stop = bisect_left(part.keys, lower), bisect_right(part.keys, upper)
            positions = range(stop - 1, start - 1, -1) if newest_first else range(start, stop)
            streams.append(_stream(part, positions))
        merged = heapq.merge(*streams, key=_sort_key, reverse=newest_first)
        # A return exists once it was created (state.py's visibility rule).
        visible = (row for _, row in merged if row.created_at <= now)
        return list(islice(visible, limit))


def build_index(returns: Iterable[LoopReturn]) -> ReturnIndex:
    """Sort the returns once per (column, state); O(n log n), rebuilt only on change."""
    index = ReturnIndex()
    for row in returns:
        index.by_id[row.id] = row
        index.by_order_id.setdefault(row.provider_order_id, []).append(row)
        index.by_order_name.setdefault(row.order_name, []).append(row)
        for column in COLUMNS:
            part = index.parts.setdefault((column, row.state.value), _Part())
            part.rows.append(row)
    for (column, _state), part in index.parts.items():
        pairs = sorted(((ReturnIndex.key(column, row), row) for row in part.rows), key=_sort_key)
        part.keys = [k for k, _ in pairs]
        part.rows = [row for _, row in pairs]
    return index

"""Inline SVG chart geometry for the HTML report: numbers computed here, the template draws them.

No external resources: the e-mail and the report must render offline (DESIGN decision 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recon.reporting.data import CategoryTotal

ROW_HEIGHT = 22
LABEL_WIDTH = 230
BAR_AREA = 300
VALUE_GAP = 6


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar: its label, value and rectangle."""

    label: str
    value: int
    x: int
    y: int
    width: int
    height: int
    text_y: int
    value_x: int


@dataclass(frozen=True, slots=True)
class BarChart:
    """A horizontal bar chart sized for an e-mail column."""

    width: int
    height: int
    label_x: int
    bars: tuple[Bar, ...]
    title: str


def findings_by_category_chart(totals: Sequence[CategoryTotal]) -> BarChart:
    """Bars of open findings per category, longest first (counts: they add across currencies)."""
    peak = max((t.count for t in totals), default=0)
    bars = []
    for index, total in enumerate(totals):
        width = round(BAR_AREA * total.count / peak) if peak else 0
        y = index * ROW_HEIGHT + 4
        bars.append(
            Bar(
                label=total.category,
                value=total.count,
                x=LABEL_WIDTH,
                y=y,
                width=max(width, 1),
                height=ROW_HEIGHT - 6,
                text_y=y + ROW_HEIGHT - 10,
                value_x=LABEL_WIDTH + max(width, 1) + VALUE_GAP,
            )
        )
    return BarChart(
        width=LABEL_WIDTH + BAR_AREA + 60,
        height=max(len(bars), 1) * ROW_HEIGHT + 8,
        label_x=LABEL_WIDTH - VALUE_GAP,
        bars=tuple(bars),
        title="Open findings by category",
    )

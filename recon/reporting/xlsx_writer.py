"""A small streaming xlsx writer over openpyxl's write-only mode: typed columns, safe text, tables.

Rows go straight to a temporary file per sheet (openpyxl write-only), so memory stays flat in the
number of rows. Every ``str`` is treated as untrusted and written as a text cell; only values
wrapped in ``Formula`` (built by recon) become formulas.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from recon.money import exponent
from recon.reporting.safety import excel_text, looks_like_formula

ColumnKind = Literal["text", "money", "int", "number", "date", "datetime", "formula"]
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


@dataclass(frozen=True, slots=True)
class Column:
    """One sheet column: its name (the key of the values it shows; ``header``, also the table
    column name, is made from it), kind and width in characters.

    A ``money`` column takes its minor-unit digits from the currency in ``currency_column``.
    """

    name: str
    kind: ColumnKind = "text"
    width: float = 14.0
    currency_column: str | None = None

    def header(self, timezone: str = "UTC") -> str:
        """The column's header and table column name: its name, and for a column of times or
        days the zone they are in (Excel cells have no zone, so the header says whose clock or
        calendar it is): ``"<name> (UTC)"`` for times, every one written in UTC
        (``StreamingSheet._cell``), as findings.json keeps them; ``"<name> (<timezone>)"`` for
        days, the shop's days (``timezone``: ``[shop] timezone``), as the report's period and
        folder are (``data.to_row`` makes a finding's first-seen day so)."""
        if self.kind == "datetime":
            return f"{self.name} (UTC)"
        return f"{self.name} ({timezone})" if self.kind == "date" else self.name


@dataclass(frozen=True, slots=True)
class Formula:
    """A formula recon built itself from validated parts (never from untrusted text)."""

    text: str

    def __post_init__(self) -> None:
        if not self.text.startswith("="):
            raise ValueError("a formula starts with '='")


def money_format(currency: str | None) -> str:
    """Excel number format with the currency's minor-unit digits (ISO 4217)."""
    digits = exponent(currency) if currency else 2
    return "#,##0" + ("." + "0" * digits if digits else "")


# Excel's grid has 1,048,576 rows per sheet, the header row included. openpyxl writes rows past
# it without a word, and Excel then refuses the file as corrupt: a sheet that would hold more
# goes on in "<title> (2)", "(3)", ..., each part its own table ("<table>2", ...).
EXCEL_ROWS = 1_048_576


class StreamingSheet:
    """A write-only sheet with a header row, frozen panes and an Excel table over its rows.

    Past the book's ``rows_per_sheet`` it goes on in a continuation sheet: ``tables`` names the
    table of every part, for formulas over all its rows.
    """

    def __init__(
        self, book: StreamingBook, title: str, columns: Sequence[Column], table: str | None
    ) -> None:
        self._book = book
        self.title = title
        self.columns = tuple(columns)
        self.table_name = table
        self.tables: list[str] = []
        self.parts = 0
        self.rows_written = 0
        self._currency_index = {
            i: [c.name for c in self.columns].index(c.currency_column)
            for i, c in enumerate(self.columns)
            if c.currency_column
        }
        self._open_part()

    def _open_part(self) -> None:
        self.parts += 1
        suffix = "" if self.parts == 1 else str(self.parts)
        self._ws = self._book.workbook.create_sheet(
            f"{self.title} ({suffix})" if suffix else self.title
        )
        if self.table_name is not None:
            self.tables.append(self.table_name + suffix)
        self._part_rows = 0
        self._setup_layout()

    def _setup_layout(self) -> None:
        # Widths and panes go into the sheet head, so they must be set before the first row.
        for index, column in enumerate(self.columns, start=1):
            self._ws.column_dimensions[get_column_letter(index)].width = column.width
        self._ws.freeze_panes = "A2"
        header = []
        for column in self.columns:
            cell = WriteOnlyCell(self._ws, column.header(self._book.timezone))
            cell.font = self._book.bold
            header.append(cell)
        self._ws.append(header)

    @property
    def worksheet(self) -> Any:
        """The underlying openpyxl write-only worksheet (for charts)."""
        return self._ws

    def append(self, values: Sequence[object]) -> None:
        """Write one data row; values line up with ``columns``."""
        if self._part_rows + 1 >= self._book.rows_per_sheet:  # the header takes one row
            self._finish_part()
            self._open_part()
        cells = [self._cell(i, value, values) for i, value in enumerate(values)]
        self._ws.append(cells)
        self._part_rows += 1
        self.rows_written += 1

    def extend(self, rows: Iterable[Sequence[object]]) -> None:
        """Write rows from any iterable (consumed lazily)."""
        for row in rows:
            self.append(row)

    def append_raw(self, values: Sequence[object]) -> None:
        """Write a row outside the table's typed columns (Summary blocks)."""
        self._ws.append([self._cell(None, value, values) for value in values])

    def _cell(self, index: int | None, value: object, row: Sequence[object]) -> object:
        if value is None or value == "":
            return None
        if isinstance(value, Formula):
            return value.text
        if isinstance(value, str):
            return self._book.text_cell(self._ws, value)
        if isinstance(value, Decimal):
            currency = None
            if index is not None and index in self._currency_index:
                currency = row[self._currency_index[index]]
            return self._book.styled(
                self._ws, value, money_format(currency if isinstance(currency, str) else None)
            )
        if isinstance(value, datetime):
            naive = value.astimezone(UTC).replace(tzinfo=None)  # Excel has no time zones
            return self._book.styled(self._ws, naive, DATETIME_FORMAT)
        if isinstance(value, date):
            return self._book.styled(self._ws, value, DATE_FORMAT)
        return value

    def finish(self) -> None:
        """Add the Excel table (with autofilter) over the last part's header and rows."""
        self._finish_part()

    def _finish_part(self) -> None:
        if self.table_name is None:
            return
        if self._part_rows == 0:
            # A table needs one data row; an empty one keeps formulas over it valid.
            self._ws.append([None] * len(self.columns))
        last_row = max(self._part_rows, 1) + 1
        ref = f"A1:{get_column_letter(len(self.columns))}{last_row}"
        table = Table(displayName=self.tables[-1], ref=ref)
        # openpyxl reads header names back from the cells, which write-only sheets cannot do.
        table.tableColumns = [
            TableColumn(id=i, name=c.header(self._book.timezone))
            for i, c in enumerate(self.columns, start=1)
        ]
        table.autoFilter = AutoFilter(ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        with warnings.catch_warnings():
            # openpyxl warns on every write-only add_table that columns must be set by hand;
            # they are, just above.
            warnings.filterwarnings("ignore", "In write-only mode you must add table columns")
            self._ws.add_table(table)


class StreamingBook:
    """A write-only workbook that hands out ``StreamingSheet``s and caches cell styles."""

    def __init__(self, *, rows_per_sheet: int = EXCEL_ROWS, timezone: str = "UTC") -> None:
        if rows_per_sheet < 2:
            raise ValueError("a sheet holds its header and at least one row")
        self.rows_per_sheet = rows_per_sheet
        # Whose days the sheets' columns of days are (``Column.header``): the shop's.
        self.timezone = timezone
        self.workbook = Workbook(write_only=True)
        self._prototypes: dict[str, WriteOnlyCell] = {}
        self._text_proto: WriteOnlyCell | None = None
        self.sheets: list[StreamingSheet] = []
        from openpyxl.styles import Font  # local: keeps module import light

        self.bold = Font(bold=True)

    def sheet(
        self, title: str, columns: Sequence[Column], table: str | None = None
    ) -> StreamingSheet:
        """Create the next sheet (sheet order is creation order)."""
        sheet = StreamingSheet(self, title, columns, table)
        self.sheets.append(sheet)
        return sheet

    def styled(self, ws: Any, value: object, number_format: str) -> WriteOnlyCell:
        """A cell with a number format; the style array is copied from a cached prototype."""
        proto = self._prototypes.get(number_format)
        if proto is None:
            proto = WriteOnlyCell(ws)
            proto.number_format = number_format
            self._prototypes[number_format] = proto
        cell = WriteOnlyCell(ws, value)
        cell._style = copy(proto._style)
        return cell

    def text_cell(self, ws: Any, text: str) -> object:
        """Untrusted text → a value that can only ever be a string cell.

        openpyxl turns a string starting with ``=`` into a formula and ``#N/A``-like strings into
        errors; such text is written as an explicit string cell with the quote prefix (Excel's
        "this is text" flag), as is anything a spreadsheet would treat as a formula when retyped.
        """
        text = excel_text(text)
        if not (looks_like_formula(text) or text in ERROR_CODES):
            return text
        if self._text_proto is None:
            self._text_proto = WriteOnlyCell(ws)
            self._text_proto.quotePrefix = True
        cell = WriteOnlyCell(ws)
        cell._value = text
        cell.data_type = "s"
        cell._style = copy(self._text_proto._style)
        return cell

    def save(self, path: Path) -> None:
        """Finish every sheet's table and write the file."""
        for sheet in self.sheets:
            sheet.finish()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.workbook.save(path)

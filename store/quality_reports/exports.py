"""Writing the report's tables: the figures as CSV (UTF-8 with a byte-order mark, so Excel
opens the Chinese headers right), every table as a sheet of one XLSX workbook (openpyxl)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Font

from store.quality_reports.tables import Cell, Num, Table

_FORMATS: Final = {"rate": "0.0%", "count": "0", "per_10k": "0.00"}
_CHANGE_FORMATS: Final = {
    "rate": "+0.0%;-0.0%;0.0%",
    "count": "+0;-0;0",
    "per_10k": "+0.00;-0.00;0.00",
}
_WIDTHS: Final = (14, 40)
"""characters: the first column (codes), the longest any column gets"""


def _plain(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Num):
        return "" if cell.value is None else repr(cell.value)
    return str(cell)


def to_csv(table: Table) -> bytes:
    """One table as CSV; numbers unrounded (Python's shortest exact form), no value empty."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows([_plain(cell) for cell in row] for row in table.rows)
    return out.getvalue().encode("utf-8-sig")


def _number_format(cell: Num) -> str:
    formats = _CHANGE_FORMATS if cell.change else _FORMATS
    return formats.get(cell.unit, "+0.0;-0.0;0.0" if cell.change else "0.0")


def _sheet(book: Workbook, table: Table) -> None:
    sheet = book.create_sheet(table.name)
    sheet.append(list(table.header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([cell.value if isinstance(cell, Num) else cell for cell in row])
        for column, cell in enumerate(row, start=1):
            target = sheet.cell(row=sheet.max_row, column=column)
            if isinstance(cell, Num) and cell.value is not None:
                target.number_format = _number_format(cell)
            elif isinstance(cell, date):
                target.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    for index, column in enumerate(sheet.iter_cols(values_only=True)):
        longest = max((len(_plain(v)) for v in column), default=0)
        letter = sheet.cell(row=1, column=index + 1).column_letter
        sheet.column_dimensions[letter].width = min(max(longest * 1.6, 8), _WIDTHS[1])


def to_xlsx(tables: list[Table]) -> bytes:
    """Every table as a sheet named after it, in order."""
    book = Workbook()
    book.remove(book.active)
    for table in tables:
        _sheet(book, table)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

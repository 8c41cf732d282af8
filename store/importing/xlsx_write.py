"""Writing a one-sheet XLSX with the standard library: the sample files in docs/samples/ and
the benchmark's 50,000-account workbook are made with it, so the reader is tested against files
of a known shape. Every cell is written as an inline string (what an export of identifiers and
amounts should be: Excel must not turn a 22-digit meter number into 3.33E+21)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from io import BytesIO
from xml.sax.saxutils import escape

_OOXML = "http://schemas.openxmlformats.org"
_PKG_RELS = f"{_OOXML}/package/2006/relationships"
_DOC_RELS = f"{_OOXML}/officeDocument/2006/relationships"
_SHEET_ML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_CONTENT_TYPES = (
    f'{_HEAD}<Types xmlns="{_OOXML}/package/2006/content-types">'
    '<Default Extension="rels"'
    ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_SHEET_ML}.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml"'
    f' ContentType="{_SHEET_ML}.worksheet+xml"/></Types>'
)
_ROOT_RELS = (
    f'{_HEAD}<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1"'
    f' Type="{_DOC_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    f'{_HEAD}<workbook xmlns="{_OOXML}/spreadsheetml/2006/main" xmlns:r="{_DOC_RELS}">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    f'{_HEAD}<Relationships xmlns="{_PKG_RELS}"><Relationship Id="rId1"'
    f' Type="{_DOC_RELS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _sheet(rows: Iterable[Sequence[str]]) -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    ]
    for number, row in enumerate(rows, 1):
        cells = "".join(
            f'<c r="{_column(i)}{number}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>'
            for i, v in enumerate(row)
            if str(v) != ""
        )
        parts.append(f'<row r="{number}">{cells}</row>')
    parts.append("</sheetData></worksheet>")
    return "".join(parts)


def write_xlsx(rows: Iterable[Sequence[str]], *, sheet_name: str = "Sheet1") -> bytes:
    """The bytes of a workbook whose first sheet holds `rows` (the first one the header)."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK.format(name=escape(sheet_name)))
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", _sheet(rows))
    return buffer.getvalue()

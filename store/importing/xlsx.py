"""Reading the first worksheet of an XLSX file with the standard library (zipfile + XML).

XLSX is a documented format (ECMA-376 / ISO 29500): a ZIP of XML parts. An export needs only
the cell texts of one sheet, so no third-party reader is required: the workbook names the
first sheet, `sharedStrings.xml` holds the texts cells refer to by index, and each `<c>` of a
`<row>` is a shared string (t="s"), an inline string, a boolean or a number as written. Dates
arrive as Excel serial numbers; the cell parsers read those. The ZIP's declared sizes are
checked before anything is inflated (a small file must not unpack into gigabytes).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from io import BytesIO
from xml.etree import ElementTree

from store.importing.errors import FileRejected

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d+)$")


def _column_index(ref: str) -> int | None:
    match = _CELL_REF.match(ref)
    if match is None:
        return None
    index = 0
    for letter in match.group(1):
        index = index * 26 + ord(letter) - 64
    return index - 1


def _first_sheet(archive: zipfile.ZipFile) -> str:
    """The part name of the workbook's first sheet (xl/worksheets/sheet1.xml when the
    workbook does not say)."""
    try:
        workbook = ElementTree.fromstring(_part(archive, "xl/workbook.xml"))
        rels = ElementTree.fromstring(_part(archive, "xl/_rels/workbook.xml.rels"))
    except KeyError:
        return "xl/worksheets/sheet1.xml"
    sheet = workbook.find(f"{MAIN}sheets/{MAIN}sheet")
    rel_id = sheet.get(f"{REL}id") if sheet is not None else None
    for rel in rels.iter(f"{PKG_REL}Relationship"):
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return "xl/worksheets/sheet1.xml"


def _part(archive: zipfile.ZipFile, name: str) -> bytes:
    """A part's XML; a document type declaration is refused (a spreadsheet never has one, and
    entity definitions are how an XML bomb unpacks)."""
    data = archive.read(name)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise FileRejected("bad_xlsx", "Excel 文件含有不允许的内容（DOCTYPE），无法读取")
    return data


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    try:
        data = _part(archive, "xl/sharedStrings.xml")
    except KeyError:
        return []
    root = ElementTree.fromstring(data)
    return [_string_item(si) for si in root.iter(f"{MAIN}si")]


def _string_item(si: ElementTree.Element) -> str:
    """A plain <si><t>, or rich text runs <si><r><t>; phonetic hints (<rPh>) are not text."""
    direct = si.find(f"{MAIN}t")
    if direct is not None:
        return direct.text or ""
    return "".join(run.findtext(f"{MAIN}t") or "" for run in si.findall(f"{MAIN}r"))


def _cell_text(cell: ElementTree.Element, strings: list[str]) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{MAIN}t"))
    value = cell.findtext(f"{MAIN}v") or ""
    if kind == "s":
        index = int(value) if value.isdigit() else -1
        if not 0 <= index < len(strings):
            raise FileRejected("bad_xlsx", "Excel 文件损坏：单元格引用了不存在的文本")
        return strings[index]
    if kind == "b":
        return "是" if value == "1" else "否"
    return value


def _rows(data: bytes, strings: list[str]) -> Iterator[tuple[int, list[str]]]:
    for _event, row in ElementTree.iterparse(BytesIO(data)):
        if row.tag != f"{MAIN}row":
            continue
        cells: dict[int, str] = {}
        for position, cell in enumerate(row.iter(f"{MAIN}c")):
            column = _column_index(cell.get("r", "")) if cell.get("r") else position
            if column is None:
                raise FileRejected("bad_xlsx", "Excel 文件损坏：单元格位置无法识别")
            cells[column] = _cell_text(cell, strings)
        number = row.get("r", "")
        line = int(number) if number.isdigit() else 0
        width = max(cells) + 1 if cells else 0
        yield line, [cells.get(i, "") for i in range(width)]
        row.clear()


def read_xlsx(raw: bytes, *, max_unpacked: int) -> list[tuple[int, list[str]]]:
    """(row number as Excel shows it, cell texts) of the first sheet's non-empty rows."""
    try:
        archive = zipfile.ZipFile(BytesIO(raw))
    except zipfile.BadZipFile:
        raise FileRejected("bad_xlsx", "Excel 文件已损坏或不完整，无法读取") from None
    with archive:
        sheet = _first_sheet(archive)
        parts = {info.filename: info.file_size for info in archive.infolist()}
        if sheet not in parts:
            raise FileRejected("bad_xlsx", "Excel 文件中没有工作表")
        if parts[sheet] + parts.get("xl/sharedStrings.xml", 0) > max_unpacked:
            raise FileRejected("too_large", "Excel 文件解压后过大，请拆分后再导入")
        try:
            strings = _shared_strings(archive)
            rows = list(_rows(_part(archive, sheet), strings))
        except (ElementTree.ParseError, zipfile.BadZipFile, ValueError, EOFError):
            raise FileRejected("bad_xlsx", "Excel 文件已损坏，无法读取") from None
    numbered = []
    for index, (line, cells) in enumerate(rows, 1):
        if any(c.strip() for c in cells):
            numbered.append((line or index, cells))
    return numbered

"""From the bytes of an uploaded file to numbered rows of cell texts, whatever the billing
system or Excel wrote: XLSX, or CSV in UTF-8 (with or without a BOM), UTF-16 (Excel's "Unicode
text") or GBK/GB18030 (what Chinese Excel writes for "CSV"), separated by commas, tabs or
semicolons. Anything else (an old .xls, a picture, random bytes) is refused with a reason.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass

from store.importing.errors import FileRejected
from store.importing.settings import ImportLimits
from store.importing.xlsx import read_xlsx

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""An old binary Excel (.xls) or another OLE document."""
UNPACK_FACTOR = 16
"""An XLSX may unpack to at most this many times the upload limit."""


@dataclass(frozen=True)
class RawRows:
    """The file's non-empty rows: (line or row number as the spreadsheet shows it, cells)."""

    rows: list[tuple[int, list[str]]]
    encoding: str
    """"xlsx", "utf-8", "utf-8-sig", "utf-16" or "gb18030": for the report."""


def _decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(codecs.BOM_UTF8):
        return _strict(raw[len(codecs.BOM_UTF8) :], "utf-8"), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(raw, "utf-16"), "utf-16"
    if b"\x00" in raw[:8192]:
        raise FileRejected("not_text", "文件不是 CSV 文本或 Excel（.xlsx）表格，无法读取")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return _strict(raw, "gb18030"), "gb18030"


def _strict(raw: bytes, encoding: str) -> str:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise FileRejected(
            "encoding", "无法识别文件编码：请在 Excel 中另存为“CSV UTF-8”或 .xlsx 格式"
        ) from None
    if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text[:8192]):
        raise FileRejected("not_text", "文件含有控制字符，不像 CSV 文本，无法读取")
    return text


def _delimiter(text: str) -> str:
    """The separator of the first line: comma, tab or semicolon, whichever it has most of."""
    first = text.split("\n", 1)[0]
    counts = {sep: first.count(sep) for sep in (",", "\t", ";", "，")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _csv_rows(text: str, limits: ImportLimits) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=False)
    rows = []
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((reader.line_num, cells))
            if len(rows) > limits.max_rows + limits.max_title_rows + 1:
                break
    except csv.Error as exc:
        raise FileRejected("bad_csv", f"CSV 格式错误（第 {reader.line_num} 行）：{exc}") from None
    return rows


def read_rows(raw: bytes, limits: ImportLimits) -> RawRows:
    """The rows of an XLSX or CSV file; FileRejected when it is neither, or empty."""
    if not raw.strip():
        raise FileRejected("empty", "文件是空的")
    if raw.startswith(OLE_MAGIC):
        raise FileRejected("xls", "这是旧版 Excel（.xls）文件：请在 Excel 中另存为 .xlsx 或 CSV")
    if raw.startswith(ZIP_MAGIC):
        max_unpacked = limits.max_upload_bytes * UNPACK_FACTOR
        rows, encoding = read_xlsx(raw, max_unpacked=max_unpacked), "xlsx"
    else:
        # the csv module refuses a whole file over a long cell: raise its (process-wide) limit
        # so that only the row with the cell is rejected, by max_cell_chars
        csv.field_size_limit(max(csv.field_size_limit(), len(raw) + 1))
        text, encoding = _decode(raw)
        rows = _csv_rows(text, limits)
    if not rows:
        raise FileRejected("empty", "文件是空的")
    return RawRows(rows, encoding)

"""From raw rows to checked values: find the header row, map its titles to fields, parse each
row's cells and cross-check them, reject duplicate keys inside the file. What is left needs
only the database's word (does the area exist, is the bill's account known)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from store.importing.columns import COLUMNS, Column, title_index, title_key
from store.importing.errors import CellError, FileRejected
from store.importing.fields import PARSERS, Context, bill_checks
from store.importing.report import ImportReport
from store.importing.settings import ImportLimits
from store.models import ImportKind


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, Any]
    """Only the fields the file has and the row filled in (a blank optional cell is absent)."""


@dataclass(frozen=True)
class Header:
    line: int
    positions: dict[str, int]
    """field → its column's index"""
    titles: dict[str, str]
    ignored: list[str]
    columns: dict[str, Column]
    """field → its column of this kind"""


KEYS: dict[str, tuple[str, ...]] = {
    ImportKind.AREAS: ("code",),
    ImportKind.ACCOUNTS: ("account_no",),
    ImportKind.METERS: ("account_no",),
    ImportKind.BILLS: ("account_no", "period"),
}
"""What identifies a row's record: an import updates the record with the same key."""
UNIQUE_TOO: dict[str, tuple[str, ...]] = {
    ImportKind.ACCOUNTS: ("meter_no",),
    ImportKind.METERS: ("meter_no",),
}
"""Other fields no two rows of one file may share (a meter belongs to one account)."""


def _map_header(kind: str, line: int, cells: list[str]) -> Header:
    index = title_index(kind)
    positions: dict[str, int] = {}
    titles: dict[str, str] = {}
    ignored = []
    for position, title in enumerate(cells):
        column = index.get(title_key(title))
        if column is None:
            if title.strip():
                ignored.append(title.strip())
            continue
        if column.field in positions:
            raise FileRejected(
                "duplicate_column",
                f"“{titles[column.field]}”和“{title.strip()}”两列都表示{column.label}，请只保留一列",
            )
        positions[column.field] = position
        titles[column.field] = title.strip()
    return Header(line, positions, titles, ignored, {c.field: c for c in COLUMNS[kind]})


def _missing(kind: str, header: Header) -> list[Column]:
    return [c for c in COLUMNS[kind] if c.required and c.field not in header.positions]


def find_header(kind: str, rows: list[tuple[int, list[str]]], limits: ImportLimits) -> Header:
    """The first row (a title above it allowed) that has every required column."""
    best: Header | None = None
    for line, cells in rows[: limits.max_title_rows + 1]:
        if max((len(c) for c in cells), default=0) > limits.max_cell_chars:
            continue
        header = _map_header(kind, line, cells)
        if not _missing(kind, header):
            return header
        if best is None or len(header.positions) > len(best.positions):
            best = header
    missing = "、".join(c.label for c in _missing(kind, best)) if best else ""
    raise FileRejected(
        "missing_columns",
        f"找不到表头或缺少必填列：{missing}（可用的列名见导入说明 docs/import.md）",
    )


def _cells(header: Header, cells: list[str], ctx: Context) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    reasons = []
    for name, position in header.positions.items():
        raw = cells[position] if position < len(cells) else ""
        column = header.columns[name]
        if not raw.strip():
            if column.required:
                reasons.append(f"缺少{column.label}")
            continue
        if len(raw) > ctx.max_cell_chars:
            reasons.append(f"{column.label}内容过长（{len(raw)} 字，最多 {ctx.max_cell_chars} 字）")
            continue
        try:
            values[name] = PARSERS[name](raw, ctx)
        except CellError as exc:
            reasons.append(f"{column.label}：{exc.reason}")
    return values, reasons


def parse_rows(
    kind: str,
    rows: list[tuple[int, list[str]]],
    header: Header,
    ctx: Context,
    report: ImportReport,
) -> list[Row]:
    """Every data row parsed; the bad ones (and duplicates of an earlier key) into `report`."""
    checks: Callable[[dict[str, Any]], list[str]] = (
        bill_checks if kind == ImportKind.BILLS else lambda _values: []
    )
    good: list[Row] = []
    seen: dict[tuple[str, Any], int] = {}
    for line, cells in rows:
        if line <= header.line:
            continue
        report.rows += 1
        values, reasons = _cells(header, cells, ctx)
        if not reasons:
            reasons = checks(values)
        reasons += _duplicates(kind, line, values, seen)
        key = " ".join(str(values[k]) for k in KEYS[kind] if k in values)
        if reasons:
            report.reject(line, reasons, key)
        else:
            good.append(Row(line, values))
    return good


def _duplicates(
    kind: str, line: int, values: dict[str, Any], seen: dict[tuple[str, Any], int]
) -> list[str]:
    """A key (or a unique field) that an earlier row of the file has: the later row loses."""
    reasons = []
    key = tuple(values.get(k) for k in KEYS[kind])
    probes: list[tuple[str, Any]] = []
    if None not in key:
        probes.append(("key", key))
    probes += [(name, values[name]) for name in UNIQUE_TOO.get(kind, ()) if name in values]
    for probe in probes:
        if probe in seen:
            what = "/".join(map(str, key)) if probe[0] == "key" else f"表号 {probe[1]}"
            reasons.append(f"与第 {seen[probe]} 行重复（{what}）")
        else:
            seen[probe] = line
    return reasons

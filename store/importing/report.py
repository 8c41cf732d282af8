"""What an import did or would do: counts, every rejected row with its line and reasons, and
the file-level refusal when the file could not be read at all. The same report answers the
CLI (as text) and the console (as JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    APPLIED = "applied"
    """Written (every row good, or partial acceptance asked for)."""
    DRY_RUN = "dry_run"
    """Checked only: the counts say what an import would do."""
    REFUSED = "refused"
    """Nothing written: the file could not be read, or rows were rejected."""


@dataclass(frozen=True)
class Rejection:
    line: int
    """The row number as the spreadsheet shows it (CSV: the line; 0: the file as a whole)."""
    reasons: tuple[str, ...]
    key: str = ""
    """The row's account number, area code, ... when it could be read: to find it again."""

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "key": self.key, "reasons": list(self.reasons)}


@dataclass
class ImportReport:
    kind: str
    file_name: str
    dry_run: bool
    outcome: Outcome = Outcome.REFUSED
    encoding: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    file_error: str = ""
    file_error_code: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    """field → the file's title for it."""
    ignored_columns: list[str] = field(default_factory=list)
    run_id: int | None = None

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    @property
    def ok(self) -> bool:
        """Nothing rejected and the file readable: what a clean exit status means."""
        return not self.file_error and not self.rejections

    def reject(self, line: int, reasons: list[str] | tuple[str, ...], key: str = "") -> None:
        self.rejections.append(Rejection(line, tuple(reasons), key))

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file_name": self.file_name,
            "dry_run": self.dry_run,
            "outcome": self.outcome.value,
            "encoding": self.encoding,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "rejections": [r.as_json() for r in sorted(self.rejections, key=lambda r: r.line)],
            "file_error": self.file_error or None,
            "file_error_code": self.file_error_code or None,
            "columns": dict(self.columns),
            "ignored_columns": list(self.ignored_columns),
            "run_id": self.run_id,
        }

    def text(self) -> str:
        """The CLI's report, in Chinese like the console's."""
        head = {
            Outcome.APPLIED: "已导入",
            Outcome.DRY_RUN: "试运行（未写入任何数据）",
            Outcome.REFUSED: "未导入（没有写入任何数据）",
        }[self.outcome]
        lines = [f"{self.file_name}（{self.kind}）：{head}"]
        if self.file_error:
            lines.append(f"文件无法导入：{self.file_error}")
            return "\n".join(lines)
        lines.append(
            f"共 {self.rows} 行：新增 {self.created}，更新 {self.updated}，"
            f"未变 {self.unchanged}，拒绝 {self.rejected}"
        )
        if self.ignored_columns:
            lines.append("未识别的列（已忽略）：" + "、".join(self.ignored_columns))
        for rejection in sorted(self.rejections, key=lambda r: r.line):
            key = f"（{rejection.key}）" if rejection.key else ""
            lines.append(f"  第 {rejection.line} 行{key}：" + "；".join(rejection.reasons))
        return "\n".join(lines)

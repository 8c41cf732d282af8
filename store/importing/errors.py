"""What goes wrong in an import: a whole file that cannot be read, or one row that cannot be
taken. Both carry a Chinese reason for the station's staff (they read the report) and a short
code for programs and tests."""

from __future__ import annotations


class FileRejected(Exception):
    """The file as a whole cannot be imported (not a spreadsheet, no header, too long...)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class CellError(ValueError):
    """One cell's value is not what its column needs; `reason` is shown to staff."""

    def __init__(self, reason: str, code: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code

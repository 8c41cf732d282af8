"""Importing the station's own data from its billing system's exports: service areas,
customer accounts, meters and monthly bills, from CSV (UTF-8, UTF-16 or GBK/GB18030) or XLSX.

The path of a file: `table` (bytes → numbered rows; `xlsx` reads Excel with the standard
library) → `rows` (the header row mapped through `columns`, the documented header set; each
cell read by `fields`/`cells`; duplicates inside the file) → `plan_*` (references and the
stored records: created, updated or unchanged) → `changes` (bulk writes) → `run` (the rule:
a dry run or a file with rejected rows writes nothing). The CLI (`python -m store import`,
store/import_cli.py) and the console's upload (bot/console/import_api.py) share `run_import`.
Staff guide and header reference: docs/import.md.
"""

from __future__ import annotations

from store.importing.errors import CellError, FileRejected
from store.importing.report import ImportReport, Outcome, Rejection
from store.importing.run import ImportRequest, run_import
from store.importing.settings import ImportLimits, load_import_limits
from store.models import IMPORT_KINDS, ImportKind

__all__ = [
    "IMPORT_KINDS",
    "CellError",
    "FileRejected",
    "ImportKind",
    "ImportLimits",
    "ImportReport",
    "ImportRequest",
    "Outcome",
    "Rejection",
    "load_import_limits",
    "run_import",
]

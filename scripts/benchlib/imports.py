"""The pure half of `make bench`'s import part (scripts/benchimport.py drives it): the timings
of importing a generated 50,000-account export (and a bill for each account) on SQLite and on
PostgreSQL, the verdict against the issue's target, its section of BENCHMARKS.md and the
carry-over of an earlier run's. No I/O: tests/unit/test_bench_import.py.

The target (issue 17): a 50,000-account file imports in under 2 minutes on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from scripts.benchlib.figures import Verdict
from scripts.benchlib.markdown import carried_part, comment_json, not_measured_part
from scripts.benchlib.report import Part, RunInfo, markdown_table, text_table

MAX_IMPORT_SECONDS = 120.0
"""Target: the 50,000-account file's first import, on each backend."""
TARGET_STEP = "accounts, first import"
BACKENDS = ("SQLite", "PostgreSQL")
NAME = "the data import"
TITLE = "## Importing the billing system's exports (50,000 accounts)"
BEGIN, END = "<!-- import: begin -->", "<!-- import: end -->"
COMMENT = re.compile(r"<!-- import target: (\{.*?\}) -->")
COLUMNS = ("backend", "step", "rows", "created", "updated", "unchanged", "rejected", "seconds")


@dataclass(frozen=True)
class Step:
    backend: str
    name: str
    rows: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    seconds: float


@dataclass(frozen=True)
class ImportBench:
    run: RunInfo
    conditions: str
    accounts: int
    file_sizes: tuple[tuple[str, int], ...]
    """(file, bytes) of the generated files."""
    steps: tuple[Step, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    """(backend, why) of a backend this run could not measure."""


def target_text(accounts: int = 50_000) -> str:
    return (
        f"a {accounts:,}-account file imports in under {MAX_IMPORT_SECONDS / 60:g} minutes"
        f" on {' and on '.join(BACKENDS)}"
    )


def import_verdict(bench: ImportBench) -> Verdict:
    """Met when every backend's first import of the accounts took less than the target and
    imported every row."""
    found = {s.backend: s for s in bench.steps if s.name == TARGET_STEP}
    parts, met = [], True
    for backend in BACKENDS:
        step = found.get(backend)
        if step is None:
            parts.append(f"{backend} not measured")
            met = False
            continue
        parts.append(f"{backend} {step.seconds:.1f} s")
        complete = step.created == bench.accounts and step.rejected == 0
        met = met and complete and step.seconds < MAX_IMPORT_SECONDS
    return Verdict(target_text(bench.accounts), ", ".join(parts), met)


def rows(bench: ImportBench) -> list[list[str]]:
    return [
        [s.backend, s.name, f"{s.rows:,}", f"{s.created:,}", f"{s.updated:,}",
         f"{s.unchanged:,}", str(s.rejected), f"{s.seconds:.1f}"]
        for s in bench.steps
    ]  # fmt: skip


def setup_text(bench: ImportBench) -> str:
    sizes = ", ".join(f"`{name}` {size / 1_000_000:.1f} MB" for name, size in bench.file_sizes)
    return (
        f"The bench writes a billing-system export of {bench.accounts:,} accounts spread over"
        " the demo station's 11 areas, and one month's bill of each account (readings,"
        " multiplier, kWh, the three tier fields, amounts; year-to-date usage left for the"
        f" import to derive), as CSV (UTF-8 with a BOM, as Excel writes it) and XLSX ({sizes})."
        " Each backend gets a freshly migrated database with the areas of conf/areas.yml; each"
        " step is `store.importing.run_import` in one transaction, commit included, timed from"
        " the file's bytes to the commit: the accounts, the same file again (nothing changes),"
        " the same accounts as XLSX (nothing changes), the accounts with every mobile number"
        " changed (every account updated), a dry run of the bills, the bills, and the bills"
        " again. PostgreSQL is the server the tests use, on the same machine."
    )


def block(bench: ImportBench) -> str:
    """The section between its markers: what a later run carries over as it is."""
    verdict = import_verdict(bench)
    lines = [
        bench.run.table("import measurement", bench.conditions),
        "",
        setup_text(bench),
        "",
        markdown_table(COLUMNS, rows(bench)),
        "",
    ]
    for backend, why in bench.skipped:
        lines += [f"{backend} was not measured: {why}.", ""]
    target = {"date": bench.run.date, "target": [verdict.target, verdict.measured, verdict.met]}
    lines.append(f"<!-- import target: {comment_json(target)} -->")
    return "\n".join(lines) + "\n"


def part(bench: ImportBench) -> Part:
    return Part(NAME, (TITLE, "", BEGIN, block(bench) + END), import_verdict(bench), measured=True)


def not_measured() -> Part:
    return not_measured_part(name=NAME, title=TITLE, only="import", target=target_text())


def previous_import(markdown: str) -> Part | None:
    """The section an earlier run wrote, with its verdict, carried over as it is."""
    return carried_part(markdown, name=NAME, title=TITLE, begin=BEGIN, end=END, comment=COMMENT)


def import_part(bench: ImportBench | None, existing: str) -> Part:
    """Measured now, carried over, or not measured yet."""
    if bench is not None:
        return part(bench)
    return previous_import(existing) or not_measured()


def summary(bench: ImportBench) -> str:
    verdict = import_verdict(bench)
    state = "met" if verdict.met else "NOT MET"
    table: Sequence[Sequence[str]] = rows(bench)
    return "\n".join(
        [text_table(COLUMNS, table), "", f"{state:8} {verdict.target}: {verdict.measured}"]
    )

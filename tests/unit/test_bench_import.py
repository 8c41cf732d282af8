"""The import part of `make bench` (scripts/benchlib/imports.py, the pure half of
scripts/benchimport.py): the verdict against the issue's 2-minute target on both databases,
its BENCHMARKS.md section and what a later run carries over. No databases, no files."""

from __future__ import annotations

from dataclasses import replace

from scripts.benchlib import Machine, Report, RunInfo, render_markdown
from scripts.benchlib.imports import (
    TARGET_STEP,
    ImportBench,
    Step,
    import_part,
    import_verdict,
    previous_import,
)

RUN = RunInfo("2026-12-07 03:44 UTC", "python -m scripts.bench --only import", "abc1234")
MACHINE = Machine("AMD EPYC", 2, 7.6, "Debian 12", "3.11.7", "3.10.13", "3.6.21")
BENCH = ImportBench(
    run=RUN,
    conditions="1-minute load average 0.50",
    accounts=50_000,
    file_sizes=(("accounts.csv", 4_500_000),),
    steps=(
        Step("SQLite", TARGET_STEP, 50_000, 50_000, 0, 0, 0, 4.9),
        Step("SQLite", "accounts, same file again", 50_000, 0, 0, 50_000, 0, 2.6),
        Step("PostgreSQL", TARGET_STEP, 50_000, 50_000, 0, 0, 0, 13.9),
    ),
)


def test_the_verdict_needs_both_databases_under_two_minutes_and_every_row() -> None:
    verdict = import_verdict(BENCH)
    assert verdict.met is True
    assert verdict.measured == "SQLite 4.9 s, PostgreSQL 13.9 s"
    slow = replace(BENCH, steps=(*BENCH.steps[:2], replace(BENCH.steps[2], seconds=121.0)))
    assert import_verdict(slow).met is False
    partial = replace(BENCH, steps=(replace(BENCH.steps[0], created=49_999, rejected=1),))
    assert import_verdict(partial).met is False
    no_postgres = replace(BENCH, steps=BENCH.steps[:2], skipped=(("PostgreSQL", "no URL"),))
    verdict = import_verdict(no_postgres)
    assert (verdict.met, verdict.measured) == (False, "SQLite 4.9 s, PostgreSQL not measured")


def test_the_section_and_its_carry_over() -> None:
    text = render_markdown(Report(RUN, MACHINE, None, None, (import_part(BENCH, ""),)))
    assert "## Importing the billing system's exports (50,000 accounts)" in text
    assert "| SQLite | accounts, first import | 50,000 | 50,000 | 0 | 0 | 0 | 4.9 |" in text
    assert (
        "| a 50,000-account file imports in under 2 minutes on SQLite and on PostgreSQL"
        " | SQLite 4.9 s, PostgreSQL 13.9 s | met |"
    ) in text
    carried = previous_import(text)
    assert carried is not None
    assert carried.carried
    assert carried.verdict.met is True
    assert "recorded 2026-12-07 03:44 UTC, not measured again" in carried.verdict.measured
    later = render_markdown(Report(RUN, MACHINE, None, None, (carried,)))
    assert "| PostgreSQL | accounts, first import | 50,000 | 50,000 | 0 | 0 | 0 | 13.9 |" in later
    assert "Not measured by this run: recorded 2026-12-07 03:44 UTC" in later


def test_nothing_to_carry_over_says_not_measured() -> None:
    assert previous_import("# Benchmarks\n") is None
    part = import_part(None, "# Benchmarks\n")
    assert part.verdict.met is None
    assert "--only import" in part.lines[-1]

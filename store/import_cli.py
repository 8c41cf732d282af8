"""`python -m store import accounts|meters|bills|areas FILE [--dry-run] [--accept-partial]`.

Exit status: 0 when the file was imported (or, with --dry-run, would import) with no rejected
row; 1 when rows were rejected or the file cannot be read (then nothing was written), or the
database refused the writes (everything rolled back). `--accept-partial` imports the good
rows of a file with rejected ones, still in one transaction, and exits 0 after reporting the
rejected rows: an explicit choice, never the default.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from store.config import Settings
from store.db import make_engine, make_session_factory, unit_of_work
from store.importing import (
    IMPORT_KINDS,
    ImportRequest,
    Outcome,
    load_import_limits,
    run_import,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "import",
        help="import service areas, accounts, meters or bills from a CSV or XLSX export"
        " (docs/import.md)",
    )
    cmd.add_argument("kind", choices=IMPORT_KINDS, help="what the file holds")
    cmd.add_argument("file", type=Path, help="the .csv or .xlsx file")
    cmd.add_argument(
        "--dry-run", action="store_true", help="check every row and report; write nothing"
    )
    cmd.add_argument(
        "--accept-partial",
        action="store_true",
        help="import the good rows even when some are rejected (default: import nothing then)",
    )
    cmd.add_argument("--actor", help="who imports, for the log (default: cli:<login name>)")


def cli_actor(given: str | None) -> str:
    """Who runs a command, for the records it writes: `given`, else cli:<login name>."""
    if given:
        return given
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def run(url: str, settings: Settings, args: argparse.Namespace) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"无法读取 {args.file}：{exc.strerror}", file=sys.stderr)
        return 1
    request = ImportRequest(
        kind=args.kind,
        file_name=args.file.name,
        data=data,
        actor=cli_actor(args.actor),
        dry_run=args.dry_run,
        accept_partial=args.accept_partial,
    )
    limits = load_import_limits(settings.conf_dir)
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            report = run_import(session, request, settings, limits, now=datetime.now(UTC))
    except SQLAlchemyError as exc:
        print(f"数据库拒绝了写入，已全部回滚，没有导入任何数据：{exc.__class__.__name__}",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        engine.dispose()
    print(report.text())
    if report.outcome == Outcome.APPLIED:
        return 0
    return 0 if report.ok else 1

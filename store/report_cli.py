"""`python -m store report`: the periodic evaluation reports from the command line
(docs/quality-reports.md).

- `report --period 2026-11` (also 2026-Q4, 2026, 2026-11-01..2026-11-30): make the report of the
  period now (its kind follows from the period), store it as made by `--by`, and with `--out
  DIR` also write its HTML, PDF, CSV and XLSX there; a line `报告编号：17` gives the stored
  report's id. The console's "generate now" runs exactly this in a child process
  (bot/console/quality_reports_api.py);
- `report --due`: bring the service-quality facts up to date (looking again at the latest
  rows, `quality-refresh --rescan`), then make the scheduled reports missing now, one line
  `已生成：monthly 2026-11` each. The gateway's scheduled job runs exactly this in a child
  process (bot/report_schedule.py); a station that runs no gateway runs it from cron;
- `report --list`: the stored reports.

Exit status 0 on success, 1 when the period is not one, 3 when the configuration is not (the
reason on stderr).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from store import quality, quality_reports
from store.config import ConfigError, Settings
from store.db import make_engine, make_session_factory, unit_of_work
from store.import_cli import cli_actor
from store.quality import Period
from store.quality_reports import Generated, ReportConfig

MADE = "已生成："
"""What each line of `report --due` naming a report it made starts with (then "monthly 2026-11")."""
STORED = "报告编号："
"""What the line of `report --period` giving the stored report's id starts with (then "17")."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "report", help="make, store and list the periodic evaluation reports (评价报告)"
    )
    what = cmd.add_mutually_exclusive_group(required=True)
    what.add_argument("--period", help="2026-11, 2026-Q4, 2026 or 2026-11-01..2026-11-30")
    what.add_argument("--due", action="store_true", help="the scheduled reports missing now")
    what.add_argument("--list", action="store_true", help="the stored reports")
    cmd.add_argument("--out", type=Path, help="also write the report's files into this folder")
    cmd.add_argument("--by", help="who asks, as the report records it (default: cli:<login>)")
    cmd.add_argument("--now", help="pretend it is this time (ISO 8601; tests and demos)")


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _write(made: Generated, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"quality-report-{made.report.period}"
    files = made.files
    written = []
    for suffix, data in (
        ("html", files.html.encode("utf-8")),
        ("pdf", files.pdf),
        ("csv", files.csv),
        ("xlsx", files.xlsx),
    ):
        path = folder / f"{stem}.{suffix}"
        path.write_bytes(data)
        written.append(path)
    return written


def _one(url: str, settings: Settings, config: ReportConfig, args: argparse.Namespace) -> int:
    now = _now(args.now)
    try:
        period = Period.parse(args.period)
        quality_reports.check_period(period, now.astimezone(settings.tz).date(), config)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    engine = make_engine(url)
    try:
        made = quality_reports.generate(
            make_session_factory(engine),
            settings,
            config,
            period,
            generated_by=cli_actor(args.by),
            now=now,
        )
    finally:
        engine.dispose()
    met, judged = made.content.met()
    print(f"已生成并保存：{made.report.title}（编号 {made.report.id}）")
    print(f"达标 {met}/{judged} 项，调整建议 {len(made.content.proposals)} 条")
    print(f"{STORED}{made.report.id}")
    for path in _write(made, args.out) if args.out else ():
        print(f"  {path}")
    return 0


def _due(url: str, settings: Settings, config: ReportConfig, now: datetime) -> int:
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            quality.refresh(session, now=now, rescan=True)
        made = quality_reports.generate_due(factory, settings, config, now)
    finally:
        engine.dispose()
    print("\n".join(f"{MADE}{label}" for label in made) or "没有缺少的定期报告。")
    return 0


def _list(url: str, settings: Settings) -> int:
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            reports = quality_reports.listing(session, settings.station.name)
    finally:
        engine.dispose()
    for r in reports:
        made = f"{r.generated_at.astimezone(settings.tz):%Y-%m-%d %H:%M}"
        print(f"{r.id:>5}  {r.kind:<9}  {r.period:<22}  {made}  {r.generated_by}  {r.title}")
    if not reports:
        print("还没有评价报告：python -m store report --period 2026-11")
    return 0


def run(url: str, settings: Settings, args: argparse.Namespace) -> int:
    try:
        config = quality_reports.read_report_config(settings.conf_dir)
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 3
    if args.list:
        return _list(url, settings)
    if args.due:
        return _due(url, settings, config, _now(args.now))
    return _one(url, settings, config, args)

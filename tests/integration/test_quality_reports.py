"""The evaluation reports on the real database (both backends), crafted data
(tests/integration/report_data.py): every output of a report (HTML, CSV, XLSX, the PDF's text)
says what `store.quality.snapshot()` says, one computation; what is stored is what was made;
customers' phone numbers never reach a report; the scheduled reports are made once, whatever
restarts or a second gateway do; the gateway's job; the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.report_child import ReportJobFailed, child_env
from bot.report_schedule import ReportSchedule
from store import quality, quality_reports
from store.cli import main
from store.config import PROJECT_ROOT, Settings, load_settings
from store.db import unit_of_work
from store.models import QualityReport, QualityTicketFacts
from store.quality import Period
from store.quality_reports import ReportKind, fmt, storage
from store.quality_reports.config import ReportConfig, read_report_config
from store.services import quality_reports as report_service
from tests.fakes.console import make_staff
from tests.fakes.gateway import eventually, settings_for
from tests.fakes.rasa import FakeRasa
from tests.integration import report_data
from tests.integration.report_data import INBOX_TEXT, MEASURE, NOW, OVERDUE_MEASURE, PHONE

pytestmark = pytest.mark.slow
NOVEMBER = Period.parse("2026-11")


@pytest.fixture
def config(settings: Settings) -> ReportConfig:
    return read_report_config(settings.conf_dir)


@pytest.fixture
def crafted(session_factory: sessionmaker[Session], settings: Settings) -> sessionmaker[Session]:
    make_staff(session_factory, {"chief": ("manager", 5)})
    with unit_of_work(session_factory) as session:
        report_data.craft(session, settings, owner="chief")
    return session_factory


def html_cells(document: str) -> dict[str, list[str]]:
    """The figures' rows of a report's HTML: key → the text of each cell."""
    rows = re.findall(r'<tr data-key="([^"]+)" class="(?:meets|misses|plain)">(.*?)</tr>', document)
    cell = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>")
    return {
        key: [unescape(re.sub(r"<[^>]+>", "", text)) for text in cell.findall(body)]
        for key, body in rows
    }


def csv_values(data: bytes) -> dict[str, dict[str, str]]:
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return {line[0]: dict(zip(table[0], line, strict=True)) for line in table[1:]}


def same_number(cell: Any, value: float | None) -> bool:
    """An XLSX cell holds the number (to Excel's 15 significant digits), or is empty."""
    return cell is None if value is None else cell == pytest.approx(value, rel=1e-14)


def pdf_text(data: bytes) -> str:
    return "".join(
        "".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages
    )


def test_a_chinese_font_is_installed_for_the_pdf() -> None:
    """Without one the PDF prints boxes (WeasyPrint falls back to a Latin font) and the text
    tests below fail less clearly."""
    found = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    assert found.strip(), "no Chinese font: apt-get install fonts-noto-cjk (scripts/setup.sh)"


def test_every_output_says_what_the_snapshot_says(
    crafted: sessionmaker[Session], settings: Settings, config: ReportConfig
) -> None:
    made = quality_reports.generate(
        crafted, settings, config, NOVEMBER, generated_by="chief", now=NOW
    )
    with unit_of_work(crafted) as session:  # the same computation, asked directly
        snap = quality.snapshot(session, NOVEMBER, now=NOW)
        before = quality.snapshot(session, NOVEMBER.previous(), now=NOW)
    measured = [f for f in snap.figures if f.value is not None]
    assert len(measured) >= 10  # the crafted data gives most figures a value
    assert any(f.meets is False for f in snap.figures)  # and misses some targets

    cells = html_cells(made.files.html)
    rows = csv_values(made.files.csv)
    book = load_workbook(io.BytesIO(made.files.xlsx))
    sheet = book["指标"]
    header = [c.value for c in sheet[1]]
    xlsx = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    text = pdf_text(made.files.pdf)
    assert set(cells) == set(rows) == set(xlsx) == {f.key for f in snap.figures}
    for f in snap.figures:
        shown, target = fmt.value(f.value, f.unit), fmt.value(f.target, f.unit)
        assert cells[f.key][1:3] == [shown, target], f.key
        earlier = before.figure(f.key).value
        assert cells[f.key][4] == fmt.value(earlier, f.unit), f.key
        assert rows[f.key]["本期"] == ("" if f.value is None else repr(f.value)), f.key
        assert rows[f.key]["本期（报告所示）"] == shown
        assert same_number(xlsx[f.key][header.index("本期")], f.value), f.key
        assert same_number(xlsx[f.key][header.index("目标")], f.target), f.key
        if f.value is not None:
            assert "".join(f"{quality.label(f.key)}{shown}".split()) in text, f.key
    assert made.content.title in text
    for line in (MEASURE, OVERDUE_MEASURE, "改进措施执行情况", "调整建议", "已逾期"):
        assert line in text, line


def test_the_report_is_stored_and_no_phone_number_reaches_it(
    crafted: sessionmaker[Session], settings: Settings, config: ReportConfig
) -> None:
    made = quality_reports.generate(
        crafted, settings, config, NOVEMBER, generated_by="chief", now=NOW
    )
    with unit_of_work(crafted) as session:
        listed = quality_reports.listing(session, settings.station.name)
        assert listed == [made.report]
        assert (made.report.kind, made.report.period) == ("monthly", "2026-11")
        assert made.report.generated_by == "chief"
        for name, data in (
            ("html", made.files.html.encode()),
            ("pdf", made.files.pdf),
            ("csv", made.files.csv),
            ("xlsx", made.files.xlsx),
        ):
            assert quality_reports.file_of(session, made.report.id, name) == data
    assert "139****6666" in made.files.html  # the inbox item, masked
    workbook = load_workbook(io.BytesIO(made.files.xlsx))
    cells = " ".join(
        str(c) for ws in workbook for row in ws.iter_rows(values_only=True) for c in row
    )
    for output in (made.files.html, pdf_text(made.files.pdf), cells):
        assert PHONE not in output
        assert INBOX_TEXT.split()[0] in output  # the words themselves are there


def _count(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return session.scalar(select(func.count()).select_from(QualityReport)) or 0


def test_scheduled_reports_are_made_once(
    crafted: sessionmaker[Session], settings: Settings, config: ReportConfig
) -> None:
    made = quality_reports.generate_due(crafted, settings, config, NOW)
    assert made == ["monthly 2026-11", "quarterly 2026-Q3", "annual 2025"]
    assert quality_reports.generate_due(crafted, settings, config, NOW) == []  # a restart
    assert _count(crafted) == 3
    # on demand, the same period again: kept beside the scheduled one
    quality_reports.generate(crafted, settings, config, NOVEMBER, generated_by="chief", now=NOW)
    with unit_of_work(crafted) as session:
        scheduled = report_service.scheduled_report(session, "monthly", "2026-11")
        assert scheduled is not None
        assert scheduled.generated_by == "schedule"
    assert _count(crafted) == 4


def test_a_second_gateway_racing_for_the_same_period_stores_nothing_twice(
    crafted: sessionmaker[Session],
    settings: Settings,
    config: ReportConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another replica stored the report between this one's check and its insert: its first
    look finds nothing, and so does the service's own check, so the insert meets the unique
    index; the pass rolls that report back and goes on."""
    config = replace(config, kinds=(ReportKind.MONTHLY, ReportKind.ANNUAL))
    assert quality_reports.generate_due(crafted, settings, config, NOW)
    looked: set[tuple[str, str]] = set()
    real = report_service.scheduled_report

    def stale_first_look(session: Session, kind: Any, label: str) -> bool:
        if (kind, label) not in looked:
            looked.add((kind, label))
            return False
        return real(session, kind, label) is not None

    monkeypatch.setattr(storage, "has_scheduled", stale_first_look)
    monkeypatch.setattr(report_service, "scheduled_report", lambda *args: None)
    assert quality_reports.generate_due(crafted, settings, config, NOW) == []
    assert _count(crafted) == 2
    assert looked == {("monthly", "2026-11"), ("annual", "2025")}


@pytest.fixture
def monthly_conf(tmp_path: Path) -> Path:
    """A copy of conf/ whose schedule makes the monthly reports only (the job's child reads it:
    CONF_DIR)."""
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf", conf)
    path = conf / "quality_reports.yml"
    text = path.read_text("utf-8").replace("[monthly, quarterly, annual]", "[monthly]")
    path.write_text(text, "utf-8")
    return conf


def job_in(conf: Path, db_url: str, **changes: Any) -> ReportSchedule:
    config = replace(read_report_config(conf), **changes)
    return ReportSchedule(db_url, load_settings(conf), config, clock=lambda: NOW)


async def test_the_gateways_job_makes_the_due_reports_in_a_child_process(
    crafted: sessionmaker[Session], db_url: str, monthly_conf: Path
) -> None:
    """A pass is `python -m store report --due` in a child: it builds the facts the dashboard
    reads (so the manager's first page load does not) and stores the report of the month just
    closed, once, whatever restarts or a second gateway do."""
    with unit_of_work(crafted) as session:
        assert session.scalar(select(func.count()).select_from(QualityTicketFacts)) == 0
    job = job_in(monthly_conf, db_url)
    assert await job.run_once() == ["monthly 2026-11"]
    with unit_of_work(crafted) as session:
        assert session.scalar(select(func.count()).select_from(QualityTicketFacts)) > 0
        (listed,) = report_service.list_reports(session)
        report = report_service.get_report(session, listed.id)
        assert report is not None
        assert (report.kind, report.period_label, report.generated_by) == (
            "monthly", "2026-11", "schedule",
        )  # fmt: skip
        assert (report.pdf or b"").startswith(b"%PDF-")
        assert "2026年11月" in report.html
    assert await job.run_once() == []  # a restart
    later = ReportSchedule(
        db_url, load_settings(monthly_conf), read_report_config(monthly_conf),
        clock=lambda: NOW.replace(day=31),
    )  # fmt: skip
    assert await later.run_once() == []  # December has not closed yet
    assert _count(crafted) == 1


async def test_two_gateways_passing_at_once_store_the_report_once(
    crafted: sessionmaker[Session], db_url: str, monthly_conf: Path
) -> None:
    first, second = job_in(monthly_conf, db_url), job_in(monthly_conf, db_url)
    made = await asyncio.gather(first.run_once(), second.run_once())
    assert sorted(made) == [[], ["monthly 2026-11"]]
    assert _count(crafted) == 1


def test_the_child_gets_the_database_and_no_other_secret(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "GATEWAY_API_TOKEN": "t0ken",
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "REDIS_URL": "redis://:pw@cache:6379/0",
        "DATABASE_URL": "postgresql://gateway:pw@db/other",
        "SOME_LINK": "https://user:pw@example.org/",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = child_env("postgresql+psycopg://reports:pw@db/station", settings)
    assert env["DATABASE_URL"] == "postgresql+psycopg://reports:pw@db/station"
    assert env["CONF_DIR"] == str(settings.conf_dir)
    assert env["LANG"] == "C.UTF-8"
    assert not {"GATEWAY_API_TOKEN", "TELEGRAM_BOT_TOKEN", "REDIS_URL", "SOME_LINK"} & set(env)


async def test_a_failing_pass_is_logged_and_the_next_pass_tries_again(
    crafted: sessionmaker[Session],
    db_url: str,
    monthly_conf: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The configuration broken after the gateway started: the child fails, the gateway logs
    why and goes on; mended, the next pass makes the report."""
    job = job_in(monthly_conf, db_url)
    path = monthly_conf / "quality_reports.yml"
    good = path.read_text("utf-8")
    path.write_text(good.replace("top_items: 10", "top_items: ten"), "utf-8")
    with caplog.at_level(logging.ERROR, logger="bot.report_schedule"):
        assert await job.tick() == []
    (record,) = [r for r in caplog.records if r.name == "bot.report_schedule"]
    assert "exit status 3" in record.getMessage()
    assert "report.top_items" in record.getMessage()
    assert _count(crafted) == 0
    path.write_text(good, "utf-8")
    assert await job.tick() == ["monthly 2026-11"]
    assert _count(crafted) == 1


async def test_a_child_out_of_time_is_killed(
    crafted: sessionmaker[Session], db_url: str, monthly_conf: Path
) -> None:
    job = job_in(monthly_conf, db_url, time_limit=timedelta(seconds=0.2))
    with pytest.raises(ReportJobFailed, match=r"more than 0\.2 s and was killed") as failed:
        await job.run_once()
    pid = int(re.findall(r"child (\d+)", str(failed.value))[0])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped
    assert _count(crafted) == 0
    assert await job_in(monthly_conf, db_url).tick() == ["monthly 2026-11"]


async def test_the_running_gateway_makes_the_report_of_the_month_just_closed(
    crafted: sessionmaker[Session], rasa: FakeRasa, db_url: str, monthly_conf: Path
) -> None:
    """bot/app.py starts the job with the gateway (here with the monthly reports only, from a
    copy of conf/): the month before the real clock's gets its report, once."""
    settings = settings_for(rasa, db_url, quality_reports=True, conf_dir=monthly_conf)
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")):
        await eventually(lambda: _count(crafted) == 1, within=120)
    with unit_of_work(crafted) as session:
        (report,) = report_service.list_reports(session)
        assert (report.kind, report.generated_by) == ("monthly", "schedule")
    assert _count(crafted) == 1


def test_the_cli_makes_stores_writes_and_lists(
    crafted: sessionmaker[Session],
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["--url", db_url, "report", "--now", NOW.isoformat()]
    assert main([*args, "--period", "2026-11", "--out", str(tmp_path), "--by", "cli:test"]) == 0
    out = capsys.readouterr().out
    assert "已生成并保存：青溪镇供电所2026年11月服务质量评价报告" in out
    assert re.search(r"达标 \d+/\d+ 项，调整建议 \d+ 条", out)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"quality-report-2026-11.{s}" for s in ("csv", "html", "pdf", "xlsx")]
    assert (tmp_path / "quality-report-2026-11.pdf").read_bytes().startswith(b"%PDF-")

    assert main([*args, "--period", "2026-13"]) == 1
    assert "bad period" in capsys.readouterr().err
    assert main([*args, "--period", "2027-01"]) == 1
    assert "尚未开始" in capsys.readouterr().err
    assert main([*args, "--due"]) == 0
    assert "已生成：monthly 2026-11" in capsys.readouterr().out
    assert main([*args, "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 4
    assert sum("cli:test" in line for line in listed) == 1

"""The evaluation reports on the console, on the real gateway and database (both backends):
who may list, read and make them (managers make; supervisors read; anybody else is refused), a
report made on demand as a background job (202 at once, then the job polled until done) and its
files, the report's page with its own style allowed by hash and its links to the same period a
year before, and the API's refusals. The jobs: one per period across gateways (a job another
replica recorded blocks this one), a few periods side by side, a child that fails or runs out of
time ends its job failed with one line, a job whose gateway died no longer blocks, and a gateway
stopping ends its jobs interrupted."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib
import logging
import os
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.console import quality_reports_api as api
from bot.console.quality_reports_api import REPORTS
from store import quality_reports
from store.config import PROJECT_ROOT, Settings
from store.db import unit_of_work
from store.quality import Period
from store.services import quality_report_jobs as jobs
from store.services.quality_report_jobs import ReportJobState
from tests.fakes.console import (
    Console,
    StaffClient,
    cheap_password_hashing,
    make_staff,
    running_console,
)
from tests.fakes.rasa import FakeRasa
from tests.integration import report_data

pytestmark = pytest.mark.slow
BASE = "/api/v1/quality/reports"
JOBS = BASE + "/jobs"


@pytest.fixture
def console_staff() -> dict[str, tuple[str, int]]:
    return {"chief": ("manager", 5), "clerk": ("clerk", 0)}


@pytest.fixture
def crafted(console: Console, settings: Settings) -> Console:
    with unit_of_work(console.factory) as session:
        report_data.craft(session, settings, owner="chief")
    return console


async def _job(who: StaffClient, job_id: int) -> dict[str, Any]:
    status, body = await who.json("GET", JOBS)
    assert status == 200, body
    return next(job for job in body["jobs"] if job["id"] == job_id)


async def _ended(who: StaffClient, job_id: int, within: float = 180) -> dict[str, Any]:
    """The job once it has ended, polled as the page polls it."""
    deadline = asyncio.get_running_loop().time() + within
    while (job := await _job(who, job_id))["state"] == "running":
        assert asyncio.get_running_loop().time() < deadline, job
        await asyncio.sleep(0.2)
    return job


async def _make(who: StaffClient, period: str) -> dict[str, Any]:
    """A report made as the page makes it: the job started (202), polled until done; the
    stored report."""
    status, body = await who.json("POST", BASE, {"period": period})
    assert status == 202, body
    job = await _ended(who, body["job"]["id"])
    assert (job["state"], job["error"]) == ("done", None), job
    status, body = await who.json("GET", f"{BASE}/{job['report_id']}")
    assert status == 200, body
    return dict(body["report"])


def _running_elsewhere(factory: sessionmaker[Session], period: str, started: datetime) -> int:
    """A job another gateway replica recorded (its id): running, the database says."""
    with unit_of_work(factory) as session:
        kind = quality_reports.kind_of(Period.parse(period))
        job = jobs.start_job(
            session, kind=kind, period_label=period, requested_by="chief", now=started
        )
        return job.id


async def test_who_may_read_and_make_reports(crafted: Console) -> None:
    anonymous, agent = await crafted.browser(), await crafted.browser("agent1")
    boss, clerk = await crafted.browser("boss"), await crafted.browser("clerk")
    assert (await anonymous.get(BASE)).status == 401
    page = await anonymous.get("/console/quality/reports")
    assert (page.status, page.headers["Location"]) == (302, "/console/login")
    for who in (agent, clerk):
        assert (await who.get("/console/quality/reports")).status == 403
    assert (await anonymous.get(JOBS)).status == 401
    for who in (agent, clerk):
        assert (await who.get(BASE)).status == 403
        assert (await who.get(JOBS)).status == 403
    assert await boss.json("GET", BASE) == (200, {"reports": []})
    assert await boss.json("GET", JOBS) == (200, {"jobs": [], "max_running": 2})
    status, body = await boss.json("POST", BASE, {"period": "2026-11"})
    assert (status, body["error"]["code"]) == (403, "forbidden")  # supervisors read only
    assert await boss.json("GET", JOBS) == (200, {"jobs": [], "max_running": 2})
    page = await boss.get("/console/quality/reports")
    assert page.status == 200
    assert 'data-may-generate=""' in await page.text()


async def test_a_manager_makes_a_report_and_everybody_allowed_gets_its_files(
    crafted: Console,
) -> None:
    chief, boss = await crafted.browser("chief"), await crafted.browser("boss")
    status, body = await chief.json("POST", BASE, {"period": "2026-11"})
    assert status == 202, body  # at once, the report still being made
    started = body["job"]
    assert (started["period"], started["kind"], started["kind_name"]) == (
        "2026-11",
        "monthly",
        "月度",
    )
    assert (started["state"], started["state_name"], started["requested_by"]) == (
        "running", "生成中", "chief"
    )  # fmt: skip
    assert started["title"] == "青溪镇供电所2026年11月服务质量评价报告"
    assert started["started_at"].endswith("+08:00")  # the station's time
    assert (started["report_id"], started["links"], started["error"]) == (None, None, None)
    job = await _ended(boss, started["id"])  # supervisors see the jobs too
    assert (job["state"], job["state_name"], job["error"]) == ("done", "已生成", None)
    assert job["finished_at"] >= job["started_at"]
    status, body = await boss.json("GET", f"{BASE}/{job['report_id']}")
    report = body["report"]
    assert job["links"] == report["links"]
    assert report["title"] == "青溪镇供电所2026年11月服务质量评价报告"
    assert (report["kind"], report["kind_name"], report["period"]) == ("monthly", "月度", "2026-11")
    assert (report["generated_by"], report["scheduled"]) == ("chief", False)
    assert report["links"]["pdf"] == f"{BASE}/{report['id']}/pdf"
    assert await boss.json("GET", BASE) == (200, {"reports": [report]})
    assert await boss.json("GET", f"{BASE}/{report['id']}") == (200, {"report": report})
    kinds = {
        "pdf": ("application/pdf", b"%PDF-"),
        "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        "csv": ("text/csv", "\ufeff指标代码".encode()),
        "html": ("text/html", b"<!DOCTYPE html>"),
    }
    for fmt, (content_type, start) in kinds.items():
        response = await boss.get(report["links"][fmt])
        assert response.status == 200, fmt
        assert response.content_type == content_type
        assert (await response.read()).startswith(start), fmt
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith(f'attachment; filename="quality-report-2026-11.{fmt}"')
        assert "filename*=UTF-8''" in disposition
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (await boss.get(f"{BASE}/999/pdf")).status == 404
    assert (await boss.get(f"{BASE}/999")).status == 404


def _style_hash(page: str) -> str:
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    digest = hashlib.sha256(style.group(1).encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


async def test_the_report_page_shows_the_stored_report_with_its_style_allowed_by_hash(
    crafted: Console,
) -> None:
    chief = await crafted.browser("chief")
    made: dict[str, Any] = {}
    for period in ("2025-11", "2026-10", "2026-11"):
        made[period] = await _make(chief, period)
    _, body = await chief.json("GET", BASE)
    november = next(r for r in body["reports"] if r["period"] == "2026-11")
    assert november["year_before_id"] == made["2025-11"]["id"]
    assert november["previous_id"] == made["2026-10"]["id"]
    response = await chief.get(november["links"]["page"])
    assert response.status == 200
    page = await response.text()
    policy = response.headers["Content-Security-Policy"]
    assert f"style-src 'self' {_style_hash(page)}" in policy
    assert "script-src 'self'" in policy
    assert "<script" not in page.split("<main", 1)[1]  # the report part runs nothing
    assert '<article class="qr" data-period="2026-11" data-kind="monthly">' in page
    assert f'href="/console/quality/reports/{made["2025-11"]["id"]}">去年同期报告</a>' in page
    assert f'href="{november["links"]["pdf"]}" download>下载 PDF</a>' in page
    assert (await chief.get("/console/quality/reports/999")).status == 404


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"period": "2026-13"}, 422, "period: bad period"),
        ({"period": "2027-01"}, 422, "尚未开始"),
        ({"period": "2024-01-01..2025-06-30"}, 422, "最长 366 天"),
        ({}, 422, "period must be a non-empty string"),
        ({"period": 202611}, 422, "period must be a string"),
    ],
)
async def test_bad_periods_are_refused(
    console: Console, body: dict[str, Any], status: int, says: str
) -> None:
    chief = await console.browser("chief")
    answer, error = await chief.json("POST", BASE, body)
    assert answer == status
    assert says in error["error"]["message"]


async def test_making_a_report_needs_the_csrf_token(console: Console) -> None:
    chief = await console.browser("chief")
    response = await chief.post(BASE, {"period": "2026-11"}, csrf="")
    assert response.status == 403
    assert await chief.json("GET", BASE) == (200, {"reports": []})
    assert await chief.json("GET", JOBS) == (200, {"jobs": [], "max_running": 2})


API_LOG = "bot.console.quality_reports_api"


def _in_the_gateway(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a report made inside the gateway's process")


def _child(caplog: pytest.LogCaptureFixture, says: str) -> tuple[int, str]:
    """The pid of the child the API's (one) log line saying `says` names, and the line."""
    (line,) = [
        r.getMessage() for r in caplog.records if r.name == API_LOG and says in r.getMessage()
    ]
    return int(re.findall(r"child (\d+)", line)[0]), line


async def test_a_report_on_demand_is_made_in_a_child_process(
    crafted: Console, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Making a report (the figures, the PDF's layout) would fail in the gateway's process here:
    the manager still gets the stored report, made by a child that has exited since."""
    monkeypatch.setattr(quality_reports, "generate", _in_the_gateway)
    monkeypatch.setattr(importlib.import_module("store.quality_reports.generate"), "render",
                        _in_the_gateway)  # fmt: skip
    chief = await crafted.browser("chief")
    with caplog.at_level(logging.INFO, logger=API_LOG):
        report = await _make(chief, "2026-Q4")
    assert (report["kind"], report["generated_by"]) == ("quarterly", "chief")
    assert await chief.json("GET", BASE) == (200, {"reports": [report]})
    pid, line = _child(caplog, "made for")
    assert "2026-Q4 made for chief" in line
    assert _child(caplog, "started")[0] == pid
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # exited and reaped


async def test_one_job_per_period_across_gateways_and_two_periods_side_by_side(
    crafted: Console,
) -> None:
    """A job another replica recorded blocks its period here (409 naming it) but not another
    period; a third period waits for one of the two (the limit); the same period twice from
    this gateway is refused the same way."""
    chief = await crafted.browser("chief")
    elsewhere = _running_elsewhere(crafted.factory, "2026-10", datetime.now(UTC))
    status, body = await chief.json("POST", BASE, {"period": "2026-10"})
    assert (status, body["error"]["code"], body["job"]["id"]) == (409, "running", elsewhere)
    assert re.fullmatch(
        r"2026-10 的月度报告正在生成（chief 于 \d\d:\d\d 开始），请等它完成。",
        body["error"]["message"],
    )
    first, second = await crafted.browser("chief"), await crafted.browser("chief")
    answers = await asyncio.gather(
        first.json("POST", BASE, {"period": "2026-11"}),
        second.json("POST", BASE, {"period": "2026-11"}),
    )
    (started, made), (refused, refusal) = sorted(answers, key=lambda answer: answer[0])
    assert (started, refused, refusal["error"]["code"]) == (202, 409, "running")
    assert refusal["job"]["id"] == made["job"]["id"]
    status, body = await chief.json("POST", BASE, {"period": "2026-Q4"})
    assert (status, body["error"]["code"]) == (409, "busy")
    assert (
        body["error"]["message"]
        == "已有 2 份报告正在生成（2026-10、2026-11），请等其中一份完成后再试。"
    )
    assert [job["id"] for job in body["jobs"]] == [elsewhere, made["job"]["id"]]

    job = await _ended(chief, made["job"]["id"])
    assert job["state"] == "done", job
    with unit_of_work(crafted.factory) as session:  # the other replica's child ends too
        jobs.finish_job(session, elsewhere, state=ReportJobState.FAILED, now=datetime.now(UTC))
    status, body = await chief.json("GET", JOBS)
    assert [(j["period"], j["state"]) for j in body["jobs"]] == [
        ("2026-11", "done"), ("2026-10", "failed")
    ]  # fmt: skip
    await _make(chief, "2026-10")


async def test_a_job_whose_gateway_died_no_longer_blocks(crafted: Console) -> None:
    """A running job older than the time limit and the margin (20 + 2 minutes) lost its
    gateway: the list shows it interrupted ("中断") and its period may be made again; a younger
    one still blocks."""
    chief, boss = await crafted.browser("chief"), await crafted.browser("boss")
    now = datetime.now(UTC)
    dead = _running_elsewhere(crafted.factory, "2026-11", now - timedelta(minutes=23))
    alive = _running_elsewhere(crafted.factory, "2026-10", now - timedelta(minutes=19))
    status, body = await boss.json("GET", JOBS)
    listed = {job["id"]: job for job in body["jobs"]}
    assert (listed[dead]["state"], listed[dead]["state_name"]) == ("interrupted", "中断")
    assert listed[dead]["error"] == "网关已停止运行，生成中断，请重新生成"
    assert listed[alive]["state"] == "running"
    status, body = await chief.json("POST", BASE, {"period": "2026-10"})
    assert (status, body["error"]["code"]) == (409, "running")
    report = await _make(chief, "2026-11")
    assert report["period"] == "2026-11"


async def test_a_failing_child_ends_its_job_failed_with_one_line(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The configuration broken after the gateway started: the child fails (exit status 3), the
    job ends failed with the child's own word in one line (no traceback) and the log has its
    last lines; mended, the next job makes the report."""
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf", conf)
    path = conf / "quality_reports.yml"
    good = path.read_text("utf-8")
    cheap_password_hashing(monkeypatch)
    async with running_console(rasa, db_url, session_factory, conf_dir=conf) as running:
        make_staff(session_factory, {"chief": ("manager", 5)})
        chief = await running.browser("chief")
        path.write_text(good.replace("top_items: 10", "top_items: ten"), "utf-8")
        with caplog.at_level(logging.ERROR, logger=API_LOG):
            status, body = await chief.json("POST", BASE, {"period": "2026-11"})
            assert status == 202, body
            job = await _ended(chief, body["job"]["id"])
        assert (job["state"], job["state_name"], job["report_id"]) == ("failed", "失败", None)
        assert job["error"].startswith("生成报告失败：Configuration error:")
        assert "report.top_items" in job["error"]
        assert "\n" not in job["error"]
        assert "Traceback" not in job["error"]
        _, line = _child(caplog, "exit status")
        assert "exit status 3" in line
        assert "report.top_items" in line
        assert await chief.json("GET", BASE) == (200, {"reports": []})
        path.write_text(good, "utf-8")
        await _make(chief, "2026-11")


async def test_a_child_out_of_time_is_killed_and_its_job_fails(
    crafted: Console, caplog: pytest.LogCaptureFixture
) -> None:
    state = crafted.client.app[REPORTS]
    _, config = state.loaded()
    state.config = replace(config, time_limit=timedelta(seconds=0.2))
    chief = await crafted.browser("chief")
    with caplog.at_level(logging.ERROR, logger=API_LOG):
        status, body = await chief.json("POST", BASE, {"period": "2026-11"})
        assert status == 202, body
        job = await _ended(chief, body["job"]["id"])
    assert job["state"] == "failed"
    assert "分钟仍未完成，已停止" in job["error"]
    pid, line = _child(caplog, "was killed")
    assert "more than 0.2 s and was killed" in line
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped
    assert await chief.json("GET", BASE) == (200, {"reports": []})


async def test_the_gateway_stopping_stops_the_child_and_interrupts_its_job(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cheap_password_hashing(monkeypatch)
    with caplog.at_level(logging.INFO, logger=API_LOG):
        async with running_console(rasa, db_url, session_factory) as running:
            make_staff(session_factory, {"chief": ("manager", 5)})
            chief = await running.browser("chief")
            status, body = await chief.json("POST", BASE, {"period": "2026-11"})
            assert status == 202, body
            deadline = asyncio.get_running_loop().time() + 30
            while not any("started" in r.getMessage() for r in caplog.records):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
            pid, _ = _child(caplog, "started")
        # the gateway has stopped
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    with unit_of_work(session_factory) as session:
        job = jobs.get_job(session, body["job"]["id"])
        assert job is not None
        assert (job.state, job.error) == ("interrupted", "网关重启，已中断，请重新生成")
        assert job.finished_at is not None
    assert any("interrupted" in r.getMessage() for r in caplog.records if r.name == API_LOG)
    assert api.RESTARTED == "网关重启，已中断，请重新生成"

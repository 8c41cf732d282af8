"""The evaluation reports on the console, on the real gateway and database (both backends):
who may list, read and make them (managers make; supervisors read; anybody else is refused), a
report made on demand and its files, the report's page with its own style allowed by hash and
its links to the same period a year before, and the API's refusals."""

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
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.console.quality_reports_api import REPORTS
from store import quality_reports
from store.config import PROJECT_ROOT, Settings
from store.db import unit_of_work
from tests.fakes.console import Console, cheap_password_hashing, make_staff, running_console
from tests.fakes.rasa import FakeRasa
from tests.integration import report_data

pytestmark = pytest.mark.slow
BASE = "/api/v1/quality/reports"


@pytest.fixture
def console_staff() -> dict[str, tuple[str, int]]:
    return {"chief": ("manager", 5), "clerk": ("clerk", 0)}


@pytest.fixture
def crafted(console: Console, settings: Settings) -> Console:
    with unit_of_work(console.factory) as session:
        report_data.craft(session, settings, owner="chief")
    return console


async def test_who_may_read_and_make_reports(crafted: Console) -> None:
    anonymous, agent = await crafted.browser(), await crafted.browser("agent1")
    boss, clerk = await crafted.browser("boss"), await crafted.browser("clerk")
    assert (await anonymous.get(BASE)).status == 401
    page = await anonymous.get("/console/quality/reports")
    assert (page.status, page.headers["Location"]) == (302, "/console/login")
    for who in (agent, clerk):
        assert (await who.get(BASE)).status == 403
        assert (await who.get("/console/quality/reports")).status == 403
    assert await boss.json("GET", BASE) == (200, {"reports": []})
    status, body = await boss.json("POST", BASE, {"period": "2026-11"})
    assert (status, body["error"]["code"]) == (403, "forbidden")  # supervisors read only
    page = await boss.get("/console/quality/reports")
    assert page.status == 200
    assert 'data-may-generate=""' in await page.text()


async def test_a_manager_makes_a_report_and_everybody_allowed_gets_its_files(
    crafted: Console,
) -> None:
    chief, boss = await crafted.browser("chief"), await crafted.browser("boss")
    status, body = await chief.json("POST", BASE, {"period": "2026-11"})
    assert status == 201, body
    report = body["report"]
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
        status, body = await chief.json("POST", BASE, {"period": period})
        assert status == 201, body
        made[period] = body["report"]
    status, body = await chief.json("GET", BASE)
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


API_LOG = "bot.console.quality_reports_api"


def _in_the_gateway(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a report made inside the gateway's process")


def _child(caplog: pytest.LogCaptureFixture) -> tuple[int, str]:
    """The pid of the child the API's (one) log line names, and the line."""
    (record,) = [r for r in caplog.records if r.name == API_LOG]
    return int(re.findall(r"child (\d+)", record.getMessage())[0]), record.getMessage()


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
        status, body = await chief.json("POST", BASE, {"period": "2026-Q4"})
    assert status == 201, body
    assert (body["report"]["kind"], body["report"]["generated_by"]) == ("quarterly", "chief")
    assert await chief.json("GET", BASE) == (200, {"reports": [body["report"]]})
    pid, line = _child(caplog)
    assert "2026-Q4 made for chief" in line
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # exited and reaped


async def test_one_report_at_a_time_per_gateway(crafted: Console) -> None:
    first, second = await crafted.browser("chief"), await crafted.browser("chief")
    answers = await asyncio.gather(
        first.json("POST", BASE, {"period": "2026-11"}),
        second.json("POST", BASE, {"period": "2026-11"}),
    )
    (made, made_body), (busy, busy_body) = sorted(answers, key=lambda answer: answer[0])
    assert (made, busy, busy_body["error"]["code"]) == (201, 409, "busy")
    assert await first.json("GET", BASE) == (200, {"reports": [made_body["report"]]})


async def test_a_failing_child_answers_an_error_and_is_logged(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The configuration broken after the gateway started: the child fails, the manager gets a
    JSON error at once and the log says why; mended, the next request makes the report."""
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
        assert (status, body["error"]["code"]) == (500, "report_failed")
        assert body["error"]["message"] == "生成报告失败，请管理员查看网关日志。"
        _, line = _child(caplog)
        assert "exit status 3" in line
        assert "report.top_items" in line
        assert await chief.json("GET", BASE) == (200, {"reports": []})
        path.write_text(good, "utf-8")
        status, body = await chief.json("POST", BASE, {"period": "2026-11"})
        assert status == 201, body


async def test_a_child_out_of_time_is_killed_and_answers_504(
    crafted: Console, caplog: pytest.LogCaptureFixture
) -> None:
    state = crafted.client.app[REPORTS]
    _, config = state.loaded()
    state.config = replace(config, time_limit=timedelta(seconds=0.2))
    chief = await crafted.browser("chief")
    with caplog.at_level(logging.ERROR, logger=API_LOG):
        status, body = await chief.json("POST", BASE, {"period": "2026-11"})
    assert (status, body["error"]["code"]) == (504, "timeout")
    assert "分钟仍未完成，已停止" in body["error"]["message"]
    pid, line = _child(caplog)
    assert "more than 0.2 s and was killed" in line
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped
    assert await chief.json("GET", BASE) == (200, {"reports": []})

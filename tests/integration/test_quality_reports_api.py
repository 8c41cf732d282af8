"""The evaluation reports on the console, on the real gateway and database (both backends):
who may list, read and make them (managers make; supervisors read; anybody else is refused), a
report made on demand and its files, the report's page with its own style allowed by hash and
its links to the same period a year before, and the API's refusals."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest

from store.config import Settings
from store.db import unit_of_work
from tests.fakes.console import Console
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

"""The evaluation reports' pages in a real headless Chromium (Debian's, driven by Playwright)
against the real gateway on crafted data (SQLite). Every request the page makes outside the
gateway, and every console error (a CSP refusal of the report's style among them), fails.

The stories: the station manager finds no report, makes November's (in the background: the
page shows it being made, 生成中…, the button disabled for November but not for another period,
then the report in the list), opens it from the list, reads its figures and measures, downloads
its PDF; a supervisor sees the list, the jobs and the report but no "generate" form. A
screenshot of the report page is kept when REPORT_SCREENSHOT names a file (to look at it)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from tests.browser.back_office import Stack, back_office
from tests.integration import report_data

pytestmark = pytest.mark.slow
TITLE = "青溪镇供电所2026年11月服务质量评价报告"


@pytest.fixture
def stack(
    db_url: str,
    session_factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    staff = {"chief": ("manager", 5), "boss": ("supervisor", 5)}
    with back_office(db_url, session_factory, monkeypatch, staff) as stack:
        with unit_of_work(session_factory) as session:
            report_data.craft(session, settings, owner="chief")
        yield stack


def _open_list(stack: Stack, page: Page, who: str) -> None:
    stack.log_in(page, who, "/console.*")
    page.goto(stack.gateway.url + "/console/quality/reports")
    expect(page.get_by_role("heading", name="全部报告")).to_be_visible()


def test_a_manager_makes_a_report_reads_it_and_downloads_its_pdf(
    browser: Browser, stack: Stack, tmp_path: Path
) -> None:
    with stack.page(browser) as page:
        _open_list(stack, page, "chief")
        expect(page.locator("#empty")).to_have_text("还没有评价报告。")
        button = page.get_by_role("button", name="生成报告")
        expect(page.locator("#jobs-section")).to_be_hidden()
        page.get_by_label("报告期").fill("2026-11")
        button.click()
        # at once: the job running (the child takes seconds), the button off for November only
        job = page.locator("#jobs tr").first
        expect(job).to_contain_text("2026-11（月度）")
        expect(job.locator(".job-state")).to_have_text("生成中…")
        expect(job).to_contain_text("chief")
        expect(page.locator("#status")).to_contain_text("正在后台生成 2026-11（月度）")
        expect(button).to_be_disabled()
        expect(page.locator("#busy-hint")).to_contain_text("2026-11 的报告正在生成")
        page.get_by_label("报告期").fill("2026-10")
        expect(button).to_be_enabled()
        expect(page.locator("#busy-hint")).to_be_hidden()
        page.get_by_label("报告期").fill("2026-11")
        expect(button).to_be_disabled()
        # polled until done: said, listed, the button on again
        expect(page.locator("#status")).to_contain_text("已生成：", timeout=60_000)
        expect(job.locator(".job-state")).to_have_text("已生成")
        expect(job.get_by_role("link", name=TITLE)).to_be_visible()
        expect(button).to_be_enabled()
        row = page.locator("#reports tr")
        expect(row).to_have_count(1)
        expect(row.first).to_contain_text("月度")
        expect(row.first).to_contain_text("chief 手动生成")
        row.first.get_by_role("link", name=TITLE).click()

        expect(page).to_have_url(re.compile(r"/console/quality/reports/\d+$"))
        expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
        arrival = page.locator('tr[data-key="repairs.arrival_on_time_rate"]')
        expect(arrival).to_have_class(re.compile("misses"))
        expect(arrival.locator("td.verdict")).to_have_text("未达标")
        # the report's own style applies (its hash is in the page's policy): a red verdict
        color = arrival.locator("td.verdict").evaluate("e => getComputedStyle(e).color")
        assert color == "rgb(179, 38, 30)"
        expect(page.locator("#measures")).to_contain_text(report_data.MEASURE)
        expect(page.locator("#proposals")).to_contain_text("措施逾期")
        if os.environ.get("REPORT_SCREENSHOT"):
            page.screenshot(path=os.environ["REPORT_SCREENSHOT"], full_page=True)
        with page.expect_download() as download:
            page.get_by_role("link", name="下载 PDF").click()
        saved = tmp_path / "report.pdf"
        download.value.save_as(saved)
        assert download.value.suggested_filename == f"{TITLE}.pdf"  # filename* (RFC 6266)
        assert saved.read_bytes().startswith(b"%PDF-")


def test_a_supervisor_reads_the_reports_but_makes_none(browser: Browser, stack: Stack) -> None:
    with stack.page(browser) as page:
        _open_list(stack, page, "chief")
        page.get_by_label("报告期").fill("2026-Q4")
        page.get_by_role("button", name="生成报告").click()
        expect(page.locator("#status")).to_contain_text("已生成：", timeout=60_000)
        page.get_by_role("button", name="退出登录").click()

        _open_list(stack, page, "boss")
        expect(page.locator("#generate")).to_be_hidden()
        expect(page.locator("#jobs tr")).to_have_count(1)
        expect(page.locator("#jobs tr").first).to_contain_text("2026-Q4（季度）")
        expect(page.locator("#jobs tr .job-state")).to_have_text("已生成")
        expect(page.locator("#reports tr")).to_have_count(1)
        page.get_by_label("类型").select_option(label="月度")
        expect(page.locator("#reports tr")).to_have_count(0)
        page.get_by_label("类型").select_option(label="季度")
        link = page.locator("#reports").get_by_role(
            "link", name="青溪镇供电所2026年第四季度服务质量评价报告"
        )
        link.click()
        expect(page.locator("article.qr")).to_have_attribute("data-kind", "quarterly")
        expect(page.locator(".qr-meta")).to_contain_text("生成时本期尚未结束")

"""The managers' import page in a real headless Chromium against the real gateway on SQLite:
a dry run of a file with bad rows shows each with its line and reason and writes nothing; the
sample areas and accounts import; the same accounts again change nothing; a clerk is refused.
Every request outside the gateway, and every console error (CSP, Trusted Types), fails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from store.config import PROJECT_ROOT, Settings
from store.db import unit_of_work
from store.models import Account, ImportRun
from store.services import areas
from tests.browser.harness import GatewayThread, serving, watched_page
from tests.fakes.console import PASSWORD, cheap_password_hashing, make_staff
from tests.fakes.gateway import settings_for
from tests.fakes.rasa import FakeRasa

pytestmark = pytest.mark.slow

SAMPLES = PROJECT_ROOT / "docs" / "samples"


@dataclass
class Stack:
    gateway: GatewayThread
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


@pytest.fixture
def stack(
    db_url: str,
    session_factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    cheap_password_hashing(monkeypatch)
    make_staff(session_factory, {"chief": ("manager", 5), "clerk": ("clerk", 0)})
    with unit_of_work(session_factory) as session:
        areas.sync_areas(session, settings)  # the station's own areas (conf/areas.yml)
    rasa = FakeRasa()
    with serving(rasa):
        gateway = GatewayThread(lambda: create_app(settings_for(rasa, db_url))).start()
        try:
            yield Stack(gateway)
        finally:
            gateway.stop()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    with watched_page(
        browser, stack.gateway.url, errors=stack.errors, foreign=stack.foreign
    ) as page:
        yield page


def log_in(page: Page, stack: Stack, username: str) -> None:
    page.goto(stack.gateway.url + "/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).not_to_have_url(re.compile(r"/console/login$"))


def send(page: Page, kind: str, name: str, data: bytes, *, dry_run: bool) -> None:
    page.get_by_label("数据类型").select_option(label=kind)
    page.get_by_label("文件").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": data}
    )
    page.get_by_label("仅检查（试运行，不写入数据）").set_checked(dry_run)
    page.get_by_role("button", name="开始导入").click()


def counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with unit_of_work(factory) as session:
        accounts = session.scalar(select(func.count()).select_from(Account)) or 0
        runs = session.scalar(select(func.count()).select_from(ImportRun)) or 0
        return accounts, runs


def test_a_manager_checks_a_file_then_imports(
    page: Page, stack: Stack, session_factory: sessionmaker[Session]
) -> None:
    log_in(page, stack, "chief")
    page.goto(stack.gateway.url + "/console/import")
    expect(page.get_by_role("heading", name="数据导入")).to_be_visible()

    # the station's areas first, for real
    send(page, "供电区域（台区）", "areas.csv", (SAMPLES / "areas.csv").read_bytes(), dry_run=False)
    expect(page.locator("#report-title")).to_have_text("已导入")
    expect(page.locator("#count-created")).to_have_text("3")

    # the sample with errors, checked only: every bad row with its line and reason
    bad = (SAMPLES / "accounts-with-errors.csv").read_bytes()
    send(page, "用户档案", "用户档案.csv", bad, dry_run=True)
    expect(page.locator("#report-title")).to_have_text("试运行完成（未写入任何数据）")
    expect(page.locator("#count-rejected")).to_have_text("7")
    rows = page.locator("#rejections tr")
    expect(rows).to_have_count(7)
    expect(rows.nth(0).locator("td").nth(0)).to_have_text("3")
    expect(rows.filter(has_text="缺少户名").locator("td").nth(0)).to_have_text("4")
    expect(rows.filter(has_text="台区“ZZ99”不存在")).to_have_count(1)
    assert counts(session_factory) == (0, 1)

    # the accounts for real
    accounts = (SAMPLES / "accounts.xlsx").read_bytes()
    send(page, "用户档案", "accounts.xlsx", accounts, dry_run=False)
    expect(page.locator("#report-file")).to_contain_text("accounts.xlsx")
    expect(page.locator("#count-created")).to_have_text("5")
    expect(page.locator("#rejections-table")).to_be_hidden()
    assert counts(session_factory) == (5, 2)

    # the same file again changes nothing
    page.get_by_role("button", name="开始导入").click()
    expect(page.locator("#count-unchanged")).to_have_text("5")
    expect(page.locator("#count-created")).to_have_text("0")
    expect(page.locator("#count-updated")).to_have_text("0")
    assert counts(session_factory)[0] == 5


def test_a_clerk_may_not_open_the_import_page(page: Page, stack: Stack) -> None:
    log_in(page, stack, "clerk")
    response = page.goto(stack.gateway.url + "/console/import")
    assert response is not None
    assert response.status == 403
    expect(page.locator("body")).to_contain_text("无权访问")
    assert len(stack.errors) == 1  # the refusal itself, nothing else
    assert "403" in stack.errors[0]
    stack.errors.clear()

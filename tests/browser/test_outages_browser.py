"""The outages page (/console/outages) in a real headless Chromium (Debian's, driven by
Playwright) against the real gateway on the demo station (SQLite). Every request the page makes
outside the gateway, and every console error (CSP, Trusted Types), fails the test.

The story: a dispatcher finds the page in the console's bar, sees three fault reports from
东山村 grouped as a suspected outage and publishes them in one step as a fault outage; publishes
a planned outage four days ahead and is warned that the 7-day commitment is missed; postpones
it, then cancels it; records the fault's cause and then its restoration. The database holds
each notice, written once, by the dispatcher.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.models import Outage, OutageNotice, Ticket
from tests.browser.back_office import Stack, back_office
from tests.integration.outages.support import report

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    with back_office(db_url, session_factory, monkeypatch, {"lin": ("dispatcher", 0)}) as stack:
        yield stack


def _reports(factory: sessionmaker[Session], settings: Settings) -> list[str]:
    """Three fault reports from 东山村 in the last few minutes, no outage known there."""
    now, numbers = datetime.now(UTC), []
    for n in range(1, 4):
        at = now - timedelta(minutes=5 - n)
        phone, sender = f"1390571{n:04d}", f"fake:70{n}"
        numbers.append(report(factory, settings, f"东山村{n}组", sender, phone, at, "全村没电"))
    return numbers


def _local(value: datetime, settings: Settings) -> str:
    return value.astimezone(settings.tz).strftime("%Y-%m-%dT%H:%M")


def _card(page: Page, text: str) -> Locator:
    return page.locator("article.outage").filter(has_text=text)


def _numbered(page: Page, card: Locator) -> Locator:
    """The same card found by its outage's number, whatever its text becomes."""
    number = card.get_attribute("data-outage")
    return page.locator(f'article.outage[data-outage="{number}"]')


def _act(page: Page, card: Locator, action: str, fields: dict[str, str]) -> None:
    """Open the card's 操作, pick `action`, fill `fields` (by label) and submit."""
    card.locator("summary", has_text="操作").click()
    card.get_by_label("操作", exact=True).select_option(label=action)
    for label, value in fields.items():
        card.get_by_label(label, exact=True).fill(value)
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 200):
        card.get_by_role("button", name="提交并通知客户").click()


def test_a_dispatcher_publishes_and_manages_outages(
    browser: Browser, stack: Stack, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    reported = _reports(session_factory, settings)
    start = (datetime.now(UTC) + timedelta(days=4)).astimezone(settings.tz)
    start = start.replace(hour=8, minute=0, second=0, microsecond=0)
    with stack.page(browser) as page:
        stack.log_in(page, "lin", "/console/tickets")
        page.get_by_role("navigation").get_by_role("link", name="停电通知").click()
        expect(page.get_by_role("heading", name="停电通知")).to_be_visible()

        # the suspected outage, published in one step
        alert = page.locator("#suspects-box")
        expect(alert).to_be_visible()
        suspect = alert.locator("article.suspect")
        expect(suspect).to_have_count(1)
        expect(suspect.locator("h3")).to_contain_text("东山村：3 起报修")
        for number in reported:
            expect(suspect).to_contain_text(number)
        suspect.get_by_label("停电原因").fill("10kV东山线跳闸，原因排查中")
        suspect.get_by_role("button", name="发布为故障停电并通知报修客户").click()
        expect(page.locator("#done")).to_contain_text("并入报修 3 单")
        expect(alert).to_be_hidden()
        fault = _numbered(page, _card(page, "10kV东山线跳闸"))  # its reason changes below
        expect(fault.locator("h3")).to_contain_text("故障停电 · 停电中")
        expect(fault).to_contain_text("0 / 3")  # subscribers / attached reports

        # a planned outage four days ahead: published, with the commitment's warning
        form = page.locator("#publish-form")
        form.get_by_label("类型").select_option(label="计划停电")
        expect(page.locator("#p-commitment")).to_have_text("承诺：提前7天通知客户")
        form.get_by_label("柳湾村（订阅0）").check()
        form.get_by_label("或按组填写").fill("杨家村2组")
        form.get_by_label("停电开始", exact=True).fill(_local(start, settings))
        form.get_by_label("预计恢复", exact=True).fill(_local(start + timedelta(hours=8), settings))
        form.get_by_label("停电原因", exact=True).fill("配电变压器增容改造")
        form.get_by_label("客户注意事项", exact=True).fill("请提前储水")
        form.get_by_role("button", name="发布并通知客户").click()
        expect(page.locator("#warning")).to_contain_text("计划停电应提前7天通知客户")
        expect(page.locator("#done")).to_contain_text("柳湾村、杨家村2组")
        planned = _card(page, "配电变压器增容改造")
        expect(planned.locator("h3")).to_contain_text("计划停电 · 待停电")
        expect(planned.locator(".late")).to_have_text("通知未达承诺")

        later = start + timedelta(days=1)
        _act(page, planned, "改期", {
            "开始时间": _local(later, settings),
            "预计恢复时间": _local(later + timedelta(hours=8), settings),
            "说明": "天气原因",
        })  # fmt: skip
        expect(planned.locator("li.notice[data-kind=postponed]")).to_have_count(1)
        page.once("dialog", lambda dialog: dialog.accept())
        _act(page, planned, "取消停电", {"说明": "计划调整"})
        expect(planned.locator("h3")).to_contain_text("已取消")
        expect(planned.locator("details.actions")).to_have_count(0)

        _act(page, fault, "抢修进展（原因/预计恢复）", {"查明的原因": "避雷器击穿"})
        expect(fault.locator("li.notice[data-kind=cause_found]")).to_have_count(1)
        _act(page, fault, "登记恢复送电", {})
        expect(fault.locator("h3")).to_contain_text("已恢复送电")

    with unit_of_work(session_factory) as session:
        rows = session.scalars(select(OutageNotice).order_by(OutageNotice.id)).all()
        assert [(n.kind, n.created_by) for n in rows] == [
            ("published", "lin"),
            ("published", "lin"),
            ("postponed", "lin"),
            ("cancelled", "lin"),
            ("cause_found", "lin"),
            ("restored", "lin"),
        ]
        outage = session.scalars(select(Outage).where(Outage.cause == "避雷器击穿")).one()
        assert outage.restored_at is not None
        states = session.scalars(select(Ticket.status).where(Ticket.ticket_no.in_(reported)))
        assert set(states) == {"restored"}

"""Repair work orders in a real headless Chromium (Debian's, driven by Playwright) against the
real gateway on the demo station (SQLite). Every request the page makes outside the gateway,
and every console error (CSP, Trusted Types), fails the test.

The stories: a dispatcher reads the list's counts and narrows it with each filter; opens a new
ticket, sends a crew at a given time, is refused a step timed before the previous one and
records one within the limits; corrects the guessed fault type and finds it kept after a reload;
the station manager follows the ticket's conversation link into
the agent console; a crew member on a 360 x 740 phone sees the next ticket, records arrival
(offline, with its time) and restoration, and nothing on the page is wider than the screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.configuration.dispatch import StepTimeLimits
from store.conversation_refs import mask
from store.db import unit_of_work
from store.models import Ticket
from store.services import areas, crews, dispatch, staff, tickets, transcripts
from store.services.dispatch import Actor
from store.workflow import TERMINAL_STATUSES
from tests.browser.back_office import Stack, back_office

pytestmark = pytest.mark.slow

EAST = "东片抢修组"
PHONE_SIZE = (360, 740)


@pytest.fixture
def stack(
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    staff = {"lin": ("dispatcher", 0), "lao": ("crew", 0), "chief": ("manager", 5)}
    with back_office(db_url, session_factory, monkeypatch, staff) as stack:
        yield stack


def _report(
    factory: sessionmaker[Session], settings: Settings, village: str, ago: timedelta, n: int
) -> str:
    """A new fault ticket the assistant opened `ago`, in its own conversation."""
    with unit_of_work(factory) as session:
        area = areas.match_area(session, village)
        assert area is not None
        return tickets.report_fault(
            session, settings, area=area, address=f"{village}{n}组",
            description=f"{n}组停电了，冰箱都不响了",
            contact_phone=f"1390571{n:04d}", account=None, sender_id=f"fake:56{n:02d}",
            channel="fake", now=datetime.now(UTC) - ago,
        ).ticket.ticket_no  # fmt: skip


def _local(value: datetime, settings: Settings) -> str:
    return value.astimezone(settings.tz).strftime("%Y-%m-%dT%H:%M")


def _open_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Open repair tickets per status, straight from the table."""
    with unit_of_work(factory) as session:
        stmt = (
            select(Ticket.status, func.count())
            .where(Ticket.type.in_(dispatch.REPAIR_TYPES))
            .where(Ticket.status.not_in(TERMINAL_STATUSES))
            .group_by(Ticket.status)
        )
        return {str(s): int(n) for s, n in session.execute(stmt)}


def _rows(page: Page) -> Any:
    return page.locator("#tickets tr")


def _filter(page: Page, name: str, option: str) -> None:
    """Pick a filter and wait for the list it asks for (the rows before it are stale)."""
    with page.expect_response(lambda r: "/api/v1/tickets?" in r.url):
        page.get_by_label(name, exact=True).select_option(label=option)


def test_the_dispatchers_list_counts_and_filters(
    browser: Browser, stack: Stack, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    expected = _open_counts(session_factory)
    with stack.page(browser) as page:
        stack.log_in(page, "lin", "/console/tickets")
        total = sum(expected.values())
        expect(page.locator("#total")).to_have_text(f"共 {total} 张工单")
        chips = page.locator("#counts li")
        expect(chips).to_have_count(len(expected))
        for status, n in expected.items():
            label = settings.labels.ticket_status(status).zh
            expect(chips.filter(has_text=label)).to_have_text(f"{label} {n}")
        expect(_rows(page)).to_have_count(min(total, 50))

        received = expected["received"]
        _filter(page, "状态", "已受理")
        expect(page.locator("#total")).to_have_text(f"共 {received} 张工单")
        expect(_rows(page)).to_have_count(received)
        for row in _rows(page).all():
            expect(row.locator("td").nth(2)).to_have_text(re.compile("^已受理"))
        _filter(page, "状态", "全部")

        _filter(page, "班组", EAST)
        expect(_rows(page).first).to_be_visible()
        for row in _rows(page).all():
            expect(row.locator("td").nth(4)).to_have_text(EAST)
        _filter(page, "班组", "全部")

        _filter(page, "时限", "已超时")
        expect(_rows(page).first).to_be_visible()
        for row in _rows(page).all():
            expect(row).to_have_class("overdue")
            expect(row.locator("td").nth(6)).to_contain_text("已超时")
        _filter(page, "时限", "全部")

        _filter(page, "停电事件", "已并入")
        expect(_rows(page).first).to_be_visible()
        for row in _rows(page).all():
            expect(row.locator("td").nth(2)).to_contain_text("（并入停电）")


def test_a_dispatcher_sends_a_crew_and_records_a_step_with_its_time(
    browser: Browser, stack: Stack, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    number = _report(session_factory, settings, "东山村", timedelta(minutes=40), 11)
    now = datetime.now(UTC)
    sent_at, accepted_at = now - timedelta(minutes=20), now - timedelta(minutes=10)
    with stack.page(browser) as page:
        stack.log_in(page, "lin", "/console/tickets")
        page.get_by_role("link", name=number).click()
        expect(page).to_have_url(re.compile(f"/console/tickets/{number}$"))
        expect(page.locator("#status")).to_have_text("已受理")
        expect(page.locator("#words")).to_have_text("11组停电了，冰箱都不响了")
        expect(page.locator("#address")).to_have_text("东山村11组")
        expect(page.locator("#area")).to_have_text("东山村")
        expect(page.locator("#conversation")).to_have_text("fake")  # no agent: no link
        expect(page.locator("#timeline li")).to_have_count(1)

        page.get_by_label("派给班组").select_option(label=f"{EAST}（东山村、柳湾村、桃源村）")
        page.get_by_label("时间（留空为现在）").fill(_local(sent_at, settings))
        page.get_by_label("备注").fill("就近派单")
        page.get_by_role("button", name="派单 / 改派").click()
        expect(page.locator("#status")).to_have_text("已派单")
        expect(page.locator("#crew")).to_have_text(f"{EAST}（13905719003）")
        last = page.locator("#timeline li").last
        expect(last).to_contain_text(_local(sent_at, settings)[5:].replace("T", " "))
        expect(last).to_contain_text(f"派给 {EAST}；就近派单")
        expect(page.get_by_label("时间（留空为现在）")).to_have_value("")  # cleared for the next

        # a time before the previous step is refused, clearly, and nothing changes
        page.get_by_label("时间（留空为现在）").fill(
            _local(sent_at - timedelta(minutes=5), settings)
        )
        page.get_by_role("button", name="接单").click()
        expect(page.locator("#error")).to_contain_text("时间不能早于上一步")
        # Chromium logs the refused request itself: that one error is expected, no other
        assert [e for e in stack.errors if "422" not in e] == []
        assert len(stack.errors) == 1
        stack.errors.clear()
        expect(page.locator("#status")).to_have_text("已派单")
        page.get_by_label("时间（留空为现在）").fill(_local(accepted_at, settings))
        page.get_by_role("button", name="接单").click()
        expect(page.locator("#status")).to_have_text("已接单")
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#timeline li")).to_have_count(3)
        expect(page.locator("#timeline li").last).to_contain_text(
            _local(accepted_at, settings)[5:].replace("T", " ") + " 已接单 · lin"
        )
        expect(page.get_by_role("button", name="到达现场")).to_be_visible()  # what comes next

    with unit_of_work(session_factory) as session:
        ticket = tickets.get_by_no(session, number)
        assert ticket is not None
        assert ticket.crew is not None
        assert (ticket.status, ticket.crew.name) == ("accepted", EAST)
        events = [(e.status, e.actor, _local(e.at, settings)) for e in ticket.events]
        assert events[1:] == [
            ("dispatched", "lin", _local(sent_at, settings)),
            ("accepted", "lin", _local(accepted_at, settings)),
        ]


def test_a_dispatcher_corrects_the_fault_type(
    browser: Browser, stack: Stack, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    number = _report(session_factory, settings, "东山村", timedelta(minutes=10), 13)
    with stack.page(browser) as page:
        stack.log_in(page, "lin", "/console/tickets")
        page.get_by_role("link", name=number).click()
        expect(page.locator("#category")).to_have_text("停电（系统推测）")  # 停电了 in the words
        page.get_by_label("更正为").select_option(label="跳闸")
        expect(page.locator("#category")).to_have_text("跳闸")
        expect(page.locator("#timeline li").last).to_contain_text("类别：停电（系统推测） → 跳闸")
        page.reload()
        expect(page.locator("#category")).to_have_text("跳闸")
        expect(page.get_by_label("更正为")).to_have_value("")  # ready for the next correction
    with unit_of_work(session_factory) as session:
        ticket = tickets.get_by_no(session, number)
        assert ticket is not None
        assert (ticket.category, ticket.events[-1].actor) == ("trip", "lin")


def test_the_manager_follows_the_ticket_to_its_conversation(
    browser: Browser, stack: Stack, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    number = _report(session_factory, settings, "东山村", timedelta(minutes=30), 12)
    with unit_of_work(session_factory) as session:
        conversation = transcripts.touch_conversation(
            session, conversation_id="fake:5612", channel="fake", chat_id="5612",
            now=datetime.now(UTC) - timedelta(minutes=31),
        )  # fmt: skip
        transcripts.record_inbound(
            session, conversation, text="东山村12组停电了", now=datetime.now(UTC)
        )
    with stack.page(browser) as page:
        stack.log_in(page, "lin", "/console/tickets")  # a dispatcher: no chats, no link
        page.goto(f"{stack.gateway.url}/console/tickets/{number}")
        expect(page.locator("#conversation")).to_have_text("fake")
        expect(page.locator("#conversation a")).to_have_count(0)
    with stack.page(browser) as page:
        stack.log_in(page, "chief", "/console")
        page.goto(f"{stack.gateway.url}/console/tickets/{number}")
        link = page.locator("#conversation a")
        label = mask("fake:5612")
        expect(link).to_have_text(label)  # masked, never the chat id
        link.click()
        expect(page).to_have_url(re.compile(r"/console#conversation-\d+$"))
        expect(page.locator("#chat-title")).to_have_text(f"fake · {label}")
        expect(page.locator("#transcript .msg-customer .msg-text")).to_have_text("东山村12组停电了")


def _crew_ticket(
    factory: sessionmaker[Session], settings: Settings, crew: str, n: int, ago: timedelta
) -> str:
    """A ticket of `crew`, accepted by it `ago` (the dispatcher sent it)."""
    number = _report(factory, settings, "东山村", ago, n)
    with unit_of_work(factory) as session:
        ticket = tickets.get_by_no(session, number)
        found = crews.by_name(session, crew)
        assert ticket is not None
        assert found is not None
        limits = StepTimeLimits(max_back=timedelta(days=1), future_tolerance=timedelta())
        lin = Actor("lin", "dispatcher")
        now = datetime.now(UTC) - ago + timedelta(minutes=1)
        dispatch.assign(session, ticket, found, actor=lin, limits=limits, now=now)
        dispatch.record_step(session, ticket, "accepted", actor=lin, limits=limits, now=now)
    return number


WIDEST = """() => {
  let right = 0, what = "";
  for (const e of document.querySelectorAll("body *")) {
    if (!e.getClientRects().length) continue;
    const edge = e.getBoundingClientRect().right;
    if (edge > right) [right, what] = [edge, e.tagName + "#" + e.id + "." + e.className];
  }
  return [document.documentElement.scrollWidth, right, what];
}"""
"""The page's width and its widest visible element's right edge: the body hiding its overflow
must not hide a control cut off at the screen's edge."""


def _no_horizontal_overflow(page: Page) -> None:
    width, right, what = page.evaluate(WIDEST)
    assert width <= PHONE_SIZE[0], f"the page is {width} px wide on a {PHONE_SIZE[0]} px phone"
    assert right <= PHONE_SIZE[0], f"{what} reaches {right} px on a {PHONE_SIZE[0]} px phone"


def test_a_crew_member_works_the_next_ticket_on_a_phone(
    browser: Browser, stack: Stack, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(session_factory) as session:
        crew = crews.create_crew(session, name="北片抢修组", now=datetime.now(UTC))
        user = staff.get_by_username(session, "lao")
        assert user is not None
        crews.set_member(session, user, crew)
    first = _crew_ticket(session_factory, settings, "北片抢修组", 21, timedelta(minutes=50))
    second = _crew_ticket(session_factory, settings, "北片抢修组", 22, timedelta(minutes=15))
    arrived_at = datetime.now(UTC) - timedelta(minutes=5)
    with stack.page(browser, viewport=PHONE_SIZE) as page:
        stack.log_in(page, "lao", "/console/crew")
        expect(page.locator("#crew-name")).to_have_text("北片抢修组 · 我的抢修任务")
        expect(page.locator("#next-no")).to_have_text(first)  # the nearest deadline first
        expect(page.locator("#next-status")).to_have_text("已接单")
        expect(page.locator("#next-address")).to_have_text("东山村 东山村21组")
        expect(page.locator("#next-phone")).to_have_attribute("href", "tel:13905710021")
        expect(page.locator("#queue li")).to_have_count(2)
        arrive = page.get_by_role("button", name="到达", exact=True)
        restore = page.get_by_role("button", name="恢复送电")
        expect(arrive).to_be_visible()
        expect(restore).to_be_hidden()  # not before arriving
        box = arrive.bounding_box()
        assert box is not None
        assert box["height"] >= 56
        assert box["width"] >= 300  # a big target across the screen
        _no_horizontal_overflow(page)

        page.get_by_label("时间（离线补录，留空为现在）").fill(_local(arrived_at, settings))
        arrive.click()
        expect(page.locator("#done")).to_have_text(f"{first}：已记录到达现场")
        expect(page.locator("#next-status")).to_have_text("已到达现场")
        expect(arrive).to_be_hidden()
        _no_horizontal_overflow(page)
        restore.click()
        expect(page.locator("#done")).to_have_text(f"{first}：已记录恢复送电")
        expect(page.locator("#next-no")).to_have_text(second)  # restored: off the crew's list
        expect(page.locator("#queue li")).to_have_count(1)
        _no_horizontal_overflow(page)

    with unit_of_work(session_factory) as session:
        ticket = tickets.get_by_no(session, first)
        assert ticket is not None
        assert ticket.status == "restored"
        on_site, restored = ticket.events[-2:]
        assert (on_site.status, on_site.actor) == ("on_site", "lao")
        assert _local(on_site.at, settings) == _local(arrived_at, settings)
        assert (restored.status, restored.actor) == ("restored", "lao")

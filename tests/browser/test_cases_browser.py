"""The back office's cases in a real headless Chromium (Debian's, driven by Playwright) against
the real gateway on the demo station (SQLite). Every request the page makes outside the gateway,
and every console error (CSP, Trusted Types), fails the test.

The stories: a clerk works a repeated, overdue complaint from received to closed with the
customer's verdict; corrects a complaint's guessed category and finds it kept after a reload;
sends a name transfer back for a missing document (the customer is told
exactly which, on their chat), takes it in and approves the application; finds a customer by
name and opens their page, which is recorded in the access log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.models import AccessAudit
from store.services import accounts, applications, tickets
from tests.browser.back_office import Stack, back_office

pytestmark = pytest.mark.slow

PHONE = "13905718888"
WORDS = "抄表员态度恶劣，还乱估电量"


@pytest.fixture
def stack(
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    staff = {"zhou": ("clerk", 0)}
    with back_office(db_url, session_factory, monkeypatch, staff, chats=True) as stack:
        yield stack


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    with stack.page(browser) as p:
        yield p


def log_in_as_clerk(page: Page, stack: Stack) -> None:
    stack.log_in(page, "zhou", "/console/feedback")


def _complaints(factory: sessionmaker[Session], settings: Settings) -> tuple[str, str]:
    """An earlier complaint of the same phone, and a new one not contacted for 30 hours."""
    now = datetime.now(UTC)
    numbers = []
    with unit_of_work(factory) as session:
        for age, words in ((timedelta(days=40), "上次停电没人通知"), (timedelta(hours=30), WORDS)):
            ticket = tickets.create_ticket(
                session, settings, type="complaint", description=words, now=now - age,
                contact_phone=PHONE, sender_id="fake:5501", channel="fake",
            )  # fmt: skip
            numbers.append(ticket.ticket_no)
    return numbers[0], numbers[1]


def test_a_clerk_works_a_complaint_from_received_to_closed(
    page: Page, stack: Stack, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    earlier, number = _complaints(session_factory, settings)
    log_in_as_clerk(page, stack)
    page.get_by_label("类型").select_option(label="投诉")
    row = page.locator(f'tr[data-ticket="{number}"]')
    expect(row).to_have_class(re.compile("overdue"))  # not contacted within 24 hours
    expect(row).to_contain_text("超期")
    expect(row).to_contain_text("重复投诉 1")
    expect(row).to_contain_text("139****8888")
    row.get_by_role("button", name=number).click()

    case = page.locator("#case")
    expect(case.locator("#case-title")).to_contain_text(f"{number} · 投诉 · 已受理")
    expect(case.locator(".words")).to_have_text(WORDS)
    expect(case.locator("#earlier")).to_contain_text(earlier)
    expect(case).to_contain_text(PHONE)  # the handler calls the customer

    # only the steps the case can take now are offered (the API refuses the others: 409)
    for step in ("#contact-form", "#reply-form", "#close-form"):
        expect(page.locator(step)).to_be_hidden()
    page.get_by_label("处理人").select_option("zhou")
    page.get_by_role("button", name="分派").click()
    expect(case.locator("#case-title")).to_contain_text("已分派专人")
    page.get_by_label("联系客户情况").fill("已电话联系，客户同意等待核查")
    page.get_by_role("button", name="记录联系").click()
    expect(case.locator("#case-title")).to_contain_text("已联系客户")
    page.get_by_label("答复内容").fill("抄表员已批评教育，电量按实抄重新核算")
    page.get_by_role("button", name="记录答复").click()
    expect(case.locator("#case-title")).to_contain_text("已答复")
    page.get_by_label("客户评价").select_option(label="满意")
    page.get_by_role("button", name="办结").click()
    expect(case.locator("#case-title")).to_contain_text("已办结")
    expect(page.locator("#case-actions")).to_be_hidden()
    expect(case.locator(".timeline")).to_contain_text("客户满意")

    with unit_of_work(session_factory) as session:
        ticket = tickets.get_by_no(session, number)
        assert ticket is not None
        assert (ticket.status, ticket.verdict, ticket.handler) == ("closed", "satisfied", "zhou")
        assert [e.status for e in ticket.events] == [
            "received", "assigned", "contacted", "investigating", "replied", "closed",
        ]  # fmt: skip
        assert {e.actor for e in ticket.events[1:]} == {"zhou"}


def test_a_clerk_corrects_a_complaints_category_and_it_stays(
    page: Page, stack: Stack, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(session_factory) as session:
        number = tickets.create_ticket(
            session, settings, type="complaint", description="抄表员乱估电量，电费多收了还骂人",
            now=datetime.now(UTC), contact_phone=PHONE, sender_id="fake:5503", channel="fake",
        ).ticket_no  # fmt: skip
    log_in_as_clerk(page, stack)
    page.locator(f'tr[data-ticket="{number}"]').get_by_role("button", name=number).click()
    case = page.locator("#case")
    # the figures' guess from the words (电费), marked as a guess
    expect(case.locator("#category-now")).to_have_text("电费计量（系统推测）")
    choices = page.get_by_label("更正为")
    expect(choices.locator("option")).to_have_text(
        ["请选择", "抢修服务", "停电问题", "电费计量", "服务态度", "业务办理", "其他"]
    )
    choices.select_option(label="服务态度")
    expect(case.locator("#category-now")).to_have_text("服务态度")
    expect(case.locator("#category-msg")).to_have_text("已更正类别")
    expect(case.locator(".timeline li").last).to_contain_text(
        "类别：电费计量（系统推测） → 服务态度"
    )
    expect(case.locator(".timeline li").last).to_contain_text("zhou")

    page.reload()
    page.locator(f'tr[data-ticket="{number}"]').get_by_role("button", name=number).click()
    expect(case.locator("#case-title")).to_contain_text(number)
    expect(case.locator("#category-now")).to_have_text("服务态度")  # staff's: no longer a guess
    with unit_of_work(session_factory) as session:
        ticket = tickets.get_by_no(session, number)
        assert ticket is not None
        assert (ticket.category, ticket.status) == ("attitude", "received")
        assert [(e.actor, e.note) for e in ticket.events[1:]] == [
            ("zhou", "类别：电费计量（系统推测） → 服务态度")
        ]


def _application(factory: sessionmaker[Session], settings: Settings) -> str:
    with unit_of_work(factory) as session:
        return applications.start(
            session, settings, app_type="name_transfer", now=datetime.now(UTC),
            account=accounts.get_by_no(session, "3301000001"), sender_id="fake:5502",
            channel="fake",
        ).application_no  # fmt: skip


def test_a_clerk_sends_an_application_back_for_a_document_then_approves_it(
    page: Page, stack: Stack, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    number = _application(session_factory, settings)
    log_in_as_clerk(page, stack)
    page.get_by_role("link", name="业务申请").click()
    expect(page).to_have_url(re.compile(r"/console/applications$"))
    page.get_by_label("业务类型").select_option(label="过户（更名）")
    received = page.locator('.stage-group[data-stage="received"]')
    expect(received.locator("h3")).to_contain_text("本环节时限 1 个工作日")
    row = received.locator(f'tr[data-application="{number}"]')
    expect(row).to_contain_text("产权变更证明")
    row.get_by_role("button", name=number).click()
    expect(page.locator("#app-title")).to_contain_text(f"{number} · 过户（更名） · 已受理")

    page.locator("#missing-docs").get_by_label("产权变更证明（购房合同或过户证明）").check()
    page.get_by_label("说明").nth(1).fill("请提供购房合同原件")
    page.get_by_role("button", name="退回补资料").click()
    expect(page.locator("#app-ok")).to_have_text("已退回补资料，已通知客户")
    expect(page.locator("#app-title")).to_contain_text("待补充资料")
    expect(page.locator('li[data-document="transfer_proof"]')).to_contain_text("待补充")
    told = stack.channel.texts()
    assert len(told) == 1
    assert "产权变更证明（购房合同或过户证明）" in told[0]
    assert "请提供购房合同原件" in told[0]
    assert number in told[0]

    # the customer brings it: back to 'received', then approved on to the review
    page.locator("#received-docs").get_by_label("产权变更证明（购房合同或过户证明）").check()
    page.get_by_label("下一环节").select_option(label="已受理")
    page.get_by_role("button", name="推进").click()
    expect(page.locator("#app-title")).to_contain_text("已受理")
    expect(page.locator('li[data-document="transfer_proof"]')).to_contain_text("已收")
    page.get_by_label("审核意见").fill("资料齐全，同意受理")
    page.get_by_role("button", name="审核通过").click()
    expect(page.locator("#app-title")).to_contain_text("资料审核中")
    expect(page.locator("#app-body")).to_contain_text("审核通过：资料齐全，同意受理（zhou")

    with unit_of_work(session_factory) as session:
        app = applications.get_by_no(session, number)
        assert app is not None
        assert [e.stage for e in app.events] == [
            "received", "need_more_docs", "received", "reviewing",
        ]  # fmt: skip
        assert (app.decision, app.decided_by) == ("approved", "zhou")
        assert {e.actor for e in app.events[1:]} == {"zhou"}


def test_a_clerk_finds_a_customer_and_opens_their_page(
    page: Page, stack: Stack, session_factory: sessionmaker[Session]
) -> None:
    log_in_as_clerk(page, stack)
    page.get_by_role("link", name="客户档案").click()
    page.get_by_label("户号、姓名、电话或地址").fill("李秀英")
    page.get_by_role("button", name="查询").click()
    row = page.locator('tr[data-account="3301000002"]')
    expect(row).to_contain_text("139****0002")
    expect(row).not_to_contain_text("13905710002")
    row.get_by_role("button", name="3301000002").click()
    body = page.locator("#customer-body")
    expect(page.locator("#customer-title")).to_have_text("李秀英 · 3301000002")
    expect(body).to_contain_text("13905710002")
    expect(body.locator("table").first.locator("tbody tr")).to_have_count(6)  # recent bills
    expect(body).to_contain_text("联系记录")
    with unit_of_work(session_factory) as session:
        rows = session.scalars(select(AccessAudit)).all()
    assert [(r.username, r.kind, r.account_no) for r in rows] == [
        ("zhou", "customer_record", "3301000002")
    ]

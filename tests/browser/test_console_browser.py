"""The agent console in a real headless Chromium (Debian's, driven by Playwright) against the
real gateway (create_app: router, handoff desk, Telegram channel, console) on SQLite, with the
fake Rasa and the fake Telegram Bot API. Every request the page makes outside the gateway, and
every console error (CSP, Trusted Types), fails the test.

The story: a Telegram customer talks to the bot and is queued for a person; an agent logs in,
claims the chat and replies; the customer gets the reply on Telegram; the customer's next
message reaches the agent's page and Rasa is not asked; the agent hands back; the survey
arrives and the customer's rating is stored with the handoff and the agent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.console import login as console_login
from bot.console import ws as console_ws
from bot.console.state import CONSOLE
from bot.keys import EVENTS, HANDOFF
from store.conversation_refs import mask
from store.db import unit_of_work
from store.models import NluInboxItem, Rating
from tests.browser.harness import GatewayThread, serving, watched_page
from tests.fakes.console import PASSWORD, cheap_password_hashing, make_staff
from tests.fakes.gateway import settings_for
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.slow

CUSTOMER = 424242
CONVERSATION = f"telegram:{CUSTOMER}"
LABEL = mask(CONVERSATION)
"""How the console shows the conversation: staff never see an id in full."""


@dataclass
class Stack:
    fakes: GatewayThread
    """A loop thread for the fake Rasa and the fake Telegram (they are servers of their own)."""
    gateway: GatewayThread
    rasa: FakeRasa
    telegram: FakeTelegram
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.fakes.call(self.telegram.deliver(self.telegram.text_update(text)))

    def sent(self, count: int, within: float = 15) -> list[dict[str, Any]]:
        """The first `count` messages the bot sent the customer (waits for them)."""
        return self.fakes.call(
            self.telegram.wait_for_messages(count, chat_id=CUSTOMER, within=within),
            timeout=within + 5,
        )

    def texts(self) -> list[str]:
        return [str(m.get("text", "")) for m in self.telegram.sent]


@pytest.fixture
def stack(
    db_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    cheap_password_hashing(monkeypatch)
    make_staff(session_factory)
    rasa, telegram = FakeRasa(), FakeTelegram()
    with serving(rasa, telegram) as fakes:
        settings = settings_for(
            rasa,
            db_url,
            telegram_token=telegram.token,
            telegram_api_base_url=telegram.base_url,
            handoff_triggers=False,  # the test queues the chat itself: no time-of-day dependence
            handoff_watch=False,
        )
        gateway = GatewayThread(lambda: create_app(settings)).start()
        try:
            yield Stack(fakes, gateway, rasa, telegram)
        finally:
            gateway.stop()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    with watched_page(
        browser, stack.gateway.url, errors=stack.errors, foreign=stack.foreign
    ) as page:
        yield page


def queue_for_a_person(stack: Stack) -> None:
    async def work() -> None:
        app = stack.gateway.app
        assert app is not None
        await app[HANDOFF].request(CONVERSATION, reason="request_human", detail="客户要求人工")

    stack.gateway.call(work())


def test_agent_takes_a_telegram_chat_replies_and_hands_back(
    page: Page, stack: Stack, session_factory: sessionmaker[Session]
) -> None:
    # the customer talks to the bot, then is queued for a person
    stack.say("你好")
    assert stack.sent(1)[0]["text"] == "收到：你好"
    queue_for_a_person(stack)
    before_login = len(stack.telegram.sent)

    # the agent logs in
    page.goto(stack.gateway.url + "/console")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.get_by_label("用户名").fill("agent1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/console$"))
    expect(page.locator("#live")).to_have_text("实时连接正常")

    # the queue shows the chat with its reason; the transcript has the bot's part and intents
    item = page.locator("#queue .item-button").filter(has_text=LABEL)
    expect(item).to_contain_text("客户要求转人工")
    item.click()
    transcript = page.locator("#transcript")
    expect(transcript.locator(".msg-customer .msg-text").first).to_have_text("你好")
    expect(transcript.locator(".msg-bot .msg-text").first).to_have_text("收到：你好")
    expect(transcript.locator(".msg-customer .msg-intent").first).to_have_text("greet 99%")

    # claim: the customer is told an agent joined
    page.get_by_role("button", name="接入此会话").click()
    expect(page.locator("#mine .item-button").filter(has_text=LABEL)).to_be_visible()
    expect(page.locator("#queue .item-button")).to_have_count(0)
    joined = stack.sent(before_login + 1)[-1]
    assert "已接入" in joined["text"]

    # the reply reaches the customer on Telegram at once
    box = page.get_by_label("回复内容")
    page.get_by_label("常用回复").select_option(label="问候")  # conf/canned_replies.yml
    expect(box).to_have_value("您好，我是供电所客服，请问有什么可以帮您？")
    box.press("Enter")
    expect(box).to_have_value("")
    reply = stack.sent(before_login + 2)[-1]
    assert reply["text"] == "您好，我是供电所客服，请问有什么可以帮您？"
    expect(transcript.locator(".msg-agent .msg-text").last).to_have_text(reply["text"])

    # the customer's next message reaches the agent's page; Rasa is not asked
    asked = stack.rasa.requests
    stack.say("我家停电三天了，<b>快</b>来人")
    expect(transcript.locator(".msg-customer .msg-text").last).to_have_text(
        "我家停电三天了，<b>快</b>来人"
    )
    assert page.locator("#transcript b").count() == 0  # text, never HTML
    assert stack.rasa.requests == asked

    # a private note stays private
    page.get_by_label("备注").fill("老用户，上次投诉过")
    page.get_by_role("button", name="保存备注").click()
    expect(page.locator("#notes .note p")).to_have_text("老用户，上次投诉过")

    # hand back: the customer is told and asked for a rating
    sent_before = len(stack.telegram.sent)
    page.get_by_role("button", name="交还机器人").click()
    expect(page.locator("#mine .item-button")).to_have_count(0)
    returned, survey = stack.sent(sent_before + 2)[sent_before:]
    assert "智能助手" in returned["text"]
    assert [b["text"] for b in FakeTelegram.buttons_of(survey)] == ["1", "2", "3", "4", "5"]
    assert "老用户" not in " ".join(stack.texts())

    stack.say("5")
    thanks = stack.sent(len(stack.telegram.sent) + 1)[-1]
    assert "5" in thanks["text"]
    with unit_of_work(session_factory) as session:
        rating = session.scalars(select(Rating)).one()
        assert (rating.sender_id, rating.rating) == (CONVERSATION, 5)
        assert rating.handoff_id is not None
        assert rating.agent_id is not None
    assert "老用户" not in " ".join(stack.texts())


def test_supervisor_overview_is_live(page: Page, stack: Stack) -> None:
    stack.say("你好")
    stack.sent(1)
    page.goto(stack.gateway.url + "/console/login")
    page.get_by_label("用户名").fill("boss")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/console$"))  # supervisors work chats too
    page.get_by_role("link", name="班长视图").click()
    expect(page).to_have_url(re.compile(r"/console/supervisor$"))
    expect(page.locator("#live")).to_have_text("实时连接正常")
    expect(page.locator("#queue-length")).to_have_text("0")
    queue_for_a_person(stack)  # arrives over the websocket, no reload
    expect(page.locator("#queue-length")).to_have_text("1")
    expect(page.locator("#queue tr")).to_contain_text("客户要求转人工")
    expect(page.locator("#agents tr").filter(has_text="boss的名字")).to_contain_text("0 / 5")
    # logging out from the page ends the session
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.goto(stack.gateway.url + "/console/supervisor")
    expect(page).to_have_url(re.compile(r"/console/login$"))


def test_news_arriving_while_the_logout_is_answered_makes_no_failed_request(
    page: Page, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session ends before the browser leaves the page: a live event in that gap must not
    send a background request that is answered 401 (a console error the harness fails on)."""
    real_logout = console_login._logout

    async def slow_logout(request: Any) -> None:
        await real_logout(request)
        request.app[EVENTS].publish("queue_changed", {})  # the page would refresh in 200 ms
        await asyncio.sleep(1.0)

    monkeypatch.setattr(console_login, "_logout", slow_logout)
    page.goto(stack.gateway.url + "/console/login")
    page.get_by_label("用户名").fill("boss")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="班长视图").click()
    expect(page.locator("#live")).to_have_text("实时连接正常")
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/console/login$"))
    assert stack.errors == []


def test_an_unattended_console_logs_out_and_the_opening_is_on_record(
    page: Page, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_ws, "SESSION_CHECK_SECONDS", 0.2)
    stack.say("你好")
    stack.sent(1)
    queue_for_a_person(stack)
    page.goto(stack.gateway.url + "/console/login")
    page.get_by_label("用户名").fill("agent1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#live")).to_have_text("实时连接正常")
    page.locator("#queue .item-button").filter(has_text=LABEL).click()
    expect(page.locator("#chat-title")).to_have_text(f"Telegram · {LABEL}")
    expect(page.locator("#transcript .msg-customer .msg-text").first).to_have_text("你好")

    # nobody touches the page for longer than the idle timeout: the socket's session check
    # closes it (4401) and the page shows the login; its own timers cannot keep it alive
    app = stack.gateway.app
    assert app is not None
    state = app[CONSOLE]
    real = state.clock
    state.clock = lambda: real() + state.idle + timedelta(minutes=1)
    try:
        expect(page).to_have_url(re.compile(r"/console/login$"), timeout=10_000)
        # the supervisor sees who opened the customer's conversation, and from where
        page.get_by_label("用户名").fill("boss")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(stack.gateway.url + "/console/supervisor")
        rows = page.locator("#access tr").filter(has_text="agent1")
        expect(rows.filter(has_text="会话记录")).to_contain_text(LABEL)
        expect(rows.filter(has_text="客户资料")).to_contain_text("127.0.0.1")
        expect(rows.first).to_contain_text("允许")
    finally:
        state.clock = real


def test_agent_flags_a_wrong_bot_reply(
    page: Page, stack: Stack, session_factory: sessionmaker[Session]
) -> None:
    stack.say("你好")
    stack.sent(1)
    queue_for_a_person(stack)
    page.goto(stack.gateway.url + "/console/login")
    page.get_by_label("用户名").fill("agent1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator("#queue .item-button").filter(has_text=LABEL).click()
    bot_reply = page.locator("#transcript .msg-bot").first
    expect(bot_reply.locator(".msg-text")).to_have_text("收到：你好")
    # the customer's own messages have no such button
    expect(page.locator("#transcript .msg-customer .msg-flag")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept("客户其实在问停电"))
    bot_reply.get_by_role("button", name="答错了").click()
    expect(page.locator("#notice")).to_contain_text("已记录")
    expect(bot_reply.locator(".msg-flag")).to_have_text("已标记")
    expect(bot_reply.locator(".msg-flag")).to_be_disabled()
    with unit_of_work(session_factory) as session:
        item = session.scalars(select(NluInboxItem)).one()
        # counted once: it was in the inbox already as a message before the handoff
        assert (item.text, item.count, item.note) == ("你好", 1, "客户其实在问停电")
        assert item.reasons == ("flagged", "handoff")

"""The web chat in a real headless Chromium (Debian's, driven by Playwright) against the gateway's
web-chat routes and a fake router. Every request the page makes outside the gateway is refused
and fails the test; so do console errors (a CSP or Trusted Types violation shows up there)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.channels import webchat
from bot.messages import Button, Reply
from bot.settings import GatewaySettings
from tests.browser.harness import GatewayThread
from tests.fakes.webchat import BILL, FAULT, FakeRouter, make_app

pytestmark = pytest.mark.slow

MAX_CHARS = 30
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class Gateway:
    router: FakeRouter
    thread: GatewayThread
    gate_open: bool = True
    """False: the websocket path answers 503, as while the gateway restarts."""

    @property
    def url(self) -> str:
        return self.thread.url

    @property
    def channel(self) -> webchat.WebChatChannel:
        assert self.thread.app is not None
        return webchat.channel_of(self.thread.app)

    def drop_connections(self) -> None:
        self.thread.call(self.channel.close_all(grace_seconds=5))

    def push(self, session: str, *replies: Reply) -> None:
        """Messages the bot or an agent starts: stored first (the router's `deliver`), so
        their buttons count as offered (bot/commands.py), then sent."""
        for reply in replies:
            self.router.add_agent_message(f"web:{session}", reply)
        self.thread.call(self.channel.send(session, replies))


@dataclass
class Watch:
    """What the page did that it should not: requests elsewhere, errors."""

    foreign_requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    expected_errors: list[re.Pattern[str]] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected_errors)]


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    router = FakeRouter(slow_seconds=1.5)
    holder: list[Gateway] = []

    @web.middleware
    async def gate(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == "/ws" and not holder[0].gate_open:
            raise web.HTTPServiceUnavailable()
        return await handler(request)

    settings = GatewaySettings(max_text_chars=MAX_CHARS)
    thread = GatewayThread(lambda: make_app(router, settings, [gate]))
    holder.append(Gateway(router, thread))
    thread.start()
    yield holder[0]
    thread.stop()


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def context(browser: Browser, gateway: Gateway, watch: Watch) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    context.set_default_timeout(10_000)

    def only_the_gateway(route: Any) -> None:
        url = route.request.url
        if url.startswith(gateway.url + "/"):
            route.continue_()
        else:
            watch.foreign_requests.append(url)
            route.abort()

    context.route("**/*", only_the_gateway)
    yield context
    context.close()
    assert watch.foreign_requests == [], "the page reached outside the gateway"
    assert watch.unexpected() == [], "console errors"


def open_chat(context: BrowserContext, gateway: Gateway, watch: Watch) -> Page:
    page = context.new_page()
    page.on(
        "console",
        lambda message: watch.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.goto(gateway.url + "/")
    expect(page.locator("#log .msg").first).to_be_visible()
    expect(page.locator("#status")).to_be_hidden()  # connected
    return page


@pytest.fixture
def page(context: BrowserContext, gateway: Gateway, watch: Watch) -> Page:
    return open_chat(context, gateway, watch)


def bubbles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#log .msg .msg-text").all_text_contents()]


def send(page: Page, text: str) -> None:
    page.get_by_label("输入消息").fill(text)
    page.get_by_label("输入消息").press("Enter")


def session_of(page: Page) -> str:
    session = page.evaluate("localStorage.getItem('gds-webchat:session')")
    assert isinstance(session, str)
    assert UUID.match(session)
    return session


# --- the tests ------------------------------------------------------------------------------------


def test_conversation_buttons_and_history(page: Page, gateway: Gateway) -> None:
    expect(page).to_have_title("供电所在线客服")
    expect(page.locator("h1")).to_have_text("供电所在线客服")
    log = page.locator("#log")
    expect(log).to_have_attribute("role", "log")
    expect(log).to_have_attribute("aria-live", "polite")

    send(page, "你好")
    expect(page.locator(".msg-in .msg-text").last).to_have_text("你好")
    expect(page.locator(".msg-out .msg-text").last).to_have_text("收到：你好")
    expect(page.locator(".msg-in.msg-pending")).to_have_count(0)  # acknowledged
    expect(page.get_by_label("输入消息")).to_have_value("")

    page.get_by_role("button", name="查询电费").click()
    expect(page.locator(".msg-in .msg-text").last).to_have_text(
        "查询电费"
    )  # the title, not /query_bill
    expect(page.locator(".msg-out .msg-text").last).to_have_text(BILL)
    expect(page.get_by_role("button", name="报修停电")).to_be_disabled()  # stale now
    assert gateway.router.texts() == ["你好", "/query_bill"]
    inbound = gateway.router.inbound[-1]
    assert inbound.conversation_id == f"web:{session_of(page)}"
    assert inbound.language == "zh"
    assert inbound.external_id is not None
    assert UUID.match(inbound.external_id)

    page.reload()
    expect(page.locator(".msg-out .msg-text").last).to_have_text(BILL)
    assert bubbles(page) == ["你好", "收到：你好", "查询电费", BILL]
    assert gateway.router.texts() == ["你好", "/query_bill"]  # nothing resent


def test_buttons_of_the_latest_reply_stay_usable_after_reload(page: Page, gateway: Gateway) -> None:
    send(page, "我要报修")
    expect(page.get_by_role("button", name="报修停电")).to_be_enabled()
    page.reload()
    expect(page.locator(".msg-out .msg-text").last).to_have_text("收到：我要报修")
    page.get_by_role("button", name="报修停电").click()
    expect(page.locator(".msg-out .msg-text").last).to_have_text(FAULT)


def test_text_is_shown_as_text_never_as_html(page: Page, gateway: Gateway) -> None:
    attack = "<img src=x onerror=f()><b>粗"  # within the page's 30-character limit
    send(page, attack)
    expect(page.locator(".msg-out .msg-text").last).to_have_text(f"收到：{attack}")
    expect(page.locator(".msg-in .msg-text").last).to_have_text(attack)
    assert page.locator("#log img, #log b").count() == 0
    expect(page).to_have_title("供电所在线客服")


def test_english_toggle(page: Page, gateway: Gateway) -> None:
    toggle = page.locator("#language")
    expect(toggle).to_have_text("English")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_text("中文")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Power Supply Station Online Service")
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.get_by_label("Message")).to_have_attribute("placeholder", re.compile("question"))

    page.get_by_label("Message").fill("my bill")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".msg-out .msg-text").last).to_have_text("收到：my bill")
    assert gateway.router.inbound[-1].language == "en"

    page.reload()  # the choice is remembered
    expect(page.locator("#send")).to_have_text("Send")
    page.locator("#language").click()
    expect(page.locator("h1")).to_have_text("供电所在线客服")
    send(page, "中文")
    expect(page.locator(".msg-out .msg-text").last).to_have_text("收到：中文")
    assert gateway.router.inbound[-1].language == "zh"


def test_input_limit_counter_and_keys(page: Page, gateway: Gateway) -> None:
    box = page.get_by_label("输入消息")
    counter = page.locator("#counter")
    expect(counter).to_have_text(f"0/{MAX_CHARS}")
    expect(page.locator("#send")).to_be_disabled()
    box.fill("电" * MAX_CHARS)
    expect(counter).to_have_text(f"{MAX_CHARS}/{MAX_CHARS}")
    expect(page.locator("#send")).to_be_enabled()
    box.fill("电" * (MAX_CHARS + 2))
    expect(counter).to_contain_text(f"{MAX_CHARS + 2}/{MAX_CHARS}")
    expect(counter).to_have_class(re.compile("is-over"))
    expect(page.locator("#send")).to_be_disabled()
    box.press("Enter")
    box.fill("第一行")
    box.press("Shift+Enter")
    box.press_sequentially("第二行")
    expect(box).to_have_value("第一行\n第二行")
    assert gateway.router.inbound == []
    box.press("Enter")
    expect(page.locator(".msg-in .msg-text").last).to_have_text("第一行\n第二行")
    expect(page.locator(".msg-out")).to_have_count(2)  # the welcome and the reply


def test_typing_dots_while_the_bot_works(page: Page, gateway: Gateway) -> None:
    send(page, "slow")
    expect(page.locator("#typing")).to_be_visible()
    expect(page.locator(".msg-out .msg-text").last).to_have_text("收到：slow")
    expect(page.locator("#typing")).to_be_hidden()


def test_reconnects_and_resends_what_was_queued(page: Page, gateway: Gateway, watch: Watch) -> None:
    watch.expected_errors.append(re.compile(r"WebSocket connection to .* failed"))
    gateway.gate_open = False
    gateway.drop_connections()
    status = page.locator("#status")
    expect(status).to_have_text("重新连接中…")
    send(page, "断线时发的")
    expect(page.locator(".msg-in.msg-pending .msg-text")).to_have_text("断线时发的")
    assert gateway.router.inbound == []

    gateway.gate_open = True
    expect(status).to_be_hidden(timeout=20_000)
    expect(page.locator(".msg-out .msg-text").last).to_have_text("收到：断线时发的")
    expect(page.locator(".msg-in.msg-pending")).to_have_count(0)
    assert gateway.router.texts() == ["断线时发的"]


def test_agent_messages_reach_every_tab(
    context: BrowserContext, page: Page, gateway: Gateway, watch: Watch
) -> None:
    second = open_chat(context, gateway, watch)  # same browser: same session
    session = session_of(page)
    assert session_of(second) == session
    gateway.thread.call(gateway.channel.typing(session))
    for tab in (page, second):
        expect(tab.locator("#typing")).to_be_visible()
    gateway.push(session, Reply("人工客服小王为您服务。", (Button("好的", "/affirm"),)))
    for tab in (page, second):
        expect(tab.locator(".msg-out .msg-text").last).to_have_text("人工客服小王为您服务。")
        expect(tab.locator("#typing")).to_be_hidden()
    second.get_by_role("button", name="好的").click()
    expect(second.locator(".msg-out .msg-text").last).to_have_text("收到：/affirm")


def test_phone_sized_screen(browser: Browser, gateway: Gateway, watch: Watch) -> None:
    context = browser.new_context(
        viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    try:
        page = open_chat(context, gateway, watch)
        send(page, "户号" + "3301000001" * 2)
        expect(page.locator(".msg-out .msg-text").last).to_contain_text("收到：户号")
        long_line = "3301000001" * 20  # a long unbroken number must wrap, not scroll
        gateway.push(session_of(page), Reply(long_line, (Button("户号" + long_line, "/x"),)))
        expect(page.locator(".msg-out .msg-text").last).to_have_text(long_line)
        for selector in ("#input", "#send", "#language", "h1"):
            box = page.locator(selector).bounding_box()
            assert box is not None, selector
            assert box["x"] >= 0, selector
            assert box["x"] + box["width"] <= 360, selector
            assert box["y"] + box["height"] <= 640, selector
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]"
        )
        assert max(widths[:2]) <= widths[2] == 360
        log_width = page.evaluate(
            "(l => [l.scrollWidth, l.clientWidth])(document.getElementById('log'))"
        )
        assert log_width[0] <= log_width[1]
    finally:
        context.close()
    assert watch.foreign_requests == []
    assert watch.unexpected() == []

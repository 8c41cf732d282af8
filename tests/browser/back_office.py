"""What the back office's browser stories share (repairs: test_dispatch_browser.py; cases:
test_cases_browser.py): the real gateway on the test database with a fake Rasa and the story's
staff, a watched page on it, and logging in through the console's form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.keys import CORE_ROUTER
from tests.browser.harness import GatewayThread, serving, watched_page
from tests.fakes.console import PASSWORD, cheap_password_hashing, make_staff
from tests.fakes.gateway import RecordingChannel, settings_for
from tests.fakes.rasa import FakeRasa

DESKTOP = (1280, 860)


@dataclass
class Stack:
    gateway: GatewayThread
    channel: RecordingChannel
    """the customers' chats (registered only when the story asked for them)"""
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def page(
        self, browser: Browser, viewport: tuple[int, int] = DESKTOP
    ) -> AbstractContextManager[Page]:
        """A page that may reach only this gateway and must log no error."""
        return watched_page(
            browser, self.gateway.url, errors=self.errors, foreign=self.foreign, viewport=viewport
        )

    def log_in(self, page: Page, username: str, lands_on: str) -> None:
        """Log in through the form; the console sends each role to its own page (`lands_on`)."""
        page.goto(self.gateway.url + "/console/login")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page).to_have_url(re.compile(lands_on + "$"))


@contextmanager
def back_office(
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    staff: dict[str, tuple[str, int]],
    *,
    chats: bool = False,
) -> Iterator[Stack]:
    """The gateway (no channels of its own) with `staff` (username: (role, chat limit)); with
    `chats`, the stack's recording channel delivers the customers' messages."""
    cheap_password_hashing(monkeypatch)
    make_staff(session_factory, staff)
    rasa, channel = FakeRasa(), RecordingChannel("fake")

    def make_app() -> web.Application:
        return create_app(settings_for(rasa, db_url), channels=False)

    async def listen(app: web.Application) -> None:
        app[CORE_ROUTER].register(channel)

    with serving(rasa):
        gateway = GatewayThread(make_app).start()
        try:
            if chats:
                assert gateway.app is not None
                gateway.call(listen(gateway.app))
            yield Stack(gateway, channel)
        finally:
            gateway.stop()

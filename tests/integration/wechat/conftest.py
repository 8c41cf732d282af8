"""The WeChat channel's tests: the real gateway on a test database (SQLite and PostgreSQL)
with the channel, in front of the fake Rasa and the fake WeChat API, and WeChat's push side
posting real signed (and, in safe mode, encrypted) XML (tests/fakes/wechat_*.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.fakes.loopback import running
from tests.fakes.rasa import FakeRasa
from tests.fakes.wechat_api import FakeWeChat
from tests.fakes.wechat_gateway import (
    WeChatGateway,
    wechat_config,
    wechat_gateway,
    wechat_settings,
)

OPENID = "oPz3a5Wbq1cT8xYvE2nR4kL6mJ9s"


@pytest.fixture
async def fake_wechat() -> AsyncIterator[FakeWeChat]:
    async with running(FakeWeChat()) as fake:
        yield fake


Start = Callable[..., AbstractAsyncContextManager[WeChatGateway]]


@pytest.fixture
def start(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    fake_wechat: FakeWeChat,
) -> Start:
    """`async with start(mode=..., **changes) as gateway`: a gateway (several may share the
    database) with conf/wechat.yml changed as asked, in that security mode (default safe)."""

    def gateway(mode: str = "safe", **changes: Any) -> AbstractAsyncContextManager[WeChatGateway]:
        settings = wechat_settings(rasa, db_url, fake_wechat)
        return wechat_gateway(settings, wechat_config(**changes), fake_wechat, mode=mode)

    return gateway


@pytest.fixture
async def gateway(start: Start) -> AsyncIterator[WeChatGateway]:
    """The gateway in safe mode (AES), as a station should run it."""
    async with start() as running_gateway:
        yield running_gateway

"""The Telegram channel's tests: the fake Bot API, the fake router and a quick channel config
(tests/fakes/telegram_channel.py runs the channel in a minimal gateway app)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from bot.channels.telegram.config import TelegramConfig, load_telegram_config
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_channel import FakeRouter


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
def router() -> FakeRouter:
    return FakeRouter()


@pytest.fixture
def config() -> TelegramConfig:
    return dataclasses.replace(load_telegram_config(), typing_interval=0.05, poll_timeout=1)

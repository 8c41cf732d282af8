"""The Telegram channel's start-up errors say what was wrong, against the fake Bot API:

- 401 from getMe (a well-formed token Telegram does not know): the token;
- 404 (a base URL that is not a Bot API server's root, or a malformed token): both, with the
  URL that was asked and the token masked, and which of the two to check first;
- TELEGRAM_API_BASE_URL ending in /bot (python-telegram-bot's own base_url form) is accepted:
  the suffix is removed, and said so in the log.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest
from aiohttp.test_utils import TestServer

from bot.channels.telegram.config import TelegramConfig
from bot.channels.telegram.startup import api_root, masked
from bot.settings import ConfigError, GatewaySettings
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_channel import FakeRouter, make_app, settings_for

WRONG_TOKEN = "7012345678:AAWrongTokenWrongTokenWrongToken123"
SECRET_PART = WRONG_TOKEN.partition(":")[2]


async def start_error(settings: GatewaySettings, router: FakeRouter, config: TelegramConfig) -> str:
    server = TestServer(make_app(settings, router, config))
    try:
        with pytest.raises(ConfigError) as refused:
            await server.start_server()
    finally:
        await server.close()
    return str(refused.value)


async def test_a_token_telegram_does_not_know_is_named_as_the_token(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig, caplog: pytest.LogCaptureFixture
) -> None:
    settings = dataclasses.replace(settings_for(fake, "polling"), telegram_token=WRONG_TOKEN)
    message = await start_error(settings, router, config)
    assert message.startswith("TELEGRAM_BOT_TOKEN was rejected by the Bot API (401 Unauthorized")
    assert f"{fake.base_url}/bot7012345678:***/getMe" in message
    assert "@BotFather" in message
    assert "TELEGRAM_API_BASE_URL" not in message  # the URL is fine: not sent after it
    assert SECRET_PART not in message + caplog.text


async def test_a_base_url_that_is_no_bot_api_root_gets_404_and_both_are_named(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """A reverse proxy's path, a typo, anything answering 404 to /bot<token>/getMe."""
    wrong_base = f"{fake.base_url}/telegram-api"
    settings = dataclasses.replace(settings_for(fake, "polling"), telegram_api_base_url=wrong_base)
    message = await start_error(settings, router, config)
    assert message.startswith(
        f"the Bot API answered 404 Not Found at {wrong_base}/bot7012345678:***/getMe:"
        " the base URL or the token is wrong."
    )
    assert f"TELEGRAM_API_BASE_URL ({wrong_base}) must be the root of a Bot API server" in message
    assert "TELEGRAM_BOT_TOKEN must be the token @BotFather gave" in message
    assert message.endswith("the token looks like one, so check the base URL first")
    assert fake.token.partition(":")[2] not in message + caplog.text
    assert not fake.calls_of("getMe")  # nothing reached the Bot API's methods


async def test_a_malformed_token_gets_404_and_the_token_is_to_check_first(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    settings = dataclasses.replace(settings_for(fake, "polling"), telegram_token="not-a-token")
    message = await start_error(settings, router, config)
    assert "404 Not Found" in message
    assert f"{fake.base_url}/bot***/getMe" in message
    assert message.endswith("the token does not look like one, so check it first")


@pytest.mark.parametrize("suffix", ["/bot", "/bot/"])
async def test_a_base_url_ending_in_bot_is_accepted_without_the_suffix(
    suffix: str,
    fake: FakeTelegram,
    router: FakeRouter,
    config: TelegramConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.channels.telegram.startup")
    settings = dataclasses.replace(
        settings_for(fake, "polling"), telegram_api_base_url=fake.base_url + suffix
    )
    app = make_app(settings, router, config)
    server = TestServer(app)
    try:
        await server.start_server()
        await fake.wait_for_calls("getUpdates", within=10)
        assert fake.calls_of("getMe")
        assert "TELEGRAM_API_BASE_URL ends in /bot" in caplog.text
        assert f"using {fake.base_url}, the Bot API server's root" in caplog.text
    finally:
        await server.close()


def test_the_api_root_and_the_masked_token() -> None:
    assert api_root(None) is None
    assert api_root(" https://api.telegram.org/ ") == "https://api.telegram.org"
    assert api_root("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081"
    assert api_root("http://host/botapi") == "http://host/botapi"  # only a whole /bot segment
    assert masked(WRONG_TOKEN) == "7012345678:***"
    assert masked("garbage") == "***"

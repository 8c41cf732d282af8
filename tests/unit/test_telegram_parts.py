"""The Telegram channel's pure parts: text mapping, splitting, settings, config, log redaction."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from telegram import Message, User

from bot.channels.telegram.channel import split_text
from bot.channels.telegram.config import load_telegram_config, pick
from bot.channels.telegram.mapping import (
    attachment_of,
    language_hint,
    location_of,
    routed_text,
    update_kind,
)
from bot.channels.telegram.service import RedactToken, check_settings
from bot.settings import ConfigError, GatewaySettings
from store.configuration.yamlfile import ConfigError as YamlConfigError
from store.configuration.yamlfile import Label

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {"start": Label("你好", "hi"), "help": Label("你能帮我做什么", "what can you do")}


def message(**content: Any) -> Message:
    data = {
        "message_id": 1,
        "date": 1_790_000_000,
        "chat": {"id": 1, "type": "private", "first_name": "A"},
        "from": {"id": 1, "is_bot": False, "first_name": "A"},
        **content,
    }
    return Message.de_json(data, None)


@pytest.mark.parametrize(
    ("text", "language", "routed"),
    [
        ("  停电了 ", None, "停电了"),
        ("/start", None, "你好"),
        ("/start", "en", "hi"),
        ("/START", None, "你好"),
        ("/start@qingxi_power_bot", None, "你好"),
        ("/start poster_2026", None, "你好"),
        ("/help", "en", "what can you do"),
        ("/request_human", None, "request_human"),
        ('/inform{"account_no": "3301000001"}', None, 'inform{"account_no": "3301000001"}'),
        ("//affirm", None, "affirm"),
        ("/", None, ""),
        ("电费/水费", None, "电费/水费"),
    ],
)
def test_routed_text(text: str, language: str | None, routed: str) -> None:
    assert routed_text(text, COMMANDS, language) == routed


@pytest.mark.parametrize(
    ("code", "hint"),
    [("en", "en"), ("en-GB", "en"), ("EN-us", "en"), ("zh-hans", None), ("ru", None), (None, None)],
)
def test_language_hint(code: str | None, hint: str | None) -> None:
    user = User(id=1, first_name="A", is_bot=False, language_code=code)
    assert language_hint(user) == hint
    assert language_hint(None) is None


def test_pick() -> None:
    label = Label("中文", "English")
    assert pick(label, "en") == "English"
    assert pick(label, "zh") == "中文"
    assert pick(label, None) == "中文"


def test_split_text() -> None:
    assert split_text("") == []
    assert split_text("  短  ") == ["短"]
    lines = "\n".join(f"第{i}行：抢修人员已出发" for i in range(600))
    chunks = split_text(lines)
    assert len(chunks) > 1
    assert all(0 < len(c) <= 4096 for c in chunks)
    assert "\n".join(chunks) == lines  # cut at line breaks, nothing lost
    solid = "电" * 10_000
    assert "".join(split_text(solid)) == solid
    assert [len(c) for c in split_text(solid)] == [4096, 4096, 1808]
    assert split_text("abc def", limit=4) == ["abc", "def"]


def test_attachment_of_picks_the_largest_photo_and_keeps_only_file_facts() -> None:
    msg = message(
        photo=[
            {"file_id": "small", "file_unique_id": "a", "width": 90, "height": 90},
            {"file_id": "big", "file_unique_id": "b", "width": 900, "height": 900},
        ],
        caption="电表",
    )
    attachment = attachment_of(msg)
    assert attachment is not None
    assert attachment.kind == "photo"
    assert attachment.data == {"file_id": "big", "file_unique_id": "b", "width": 900, "height": 900}


def test_attachment_of_text_and_service_messages_is_none() -> None:
    assert attachment_of(message(text="你好")) is None
    assert attachment_of(message(new_chat_title="x")) is None
    assert location_of(message(text="你好")) is None


def test_animation_is_a_video_not_a_document() -> None:
    animation = {"file_id": "g", "file_unique_id": "g", "width": 1, "height": 1, "duration": 1}
    attachment = attachment_of(message(animation=animation, document=animation))
    assert attachment is not None
    assert attachment.kind == "video"
    assert attachment.data["telegram_type"] == "animation"


def test_location_of() -> None:
    loc = location_of(message(location={"latitude": 30.05, "longitude": 119.46, "live_period": 60}))
    assert loc == (30.05, 119.46, {"latitude": 30.05, "longitude": 119.46, "live_period": 60})


def test_update_kind() -> None:
    assert update_kind({"update_id": 1, "message": {}}) == "message"
    assert update_kind({"update_id": 1}) == "empty"


def settings(**kwargs: Any) -> GatewaySettings:
    return GatewaySettings(telegram_token="1:x", **kwargs)


def test_check_settings() -> None:
    assert check_settings(settings()) is None
    path = check_settings(
        settings(
            telegram_webhook_url="https://bot.example.org/tg/hook?x=1",
            telegram_webhook_secret="a-B_9",
        )
    )
    assert path == "/tg/hook"
    root = check_settings(
        settings(telegram_webhook_url="https://bot.example.org", telegram_webhook_secret="s")
    )
    assert root == "/"


@pytest.mark.parametrize(
    ("url", "secret", "message"),
    [
        ("https://bot.example.org/hook", None, "TELEGRAM_WEBHOOK_SECRET"),
        ("https://bot.example.org/hook", "has space", "TELEGRAM_WEBHOOK_SECRET"),
        ("https://bot.example.org/hook", "x" * 257, "TELEGRAM_WEBHOOK_SECRET"),
        ("https://bot.example.org/hook", "密码", "TELEGRAM_WEBHOOK_SECRET"),
        ("bot.example.org/hook", "s", "TELEGRAM_WEBHOOK_URL"),
        ("ftp://bot.example.org/hook", "s", "TELEGRAM_WEBHOOK_URL"),
    ],
)
def test_check_settings_refuses(url: str, secret: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        check_settings(settings(telegram_webhook_url=url, telegram_webhook_secret=secret))
    # the entry point reports configuration-file errors too: either way, no traceback
    assert isinstance(error.value, YamlConfigError)


def test_redact_token(caplog: pytest.LogCaptureFixture) -> None:
    token = "7012345678:AAFakeTokenForTestsOnly_abcdefghijk"
    log = logging.getLogger("tests.redact")
    redact = RedactToken(token)
    log.addFilter(redact)
    try:
        with caplog.at_level(logging.INFO, logger="tests.redact"):
            log.info("HTTP Request: POST %s/getUpdates", f"https://api.telegram.org/bot{token}")
            log.info("masked id, secret left: bot70******78:%s", token.partition(":")[2])
            log.info("nothing secret %s", 42)
    finally:
        log.removeFilter(redact)
    assert "AAFakeToken" not in caplog.text
    assert "https://api.telegram.org/bot<bot-token>/getUpdates" in caplog.text
    assert "nothing secret 42" in caplog.text


def test_conf_telegram_loads() -> None:
    config = load_telegram_config(ROOT / "conf")
    assert config.commands["start"] == Label("你好", "hi")
    assert "私聊" in config.group_declined
    assert "private" in config.group_declined
    assert config.typing_interval == 4
    assert config.poll_timeout == 30
    assert {p.name for p in config.places} >= {"东山村", "云雾村"}
    for label in (config.edited_message, config.stale_button, config.location_outside):
        assert label.zh
        assert label.en
    assert len(config.stale_button.zh) <= 200
    assert len(config.stale_button.en) <= 200


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("typing_interval_seconds: 4", "typing_interval_seconds: 0", "typing_interval_seconds"),
        ("poll_timeout_seconds: 30", "poll_timeout_seconds: soon", "poll_timeout_seconds"),
        ("  start: {zh: 你好, en: hi}", "  start: {zh: 你好}", "commands.start.en is missing"),
        ('  buttons_only: "👇"', "", "texts.buttons_only is missing"),
    ],
)
def test_conf_telegram_errors_name_the_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    path = conf / "telegram.yml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(YamlConfigError, match=re.escape(message)):
        load_telegram_config(conf)

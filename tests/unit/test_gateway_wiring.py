"""create_app wires the core and the channels without doing any I/O; settings from the
environment."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import create_app
from bot.keys import ROUTER, SETTINGS
from bot.settings import ConfigError, GatewaySettings


def _fake_channel(calls: list[str], name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    def setup(app: web.Application) -> None:
        assert SETTINGS in app
        calls.append(name)

    module.setup = setup  # type: ignore[attr-defined]
    return module


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    for name in ("bot.channels.webchat", "bot.channels.telegram", "bot.channels.wechat"):
        monkeypatch.setitem(sys.modules, name, _fake_channel(made, name))
    return made


def test_web_chat_always_telegram_only_with_a_token(calls: list[str]) -> None:
    app = create_app(GatewaySettings())
    assert calls == ["bot.channels.webchat"]
    assert ROUTER not in app  # the router is made at start-up, not before
    assert app[SETTINGS] == GatewaySettings()
    create_app(GatewaySettings(telegram_token="123:abc"))
    assert calls == ["bot.channels.webchat", "bot.channels.webchat", "bot.channels.telegram"]
    create_app(GatewaySettings(telegram_token="123:abc"), channels=False)
    assert len(calls) == 3


def test_wechat_only_with_an_app_id(calls: list[str]) -> None:
    create_app(GatewaySettings(wechat_app_id="wx51fa4e0cd2b7a913"))
    assert calls == ["bot.channels.webchat", "bot.channels.wechat"]
    create_app(GatewaySettings(wechat_app_id="wx51fa4e0cd2b7a913"), channels=False)
    assert len(calls) == 2


def test_a_missing_channel_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "bot.channels.webchat", None)  # import fails
    monkeypatch.setitem(sys.modules, "bot.channels.telegram", types.ModuleType("no_setup"))
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        app = create_app(GatewaySettings(telegram_token="123:abc"))
    assert isinstance(app, web.Application)
    assert "bot.channels.webchat not available" in caplog.text
    assert "bot.channels.telegram not available" in caplog.text


def test_routes_and_body_limit(calls: list[str]) -> None:
    app = create_app(GatewaySettings(max_body_bytes=1234))
    assert app._client_max_size == 1234
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    assert {"/health", "/api/v1/messages", "/api/v1/conversations/{conversation_id}/messages"} <= (
        paths
    )


def test_settings_from_env() -> None:
    settings = GatewaySettings.from_env(
        {
            "GATEWAY_PORT": "9090",
            "RASA_URL": "http://rasa:5005/",
            "RASA_TIMEOUT": "2.5",
            "GATEWAY_API_TOKEN": "t0k",
            "MAX_TEXT_CHARS": "500",
            "ACTION_SERVER_URL": "http://actions:5055/",
            "NOTIFY_INTERVAL": "0",
            "GATEWAY_MAX_BODY_BYTES": "2048",
            "CONF_DIR": "/etc/assistant",
        }
    )
    assert (settings.port, settings.rasa_url, settings.rasa_timeout) == (
        9090,
        "http://rasa:5005",
        2.5,
    )
    assert (settings.api_token, settings.max_text_chars) == ("t0k", 500)
    assert settings.action_server_url == "http://actions:5055"
    assert (settings.notify_interval, settings.max_body_bytes) == (0.0, 2048)
    assert settings.conf_dir == Path("/etc/assistant")
    defaults = GatewaySettings.from_env({})
    assert defaults.api_token is None
    assert defaults.action_server_url == "http://127.0.0.1:5055"
    assert defaults.conf_dir is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RASA_TIMEOUT", "0"),
        ("RASA_TIMEOUT", "soon"),
        ("MAX_TEXT_CHARS", "0"),
        ("GATEWAY_MAX_BODY_BYTES", "-1"),
        ("GATEWAY_SHUTDOWN_TIMEOUT", "0"),
    ],
)
def test_bad_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        GatewaySettings.from_env({name: value})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.20", "gateway.example.cn"])
def test_an_api_reachable_from_other_machines_needs_a_token(host: str) -> None:
    """The JSON API shows any sender's conversation: listening beyond loopback without
    GATEWAY_API_TOKEN is refused at start-up, with what to do."""
    with pytest.raises(ConfigError, match="GATEWAY_API_TOKEN"):
        GatewaySettings.from_env({"GATEWAY_HOST": host})
    assert GatewaySettings.from_env({"GATEWAY_HOST": host, "GATEWAY_API_TOKEN": "t"}).host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_a_loopback_gateway_may_run_without_a_token(host: str) -> None:
    assert GatewaySettings.from_env({"GATEWAY_HOST": host}).api_token is None

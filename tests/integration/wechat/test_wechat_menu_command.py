"""`python -m bot.channels.wechat menu|check` against the fake WeChat API, sharing the access
token through the test database like the gateway; SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.wechat.cli import main
from bot.channels.wechat.config import load_wechat_config
from tests.fakes.loopback import serve_in_thread
from tests.fakes.wechat_api import FakeWeChat


@pytest.fixture
def fake(
    db_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeWeChat]:
    with serve_in_thread(FakeWeChat()) as server:
        monkeypatch.setenv("DATABASE_URL", db_url)
        monkeypatch.setenv("WECHAT_APP_ID", server.app_id)
        monkeypatch.setenv("WECHAT_APP_SECRET", server.app_secret)
        monkeypatch.setenv("WECHAT_API_BASE_URL", server.url)
        yield server


def test_the_menu_is_shown_and_created_from_the_configuration(
    fake: FakeWeChat, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["menu", "--dry-run"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert fake.menus == []
    assert main(["menu"]) == 0
    assert fake.menus == [shown] == [load_wechat_config().menu.as_json()]
    assert "菜单已创建" in capsys.readouterr().out


def test_check_shares_the_token_and_says_what_is_wrong(
    fake: FakeWeChat, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0
    assert main(["check"]) == 0
    assert fake.token_requests == 1  # the second run read it from the database
    assert "客服消息接口今日剩余 500000/500000" in capsys.readouterr().out
    fake.revoke_tokens()  # the stored token is refused: a new one is asked for, and refused
    fake.whitelisted = False
    assert main(["check"]) == 1
    assert "40164" in capsys.readouterr().err


def test_a_menu_wechat_refuses_is_explained(
    fake: FakeWeChat, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail_next = [48001]
    assert main(["menu"]) == 1
    assert "公众平台 → 自定义菜单" in capsys.readouterr().err


def test_without_the_secrets_the_command_says_which(
    fake: FakeWeChat, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WECHAT_APP_SECRET")
    assert main(["check"]) == 3
    assert "WECHAT_APP_SECRET" in capsys.readouterr().err

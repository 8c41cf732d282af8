"""Unit tests of the handoff's parts: the event hub, conf/handoff.yml, ratings parsing, hours."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.events import EventHub
from bot.handoff.config import load_handoff_config
from bot.handoff.survey import parse_rating
from store.config import default_conf_dir
from store.configuration.yamlfile import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_every_subscriber_gets_every_event_in_order() -> None:
    hub = EventHub()
    a = hub.subscribe()
    b = hub.subscribe(("alert",))
    hub.publish("message_in", {"text": "停电了"}, conversation_id="fake:1")
    hub.publish("alert", {"reason": "safety_hazard"}, conversation_id="fake:2")
    assert [e.kind for e in a.pending()] == ["message_in", "alert"]
    [alert] = b.pending()
    assert alert.as_json()["type"] == "alert"
    assert alert.as_json()["conversation_id"] == "fake:2"
    assert alert.as_json()["reason"] == "safety_hazard"
    with pytest.raises(ValueError, match="unknown event kinds"):
        hub.subscribe(("nope",))


async def test_async_iteration_and_close() -> None:
    hub = EventHub()
    seen: list[str] = []

    async def reader() -> None:
        async with hub.subscribe() as events:
            async for event in events:
                seen.append(event.data["text"])
                if len(seen) == 2:
                    break

    task = asyncio.create_task(reader())
    await asyncio.sleep(0)
    assert hub.subscriber_count == 1
    hub.publish("message_out", {"text": "a"})
    hub.publish("message_out", {"text": "b"})
    await asyncio.wait_for(task, 2)
    assert seen == ["a", "b"]
    assert hub.subscriber_count == 0  # closed on leaving the block

    sub = hub.subscribe()
    sub.close()
    assert await sub.get() is None
    hub.publish("queue_changed", {"queued": 1})  # no error with nobody listening


async def test_a_slow_subscriber_loses_the_oldest_and_is_marked() -> None:
    hub = EventHub(queue_size=2)
    slow = hub.subscribe()
    for n in range(5):
        hub.publish("queue_changed", {"queued": n})
    assert slow.lagged
    assert [e.data["queued"] for e in slow.pending()] == [3, 4]


def test_parse_rating() -> None:
    assert parse_rating('/rate_service{"rating": 4}') == 4
    assert parse_rating("5") == 5
    assert parse_rating(" 3分 ") == 3
    assert parse_rating('/rate_service{"rating": 9}') is None
    assert parse_rating("/rate_service{oops}") is None
    assert parse_rating("我家5号停电") is None
    assert parse_rating("12") is None


def test_configuration_and_hours() -> None:
    config = load_handoff_config(default_conf_dir())
    assert config.in_service_hours(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))  # Monday
    assert not config.in_service_hours(datetime(2026, 11, 23, 18, 0, tzinfo=SHANGHAI))
    assert not config.in_service_hours(datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI))  # Sunday
    assert config.in_service_hours(datetime(2026, 11, 21, 3, 30, tzinfo=ZoneInfo("UTC")))  # Sat
    assert config.hours_text("en") == "Mon-Fri 08:30-17:30, Sat 09:00-12:00"
    assert "{" not in config.text("queued", "zh", position=1)
    assert config.triggers.off().request_human is False


def test_an_unknown_placeholder_stops_start_up(tmp_path: Path) -> None:
    shutil.copy(default_conf_dir() / "handoff.yml", tmp_path / "handoff.yml")
    path = tmp_path / "handoff.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("{position}位", "{posiiton}位"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"texts\.queued\.zh: unknown placeholder \{posiiton\}"):
        load_handoff_config(tmp_path)


def test_handoff_switches_from_the_environment() -> None:
    from bot.settings import ConfigError as SettingsError
    from bot.settings import GatewaySettings

    default = GatewaySettings.from_env({})
    assert (default.handoff_triggers, default.handoff_watch) == (True, True)
    off = GatewaySettings.from_env({"HANDOFF_TRIGGERS": "0", "HANDOFF_WATCH": "false"})
    assert (off.handoff_triggers, off.handoff_watch) == (False, False)
    with pytest.raises(SettingsError, match="HANDOFF_WATCH"):
        GatewaySettings.from_env({"HANDOFF_WATCH": "maybe"})


async def test_the_watcher_runs_passes_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace
    from typing import Any

    from bot.handoff.desk import HandoffDesk
    from store.config import load_settings

    config = replace(load_handoff_config(default_conf_dir()), watch_interval=0.01)
    desk = HandoffDesk(
        factory=None,  # type: ignore[arg-type]  # never used: watch_once is replaced
        events=EventHub(),
        config=config,
        store_settings=load_settings(),
    )
    passes: list[int] = []

    async def fake_pass(*_: Any) -> None:
        passes.append(1)
        if len(passes) == 2:
            raise RuntimeError("one bad pass must not stop the watcher")

    monkeypatch.setattr(desk, "watch_once", fake_pass)
    desk.start()
    for _ in range(200):
        if len(passes) >= 4:
            break
        await asyncio.sleep(0.01)
    await desk.stop(1.0)
    assert len(passes) >= 4
    count = len(passes)
    await asyncio.sleep(0.05)
    assert len(passes) == count  # stopped

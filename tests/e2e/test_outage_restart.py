"""A gateway restart in the middle of an outage notice's fan-out (issue 19): a few hundred
Telegram subscribers (made in the database), a planned outage published on the console's API,
the gateway stopped (SIGTERM, as a deploy does) while the notices go out at Telegram's pace, a
new gateway started on the same database: every subscriber is told exactly once, and the
queue's rows say so too.

The real servers of the session's stack (tests/e2e/conftest.py), the fake Bot API; the
integration tier (tests/integration/outages/test_outage_delivery.py) covers the crash (a
killed gateway whose claims wait for their lease) with a controllable clock.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.conftest import Gateway, Stack, running_gateway
from tests.e2e.outage_support import (
    UNSUBSCRIBE,
    UNSUBSCRIBED,
    OutageDesk,
    active_areas,
    at,
    close_outages,
    create_staff,
    deliveries,
    end_subscriptions,
    gateway_env_for,
    press_on_telegram,
    subscribe_all,
)
from tests.fakes.gateway import eventually
from tests.fakes.telegram_api import FakeTelegram

VILLAGE = "高岭村"
SUBSCRIBERS = 300
"""At Telegram's pace (conf/outages.yml: 25 a second) about 12 seconds of sending."""
STOP_AFTER = 60
FIRST_CHAT = 7_500_000


@pytest.fixture
def gateway_env(tmp_path: Path) -> dict[str, str]:
    return gateway_env_for(tmp_path)


async def _publish(url: str, village: str) -> list[str]:
    """A planned outage in `village`, ten days ahead, published by the dispatcher."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        desk = await OutageDesk(http, url).login()
        await desk.publish(
            kind="planned", areas=[village], starts_at=at(timedelta(days=10)),
            expected_restore_at=at(timedelta(days=10, hours=6)), reason="10kV高岭线检修",
        )  # fmt: skip
        return desk.published


async def test_a_restart_in_the_middle_of_a_fan_out_loses_and_repeats_nothing(
    e2e_stack: Stack,
    gateway: Gateway,
    telegram: FakeTelegram,
    gateway_env: dict[str, str],
    tmp_path: Path,
) -> None:
    await create_staff(e2e_stack)
    chats = [FIRST_CHAT + n for n in range(SUBSCRIBERS)]
    ids = [f"telegram:{chat}" for chat in chats]
    subscribe_all(e2e_stack, ids, VILLAGE)
    published: list[str] = []
    try:
        published = await _publish(gateway.url, VILLAGE)
        await eventually(lambda: len(telegram.sent) >= STOP_AFTER, within=60, interval=0.02)
        assert await gateway.stop() == 0
        stopped_at = len(telegram.sent)
        assert stopped_at < SUBSCRIBERS, "the fan-out was over before the restart"
        log = tmp_path / "gateway-after-restart.log"
        async with running_gateway(e2e_stack, telegram, gateway_env, log):
            await eventually(lambda: len(telegram.sent) >= SUBSCRIBERS, within=60, interval=0.1)
            await telegram.settle(3.0)  # several passes of the new gateway's worker
            told = Counter(m["chat"]["id"] for m in telegram.sent)
            assert told == Counter(dict.fromkeys(chats, 1))
            [number] = published
            assert deliveries(e2e_stack, number) == {"published": Counter({"sent": SUBSCRIBERS})}
    finally:
        end_subscriptions(e2e_stack, ids)
        close_outages(e2e_stack, published)


async def test_the_unsubscribe_button_of_a_notice_works_after_a_restart(
    e2e_stack: Stack,
    gateway: Gateway,
    telegram: FakeTelegram,
    gateway_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """A notice's button is pressed days later, after deploys, or on another replica: the
    gateway that sent it is not the one that hears it pressed."""
    await create_staff(e2e_stack)
    chat = FIRST_CHAT + SUBSCRIBERS
    subscribe_all(e2e_stack, [f"telegram:{chat}"], "云雾村")
    published: list[str] = []
    try:
        published = await _publish(gateway.url, "云雾村")
        [notice] = await telegram.wait_for_messages(1, chat_id=chat, within=30)
        assert await gateway.stop() == 0
        log = tmp_path / "gateway-after-restart.log"
        async with running_gateway(e2e_stack, telegram, gateway_env, log):
            [answer] = await press_on_telegram(telegram, notice, UNSUBSCRIBE)
            assert answer.text.startswith(f"{UNSUBSCRIBED}云雾村"), answer
            assert active_areas(e2e_stack, f"telegram:{chat}") == []
    finally:
        end_subscriptions(e2e_stack, [f"telegram:{chat}"])
        close_outages(e2e_stack, published)

"""Outage notices end to end (issue 19): customers subscribe in the conversation, on Telegram (the
fake Bot API) and in the web chat, through the trained model and the action server; a dispatcher
publishes, edits, postpones and cancels a planned outage, then publishes a fault outage, its
progress and its restoration on the console's API; each subscribed chat is told each step once,
with the unsubscribe button; a customer who unsubscribes (the button on Telegram, typing 退订 in
the web chat) is told nothing more, while a third subscriber still is.

It runs on the session's shared stack (tests/e2e/conftest.py); the gateway reads conf/ without
quiet hours (outage_support.notice_conf), so the notices go out at any hour the tests run.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import Gateway, Stack, answered
from tests.e2e.outage_support import (
    SUBSCRIBE,
    SUBSCRIBED,
    UNSUBSCRIBE,
    UNSUBSCRIBED,
    Chats,
    OutageDesk,
    active_areas,
    at,
    close_outages,
    create_staff,
    deliveries,
    end_subscriptions,
    gateway_env_for,
    press_on_telegram,
    press_on_web,
    subscribe_all,
    told_on_telegram,
    told_on_web,
)
from tests.e2e.test_dispatch import WebChat, report, web_chat
from tests.fakes.telegram_api import FakeTelegram

VILLAGE = "东山村"
ASKS_ON_TELEGRAM = 7_400_001
"""Asks about tomorrow's outage and subscribes with the offered button; later unsubscribes with
the button under a notice."""
KEEPS_SUBSCRIBED = 7_400_003
"""Subscribed in the database; told every step to the end (the notices did not just stop)."""
EVERYBODY = ("asker", "keeper", "web")


@pytest.fixture
def gateway_env(tmp_path: Path) -> dict[str, str]:
    return gateway_env_for(tmp_path)


@pytest.fixture
def web_session() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def web(gateway: Gateway, web_session: str) -> AsyncIterator[WebChat]:
    async with web_chat(gateway.url, web_session) as chat:
        yield chat


async def _subscribe_on_telegram(telegram: FakeTelegram, user: dict[str, Any]) -> None:
    """The outage question's answer ends with the offer; its button subscribes."""
    update = telegram.text_update(f"{VILLAGE}明天停电吗", user=user)
    told = [told_on_telegram(m) for m in await answered(telegram, int(user["id"]), update)]
    assert VILLAGE in told[0].text, told
    offer = told[-1]
    assert offer.buttons == (SUBSCRIBE,), told
    assert VILLAGE in offer.text
    [confirmation] = await press_on_telegram(telegram, offer.raw, SUBSCRIBE)
    assert confirmation.text.startswith(f"{SUBSCRIBED}{VILLAGE}的停电通知"), confirmation


async def _subscribe_on_web(web: WebChat) -> None:
    """A fault report ends with the offer (for the reporter's group); the outage question's
    offer (the whole village) is the one pressed."""
    mark = len(web.replies)
    await report(web.say, f"{VILLAGE}4组", "13905716614")
    offer = told_on_web(web.replies[-1])
    assert offer.buttons == (SUBSCRIBE,), web.texts[mark:]
    assert f"{VILLAGE}4组" in offer.text
    mark = len(web.replies)
    await web.say(f"{VILLAGE}明天停电吗")
    offer = told_on_web(web.replies[-1])
    assert offer.buttons == (SUBSCRIBE,), web.texts[mark:]
    reply = await press_on_web(web, offer, SUBSCRIBE)
    assert reply.startswith(f"{SUBSCRIBED}{VILLAGE}的停电通知"), reply


async def _planned_outage(desk: OutageDesk, chats: Chats, stack: Stack) -> None:
    number = await desk.publish(
        kind="planned", areas=[VILLAGE], starts_at=at(timedelta(days=10)),
        expected_restore_at=at(timedelta(days=10, hours=8)), reason="10kV东山线检修",
        advice="请提前储水",
    )  # fmt: skip
    first = await chats.step(f"【青溪镇供电所停电通知】计划停电：{VILLAGE}", EVERYBODY)
    for told in first.values():
        assert told.buttons == (UNSUBSCRIBE,), told
        assert number in told.text
        assert "请提前储水" in told.text
    await desk.act(number, "edit", advice="请关好冰箱门", note="施工方案调整")
    edited = await chats.step(f"【停电信息更新】{VILLAGE}", EVERYBODY)
    assert all("请关好冰箱门" in t.text for t in edited.values()), edited
    start, end = at(timedelta(days=12)), at(timedelta(days=12, hours=8))
    await desk.act(number, "postpone", starts_at=start, expected_restore_at=end, note="天气原因")
    await chats.step(f"【停电时间调整】{VILLAGE}", EVERYBODY)
    await desk.act(number, "cancel", note="计划调整")
    await chats.step(f"【停电取消】{VILLAGE}", EVERYBODY)
    kinds = ("published", "updated", "postponed", "cancelled")
    assert deliveries(stack, number) == {kind: Counter({"sent": 3}) for kind in kinds}


async def _fault_outage(
    desk: OutageDesk, chats: Chats, web: WebChat, ids: dict[str, str], stack: Stack
) -> None:
    number = await desk.publish(
        kind="fault", areas=[VILLAGE], starts_at=at(timedelta(minutes=-10)), reason="原因排查中"
    )
    await chats.step(f"【青溪镇供电所故障停电】{VILLAGE}", EVERYBODY)
    cause = {"cause": "10kV东山线避雷器击穿", "expected_restore_at": at(timedelta(hours=2))}
    await desk.act(number, "progress", **cause)
    progress = await chats.step(f"【故障抢修进展】{VILLAGE}", EVERYBODY)
    # one presses the button under the notice, the other types it
    [answer] = await press_on_telegram(chats.telegram, progress["asker"].raw, UNSUBSCRIBE)
    assert answer.text.startswith(f"{UNSUBSCRIBED}{VILLAGE}"), answer
    reply = await web.say("退订")
    assert reply.startswith(f"{UNSUBSCRIBED}{VILLAGE}"), f"typed 退订 was answered: {reply}"
    assert [active_areas(stack, ids[n]) for n in EVERYBODY] == [[], [VILLAGE], []]
    chats.mark()  # the answers are not notices
    await desk.act(number, "restore")
    restored = await chats.step(f"【恢复送电】{VILLAGE}", ["keeper"])
    assert number in restored["keeper"].text
    found = deliveries(stack, number)
    assert found.pop("restored") == Counter({"sent": 1})
    assert found == {kind: Counter({"sent": 3}) for kind in ("published", "cause_found")}


async def test_each_step_of_an_outage_reaches_each_subscribed_chat_once(
    e2e_stack: Stack, gateway: Gateway, telegram: FakeTelegram, web: WebChat, web_session: str
) -> None:
    await create_staff(e2e_stack)
    ids = {
        "asker": f"telegram:{ASKS_ON_TELEGRAM}",
        "keeper": f"telegram:{KEEPS_SUBSCRIBED}",
        "web": f"web:{web_session}",
    }
    jar = aiohttp.CookieJar(unsafe=True)  # the gateway is on 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        desk = await OutageDesk(http, gateway.url).login()
        try:
            await _subscribe_on_telegram(telegram, telegram.user(ASKS_ON_TELEGRAM))
            await _subscribe_on_web(web)
            subscribe_all(e2e_stack, [ids["keeper"]], VILLAGE)
            assert [active_areas(e2e_stack, ids[n]) for n in EVERYBODY] == [[VILLAGE]] * 3
            on_telegram = {"asker": ASKS_ON_TELEGRAM, "keeper": KEEPS_SUBSCRIBED}
            chats = Chats(telegram, on_telegram, {"web": web})
            await _planned_outage(desk, chats, e2e_stack)
            await _fault_outage(desk, chats, web, ids, e2e_stack)
        finally:
            end_subscriptions(e2e_stack, ids.values())
            close_outages(e2e_stack, desk.published)

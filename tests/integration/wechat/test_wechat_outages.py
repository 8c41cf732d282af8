"""What the outage notices (issue 19, bot/outages/) need of the WeChat channel: a follower who
unfollows gets no more notices; a follower whose customer-service messages are used up (45047)
is `NotNow` for that follower only (held, without asking WeChat again, until the customer
writes), the account's quotas (45011 / 45009) `SendLater` (every follower waits the configured
time) and a customer who no longer follows (43004) `RecipientGone`, as the delivery worker
expects of Telegram's 429 and 403; and the worker itself through the channel. SQLite and
PostgreSQL. (The worker holding one follower while it tells the others:
test_wechat_held_notices.py.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.base import NotNow, RecipientGone, SendLater
from bot.channels.wechat.api import DAILY_QUOTA, MINUTE_QUOTA, TOO_MANY
from bot.messages import Reply
from store.config import Settings
from store.configuration.outages import load_outages
from store.db import unit_of_work
from store.outages import publishing
from store.outages.publishing import Desk
from tests.fakes.gateway import eventually
from tests.fakes.rasa import FakeRasa
from tests.fakes.wechat_api import FakeWeChat
from tests.fakes.wechat_gateway import (
    WeChatGateway,
    transcript,
    wechat_config,
    wechat_gateway,
    wechat_settings,
)
from tests.integration.outages.support import (
    conf_without_quiet_hours,
    deliveries,
    planned,
    subscribe,
    subscription_rows,
)
from tests.integration.wechat.conftest import OPENID, Start
from tests.integration.wechat.test_wechat_delivery import TEMPLATE

CID = f"wechat:{OPENID}"
OTHER = "oPz3a5Wbq1cT8xYvE2nR4kL6mJ0t"
CUSTOM = "/cgi-bin/message/custom/send"
QUICK = {TOO_MANY: 0.5, MINUTE_QUOTA: 0.5, DAILY_QUOTA: 0.5}
"""retry_after_seconds of the tests that wait them out (conf/wechat.yml: minutes, an hour)."""


async def _writes(gateway: WeChatGateway, openid: str, text: str = "你好") -> None:
    """The customer writes (WeChat's window opens and its count of messages starts afresh)."""
    answer = await gateway.push.post(gateway.push.text(openid, text))
    assert answer.text == f"收到：{text}"


def _notes(factory: sessionmaker[Session], code: int) -> list[str]:
    return [row[3] for row in transcript(factory, OPENID) if f"错误码 {code}" in row[3]]


async def test_unfollowing_ends_the_followers_outage_subscriptions(
    seeded: Any, gateway: WeChatGateway, session_factory: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    for conversation_id, area in ((CID, "东山村"), (CID, "西河村"), (f"wechat:{OTHER}", "东山村")):
        subscribe(session_factory, conversation_id, area, now)
    await gateway.push.post(gateway.push.event(OPENID, "subscribe"))
    unfollow = gateway.push.event(OPENID, "unsubscribe")
    assert (await gateway.push.post(unfollow)).body == "success"
    assert (await gateway.push.post(unfollow)).body == "success"  # WeChat's retry
    rows = [(r["conversation_id"], r["ended"]) for r in subscription_rows(session_factory)]
    assert rows == [(CID, "blocked"), (CID, "blocked"), (f"wechat:{OTHER}", None)]


async def test_a_followers_used_up_messages_wait_until_the_customer_writes_again(
    gateway: WeChatGateway, fake_wechat: FakeWeChat, session_factory: sessionmaker[Session]
) -> None:
    await _writes(gateway, OPENID)
    fake_wechat.quota = 1
    assert await gateway.router.announce(CID, [Reply("一")]) == "sent"
    for _ in range(2):
        with pytest.raises(NotNow) as held:
            await gateway.router.announce(CID, [Reply("二")])
        assert held.value.retry_after is None  # until the customer writes
        assert held.value.reason == "微信：客服消息条数已达上限（错误码 45047）"
        assert not isinstance(held.value, SendLater)  # the other followers do not wait
    assert fake_wechat.refused == [(CUSTOM, TOO_MANY)]  # the second try asked WeChat nothing
    assert _notes(session_factory, TOO_MANY) == [
        "【微信】这条消息未送达客户：客服消息条数已达上限（错误码 45047）。"
    ]
    await _writes(gateway, OPENID, "还有别的通知吗")  # WeChat counts afresh
    assert await gateway.router.announce(CID, [Reply("二")]) == "sent"
    assert fake_wechat.texts_to(OPENID) == ["一", "二"]


async def test_the_accounts_quota_holds_every_follower_for_the_configured_time(
    fake_wechat: FakeWeChat, start: Start
) -> None:
    async with start(retry_after=QUICK) as gateway:
        await _writes(gateway, OPENID)
        await _writes(gateway, OTHER)
        fake_wechat.fail_next = [MINUTE_QUOTA]
        with pytest.raises(SendLater) as later:
            await gateway.router.announce(CID, [Reply("停电通知")])
        assert later.value.retry_after == 0.5
        with pytest.raises(SendLater):
            await gateway.router.announce(f"wechat:{OTHER}", [Reply("停电通知")])
        assert fake_wechat.refused == [(CUSTOM, MINUTE_QUOTA)]  # the other was not tried
        await asyncio.sleep(0.6)
        assert await gateway.router.announce(f"wechat:{OTHER}", [Reply("停电通知")]) == "sent"
    assert fake_wechat.texts_to(OTHER) == ["停电通知"]


async def test_a_customer_who_no_longer_follows_is_gone_for_both_kinds_of_message(
    fake_wechat: FakeWeChat, start: Start, session_factory: sessionmaker[Session]
) -> None:
    async with start(template=TEMPLATE) as gateway:
        await _writes(gateway, OPENID)
        fake_wechat.fail_next = [43004]
        with pytest.raises(RecipientGone):
            await gateway.router.announce(CID, [Reply("停电通知")])
        # outside the window the template goes instead: WeChat refuses it for the same reason
        fake_wechat.fail_next = [45015, 43004]
        with pytest.raises(RecipientGone):
            await gateway.router.announce(CID, [Reply("停电通知")])
    assert fake_wechat.sent == []
    assert fake_wechat.template_messages == []
    assert _notes(session_factory, 43004) == 2 * [
        "【微信】这条消息未送达客户：客户未关注公众号（错误码 43004）。"
    ]


def _desk(session: Session, settings: Settings) -> Desk:
    config = load_outages(settings.conf_dir, [a.code for a in settings.areas])
    return Desk(session, settings, config, "dispatch", "dispatcher", datetime.now(UTC))


async def test_the_outage_worker_waits_for_the_follower_and_stops_when_they_are_gone(
    rasa: FakeRasa,
    db_url: str,
    seeded: Any,
    settings: Settings,
    session_factory: sessionmaker[Session],
    fake_wechat: FakeWeChat,
    tmp_path: Path,
) -> None:
    subscribe(session_factory, CID, "东山村", datetime.now(UTC))
    gateway_settings = wechat_settings(
        rasa, db_url, fake_wechat, outage_notices=True, conf_dir=conf_without_quiet_hours(tmp_path)
    )
    config = wechat_config(retry_after=QUICK)
    async with wechat_gateway(gateway_settings, config, fake_wechat) as gateway:
        await _writes(gateway, OPENID)
        fake_wechat.quota = 1
        assert await gateway.router.deliver(CID, [Reply("您的工单已受理")]) == "sent"
        with unit_of_work(session_factory) as session:
            number = planned(_desk(session, settings), "东山村3组").outage.outage_no
        await eventually(lambda: fake_wechat.refused == [(CUSTOM, TOO_MANY)], within=20)
        await _writes(gateway, OPENID, "停电的事怎么说")
        await eventually(lambda: len(fake_wechat.texts_to(OPENID)) == 2, within=20)
        notice = fake_wechat.texts_to(OPENID)[1]
        assert notice.startswith("【青溪镇供电所停电通知】计划停电：东山村3组")
        assert notice.endswith("1. 退订停电通知")  # the unsubscribe button, numbered
        # the customer has left without WeChat telling us: the next notice ends it
        fake_wechat.fail_next = [43004]
        with unit_of_work(session_factory) as session:
            outage = publishing.get(session, number)
            publishing.safety(_desk(session, settings), outage, "施工期间请勿靠近")
        await eventually(lambda: [d.state for d in deliveries(session_factory)][-1:] == ["blocked"])
    assert [d.state for d in deliveries(session_factory)] == ["sent", "blocked"]
    assert [r["ended"] for r in subscription_rows(session_factory)] == ["blocked"]
    assert len(fake_wechat.texts_to(OPENID)) == 2

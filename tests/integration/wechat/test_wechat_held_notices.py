"""Outage notices one WeChat follower cannot get now (bot.channels.base.NotNow), through the
real gateway, the outage worker and the fake WeChat API speaking WeChat's protocol: only that
follower's notice is held, the others are told as usual; the held notice goes when the
customer writes again (the webhook wakes it), or is tried again after conf/outages.yml
`delivery.held.retry_minutes`; once the notice is `give_up_hours` old it is undeliverable with
the reason staff see; a restarted gateway keeps it held and sends it once. SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any, NamedTuple

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.messages import Reply
from bot.outages.worker import OutageWorker
from bot.router import Router
from store.config import Settings
from store.configuration.outages import HeldPolicy, OutageConfig, load_outages
from store.db import unit_of_work
from store.models import Conversation, Message
from store.outages import publishing, views
from store.outages.publishing import Desk
from tests.fakes.gateway import eventually
from tests.fakes.wechat_api import FakeWeChat
from tests.fakes.wechat_gateway import WeChatGateway, transcript
from tests.integration.outages.support import deliveries, planned, subscribe
from tests.integration.outages.worker_support import drain, running_clock
from tests.integration.wechat.conftest import OPENID, Start

OTHER = "oPz3a5Wbq1cT8xYvE2nR4kL6mJ0t"
THIRD = "oPz3a5Wbq1cT8xYvE2nR4kL6mJ1u"
CUSTOM = "/cgi-bin/message/custom/send"
NOTICE = "【青溪镇供电所停电通知】计划停电：东山村"
SAFETY = "【安全提醒】东山村"
WINDOW_REASON = "微信：客户超过 48 小时未互动，未配置模板消息（错误码 45015）"


def cid(openid: str) -> str:
    return f"wechat:{openid}"


def _config(settings: Settings, held: HeldPolicy | None = None) -> OutageConfig:
    """conf/outages.yml with a quick poll (and the held policy given)."""
    config = load_outages(settings.conf_dir, [a.code for a in settings.areas])
    delivery = replace(config.delivery, poll_seconds=0.05)
    return replace(config, delivery=replace(delivery, held=held or delivery.held))


def _daytime(settings: Settings) -> datetime:
    """The next 10:00 station time: no quiet hours hold the notices of these tests."""
    local = datetime.now(settings.tz)
    day = local.date() + timedelta(days=1 if local.time() >= time(10) else 0)
    return datetime.combine(day, time(10), tzinfo=settings.tz).astimezone(UTC)


class Clock:
    """The worker's clock: from a daytime moment on, moved on by `shift`."""

    def __init__(self, settings: Settings) -> None:
        self._running = running_clock(_daytime(settings))
        self.shift = timedelta(0)

    def __call__(self) -> datetime:
        return self._running() + self.shift


def _worker(
    router: Router,
    settings: Settings,
    factory: sessionmaker[Session],
    config: OutageConfig,
    clock: Callable[[], datetime],
) -> OutageWorker:
    return OutageWorker(
        factory=factory, router=router, settings=settings, config=config, clock=clock
    )


async def _writes(gateway: WeChatGateway, openid: str, text: str = "你好") -> None:
    """The customer writes (WeChat's window opens and its count of messages starts afresh)."""
    answer = await gateway.push.post(gateway.push.text(openid, text))
    assert answer.text == f"收到：{text}"


class Scene(NamedTuple):
    start: Start
    settings: Settings
    factory: sessionmaker[Session]
    fake: FakeWeChat


@pytest.fixture
def scene(
    seeded: Any,
    start: Start,
    settings: Settings,
    session_factory: sessionmaker[Session],
    fake_wechat: FakeWeChat,
) -> Scene:
    """The demo station's database, gateways to start, the fake WeChat API."""
    return Scene(start, settings, session_factory, fake_wechat)


async def _followers(gateway: WeChatGateway, factory: sessionmaker[Session], *openids: str) -> None:
    """Followers who wrote (their window is open) and subscribed to 东山村's notices."""
    for openid in openids:
        await _writes(gateway, openid)
        subscribe(factory, cid(openid), "东山村", datetime.now(UTC))


def _desk(session: Session, settings: Settings, at: datetime) -> Desk:
    config = load_outages(settings.conf_dir, [a.code for a in settings.areas])
    return Desk(session, settings, config, "dispatch", "dispatcher", at)


def _publish(factory: sessionmaker[Session], settings: Settings, at: datetime) -> str:
    """A planned outage of 东山村, published at `at` (the worker's time)."""
    with unit_of_work(factory) as session:
        return planned(_desk(session, settings, at), "东山村").outage.outage_no


def _safety(factory: sessionmaker[Session], settings: Settings, number: str, at: datetime) -> None:
    with unit_of_work(factory) as session:
        outage = publishing.get(session, number)
        publishing.safety(_desk(session, settings, at), outage, "施工期间请勿靠近")


def _states(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    return [(d.conversation_id, d.state) for d in deliveries(factory)]


def _age(factory: sessionmaker[Session], openid: str, hours: int) -> None:
    """The follower's messages were written `hours` ago (outside WeChat's window)."""
    before = datetime.now(UTC) - timedelta(hours=hours)
    with unit_of_work(factory) as session:
        pk = session.query(Conversation.id).filter_by(conversation_id=cid(openid)).scalar()
        session.execute(
            update(Message).where(Message.conversation_pk == pk).values(created_at=before)
        )


def _notes(factory: sessionmaker[Session], openid: str) -> list[str]:
    return [row[3] for row in transcript(factory, openid) if row[3].startswith("【微信】")]


async def test_a_follower_out_of_messages_holds_only_their_notice_then_gets_it_once(
    scene: Scene,
) -> None:
    start, settings, session_factory, fake_wechat = scene
    config = _config(settings)
    clock = Clock(settings)
    async with start() as gateway:
        await _followers(gateway, session_factory, OPENID, OTHER, THIRD)
        fake_wechat.quota = 2  # messages a follower may get after writing (WeChat: about 5)
        for text in ("您的工单已受理", "抢修人员已出发"):
            assert await gateway.router.deliver(cid(OPENID), [Reply(text)]) == "sent"
        number = _publish(session_factory, settings, clock())
        first = _worker(gateway.router, settings, session_factory, config, clock)
        await drain([first], session_factory)
        assert fake_wechat.refused == [(CUSTOM, 45047)]
        # the follower is held, the channel is not: the next notice reaches the others too
        _safety(session_factory, settings, number, clock())
        await drain([first], session_factory)
        await first.stop(1)
    assert fake_wechat.refused == [(CUSTOM, 45047)]  # the held follower was not asked again
    for openid in (OTHER, THIRD):
        [notice, safety] = fake_wechat.texts_to(openid)
        assert notice.startswith(NOTICE)
        assert safety.startswith(SAFETY)
    assert fake_wechat.texts_to(OPENID) == ["您的工单已受理", "抢修人员已出发"]
    assert sorted(_states(session_factory)) == sorted(
        [(cid(OPENID), "held")] * 2 + [(cid(o), "sent") for o in (OTHER, THIRD)] * 2
    )
    # a new gateway (a restart: the channel's memory is gone) keeps the notices held ...
    async with start() as gateway:
        second = _worker(gateway.router, settings, session_factory, config, clock)
        await drain([second], session_factory)
        assert len(fake_wechat.texts_to(OPENID)) == 2
        assert [s for c, s in _states(session_factory) if c == cid(OPENID)] == ["held"] * 2
        # ... until the customer writes: WeChat counts afresh, both go (the urgent first), once
        fake_wechat.quota = 5
        second.start()
        await _writes(gateway, OPENID, "停电的事怎么说")
        await eventually(lambda: len(fake_wechat.texts_to(OPENID)) == 4, within=20)
        await drain([second], session_factory)
        await second.stop(1)
    *_, safety, notice = fake_wechat.texts_to(OPENID)
    assert len(fake_wechat.texts_to(OPENID)) == 4  # each notice once
    assert notice.startswith(NOTICE)
    assert notice.endswith("1. 退订停电通知")
    assert safety.startswith(SAFETY)
    assert {state for _, state in _states(session_factory)} == {"sent"}
    assert fake_wechat.refused == [(CUSTOM, 45047)]


async def test_outside_the_window_without_a_template_a_notice_waits_then_is_given_up(
    scene: Scene,
) -> None:
    start, settings, session_factory, fake_wechat = scene
    held = HeldPolicy(retry=timedelta(minutes=10), give_up=timedelta(hours=2))
    config = _config(settings, held)
    clock = Clock(settings)
    async with start() as gateway:
        await _followers(gateway, session_factory, OPENID, OTHER, THIRD)
        _age(session_factory, OTHER, 49)
        _age(session_factory, THIRD, 49)
        number = _publish(session_factory, settings, clock())
        the_worker = _worker(gateway.router, settings, session_factory, config, clock)
        await drain([the_worker], session_factory)
        assert [t[:8] for t in fake_wechat.texts_to(OPENID)] == [NOTICE[:8]]
        assert len(fake_wechat.sent) == 1  # the others' window is known closed: not asked
        rows = {d.conversation_id: d for d in deliveries(session_factory)}
        assert (rows[cid(OTHER)].state, rows[cid(OTHER)].error) == ("held", WINDOW_REASON)
        # tried again after retry_minutes: still closed, held again, noted only once
        clock.shift += timedelta(minutes=11)
        await drain([the_worker], session_factory)
        rows = {d.conversation_id: d for d in deliveries(session_factory)}
        assert rows[cid(THIRD)].state == "held"
        assert rows[cid(THIRD)].not_before > clock() + timedelta(minutes=9)
        assert len(_notes(session_factory, THIRD)) == 1
        assert _notes(session_factory, THIRD) == [
            "【微信】这条消息未送达客户：客户超过 48 小时未互动，未配置模板消息（错误码 45015）。"
        ]
        # OTHER writes: the window is open again and their notice goes at once
        the_worker.start()
        await _writes(gateway, OTHER, "东山村什么时候停电")
        await eventually(lambda: len(fake_wechat.texts_to(OTHER)) == 1, within=20)
        await the_worker.stop(1)
        # THIRD never writes: two hours after the notice it is given up, with the reason
        clock.shift += timedelta(hours=2)
        last = _worker(gateway.router, settings, session_factory, config, clock)
        await drain([last], session_factory)
    assert fake_wechat.texts_to(OTHER)[0].startswith(NOTICE)
    assert fake_wechat.texts_to(THIRD) == []
    assert sorted(_states(session_factory)) == sorted(
        [(cid(OPENID), "sent"), (cid(OTHER), "sent"), (cid(THIRD), "undeliverable")]
    )
    with unit_of_work(session_factory) as session:
        listed = views.outages_json(session, settings, config, now=datetime.now(UTC))
    [outage] = [o for o in listed if o["outage_no"] == number]
    [notice] = outage["notices"]
    assert notice["progress"]["sent"] == 2
    assert notice["progress"]["undeliverable"] == 1
    assert notice["progress"]["held"] == 0
    assert notice["undeliverable_reasons"] == [{"reason": WINDOW_REASON, "count": 1}]


async def test_a_held_follower_is_asked_again_after_the_delay(scene: Scene) -> None:
    start, settings, session_factory, fake_wechat = scene
    """An interaction the gateway never stored (a menu link) reset WeChat's count: after
    retry_minutes (and conf/wechat.yml retry_after_seconds 45047) the notice is tried again
    and goes."""
    config = _config(settings, HeldPolicy(retry=timedelta(minutes=10), give_up=timedelta(hours=2)))
    clock = Clock(settings)
    async with start(retry_after={45047: 0.2, 45011: 60, 45009: 3600}) as gateway:
        await _followers(gateway, session_factory, OPENID)
        fake_wechat.quota = 0
        _publish(session_factory, settings, clock())
        the_worker = _worker(gateway.router, settings, session_factory, config, clock)
        await drain([the_worker], session_factory)
        assert _states(session_factory) == [(cid(OPENID), "held")]
        fake_wechat.quota = 5
        fake_wechat.interacted(OPENID)  # WeChat saw the customer; the gateway did not
        await drain([the_worker], session_factory)
        assert _states(session_factory) == [(cid(OPENID), "held")]  # not due yet
        await asyncio.sleep(0.3)  # retry_after_seconds 45047: the channel asks WeChat again
        clock.shift += timedelta(minutes=11)
        await drain([the_worker], session_factory)
    assert _states(session_factory) == [(cid(OPENID), "sent")]
    assert [t[:8] for t in fake_wechat.texts_to(OPENID)] == [NOTICE[:8]]
    assert fake_wechat.refused == [(CUSTOM, 45047)]

"""Delivering outage notices through the real gateway core (router, transcript, a recording
channel) on the demo station, SQLite and PostgreSQL: who is told, once, in their language; the
quiet hours; what a channel's refusals do; a restart or a crash in the middle of a fan-out; two
workers sharing the queue."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.channels.base import RecipientGone, SendLater
from store.db import make_engine, make_session_factory, unit_of_work
from store.models import Message
from store.outages import publishing
from store.outages.publishing import Desk, Draft
from store.services import tickets, transcripts
from tests.fakes.gateway import RecordingChannel, eventually
from tests.integration.outages.support import (
    Scene,
    conversation,
    deliveries,
    fan_out_all,
    planned,
    report,
    subscribe,
    subscription_rows,
)
from tests.integration.outages.worker_support import (
    RefusingChannel,
    SlowChannel,
    drain,
    fast,
    running_clock,
    waiting,
    worker,
)

OpenDesk = Callable[[datetime], AbstractContextManager[Desk]]
TZ = ZoneInfo("Asia/Shanghai")


def _sent(channel: RecordingChannel) -> Counter[str]:
    return Counter(chat for chat, _ in channel.sent)


async def test_each_customer_is_told_once_in_their_language_on_their_channel(scene: Scene) -> None:
    factory, now = scene.factory, scene.now
    conversation(factory, "fake:en", now, "en")
    subscribe(factory, "fake:en", "东山村", now)
    subscribe(factory, "fake:zh", "东山村", now)
    # the same verified customer subscribed on two channels: told once, on the one used last
    conversation(factory, "fake:acct-a", now)
    subscribe(factory, "fake:acct-a", "东山村", now, account_no="3301000001")
    subscribe(factory, "web:acct-b", "东山村", now, account_no="3301000001")
    subscribe(factory, "fake:other-area", "高岭村", now)
    phone = "13905710001"  # 3301000001's registered phone (docs/demo-data.md)
    report(factory, scene.settings, "东山村3组", "fake:reporter", phone, now)
    with scene.desk(now) as d:
        draft = Draft("fault", ("东山村",), now - timedelta(minutes=10), None, "原因排查中")
        reports = tickets.open_for_sender(d.session, "fake:reporter")
        publishing.publish(d, draft, attach=reports)
    async with scene.gateway() as gw:
        web = RecordingChannel("web")
        gw.router.register(web)
        the_worker = worker(scene, gw.router)
        await drain([the_worker], factory)
    sent = _sent(gw.channel) + _sent(web)
    # fake:reporter shares 3301000001's phone: one customer with acct-a and acct-b
    assert sorted(sent) == ["acct-a", "en", "zh"]
    assert set(sent.values()) == {1}
    texts = {chat: replies[0] for chat, replies in gw.channel.sent}
    assert texts["en"].text.startswith("[Qingxi Township Power Supply Station] Power cut in")
    assert texts["zh"].text.startswith("【青溪镇供电所故障停电】东山村")
    assert [b.title for b in texts["zh"].buttons] == ["退订停电通知"]
    assert [b.title for b in texts["en"].buttons] == ["Stop outage notices"]
    assert {d.state for d in deliveries(factory)} == {"sent"}
    with unit_of_work(factory) as session:
        stored = transcripts.get_conversation(session, "fake:zh")
        assert stored is not None
        rows = session.scalars(select(Message).where(Message.conversation_pk == stored.id)).all()
        assert [(m.sender, m.text[:4]) for m in rows] == [("system", "【青溪镇")]


async def test_a_fan_out_is_written_once(scene: Scene) -> None:
    factory, now = scene.factory, scene.now
    for n in range(3):
        subscribe(factory, f"fake:{n}", "柳湾村", now)
    with scene.desk(now) as d:
        notice = planned(d, "柳湾村").notice
        assert notice is not None
    from store.outages import fanout

    with unit_of_work(factory) as session:
        assert fanout.fan_out(session, notice.id, now=now) == 3
    with unit_of_work(factory) as session:
        assert fanout.fan_out(session, notice.id, now=now) is None  # another gateway: nothing
    assert len(deliveries(factory)) == 3


async def test_quiet_hours_hold_notices_until_morning_but_never_restoration_or_safety(
    scene: Scene,
) -> None:
    factory = scene.factory
    night = datetime(2026, 11, 23, 23, 0, tzinfo=TZ)
    subscribe(factory, "fake:7", "桃源村", night)
    with scene.desk(night) as d:
        fault = publishing.publish(
            d, Draft("fault", ("桃源村",), night - timedelta(minutes=5), None, "原因排查中")
        ).outage.outage_no
        number = planned(d, "石桥村", "桃源村").outage.outage_no
    async with scene.gateway() as gw:
        the_worker = worker(scene, gw.router, at=night)
        for _ in range(5):
            await the_worker.run_once()
        assert gw.channel.sent == []  # both held: nothing is urgent
        assert waiting(factory) == 2
        with scene.desk(night + timedelta(minutes=30)) as d:
            publishing.safety(d, publishing.get(d.session, number), "施工区域请勿靠近")
        with scene.desk(night + timedelta(hours=1)) as d:
            publishing.restore(d, publishing.get(d.session, fault))
        late = worker(scene, gw.router, at=night + timedelta(hours=1))
        for _ in range(5):
            await late.run_once()
        texts = gw.channel.texts()
        assert len(texts) == 2
        assert texts[0].startswith("【安全提醒】")
        assert texts[1].startswith("【恢复送电】")
        morning = datetime(2026, 11, 24, 7, 0, tzinfo=TZ)
        await drain(
            [worker(scene, gw.router, at=morning)],
            factory,
        )
    texts = gw.channel.texts()
    assert len(texts) == 3
    assert texts[2].startswith("【青溪镇供电所停电通知】计划停电")
    states = Counter(d.state for d in deliveries(factory))
    # the fault's first notice, held overnight, is not sent after its restoration
    assert states == {"sent": 3, "superseded": 1}


async def test_a_rate_limit_waits_and_a_blocked_bot_ends_the_subscription(scene: Scene) -> None:
    factory, now = scene.factory, scene.now
    subscribe(factory, "fake:limited", "杨家村", now)
    subscribe(factory, "fake:blocker", "杨家村", now)
    with scene.desk(now) as d:
        number = planned(d, "杨家村").outage.outage_no
    async with scene.gateway() as gw:
        channel = RefusingChannel()
        gw.router.register(channel)
        channel.refusals = [SendLater("Flood control exceeded", 0.5), RecipientGone("blocked")]
        began = time.monotonic()
        the_worker = worker(scene, gw.router)
        await drain([the_worker], factory)
        took = time.monotonic() - began
        assert took >= 0.5  # retry_after honoured
        with scene.desk(now + timedelta(hours=1)) as d:
            publishing.safety(d, publishing.get(d.session, number), "请注意用电安全")
        await drain([the_worker], factory)
    sent = _sent(channel)
    blocked = "blocker" if sent.get("limited") else "limited"
    told = "limited" if blocked == "blocker" else "blocker"
    assert sent == Counter({told: 2})
    assert channel.attempts == 4
    rows = subscription_rows(factory)
    assert [r["ended"] for r in rows if r["conversation_id"] == f"fake:{blocked}"] == ["blocked"]
    states = [(d.conversation_id, d.state) for d in deliveries(factory)]
    assert (f"fake:{blocked}", "blocked") in states
    assert len(states) == 3  # the blocked chat is not in the second notice


async def test_a_failing_channel_is_tried_a_few_times_then_given_up(scene: Scene) -> None:
    factory, now = scene.factory, scene.now
    subscribe(factory, "fake:broken", "云雾村", now)
    with scene.desk(now) as d:
        planned(d, "云雾村")
    async with scene.gateway() as gw:
        channel = RefusingChannel()
        gw.router.register(channel)
        channel.refusals = [RuntimeError("boom")] * 5
        base, shift = running_clock(now), [timedelta(0)]
        the_worker = worker(scene, gw.router, clock=lambda: base() + shift[0])
        for _ in range(3):
            await the_worker.run_once()
            shift[0] += timedelta(minutes=5)  # past the back-off before each attempt
    assert channel.attempts == 3
    assert channel.sent == []
    [row] = deliveries(factory)
    assert (row.state, row.attempts) == ("failed", 3)
    assert row.error is not None
    assert "boom" in row.error


async def test_a_restart_in_the_middle_of_a_fan_out_loses_and_repeats_nothing(scene: Scene) -> None:
    factory = scene.factory
    customers = 60
    scene.announce("南塘村", "c", customers)
    config = fast(scene.config, per_second=100)
    async with scene.gateway() as gw:
        channel = SlowChannel(delay=0.01)
        gw.router.register(channel)
        first = worker(scene, gw.router, config=config)
        first.start()
        await eventually(lambda: len(channel.sent) >= 15, interval=0.01)
        # the gateway stops: what it claimed and did not send is given back
        await first.stop(grace=5.0)
        stopped_at = len(channel.sent)
        assert 15 <= stopped_at < customers
        second = worker(scene, gw.router, config=config)
        await drain([second], factory)
    assert _sent(channel) == Counter({f"c{n}": 1 for n in range(customers)})
    assert Counter(d.state for d in deliveries(factory)) == {"sent": customers}


async def test_a_crash_in_the_middle_of_a_fan_out_loses_and_repeats_nothing(scene: Scene) -> None:
    """The gateway dies with sends in flight that never reached the channel (hung requests):
    its claims stay claimed until the lease runs out, then another gateway sends them. (What
    the channel took is marked at once; a kill in the moment between the channel taking a
    notice and its mark would send that one again: at least once, never lost.)"""
    factory, now = scene.factory, scene.now
    customers = 40
    scene.announce("南塘村", "k", customers)
    config = fast(scene.config, per_second=100)
    async with scene.gateway() as gw:
        channel = SlowChannel(delay=0.005)
        gw.router.register(channel)
        dying = worker(scene, gw.router, config=config)
        dying.start()
        await eventually(lambda: len(channel.sent) >= 10, interval=0.005)
        channel.hang = True

        def marked() -> int:
            return sum(d.state == "sent" for d in deliveries(factory))

        await eventually(lambda: marked() >= len(channel.sent))  # what reached it is marked
        await asyncio.sleep(0.1)
        task = dying._task
        assert task is not None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        channel.hang = False
        assert waiting(factory) > 0
        later = now + config.delivery.lease + timedelta(seconds=1)
        await drain([worker(scene, gw.router, config=config, at=later)], factory)
    assert _sent(channel) == Counter({f"k{n}": 1 for n in range(customers)})


async def test_two_workers_share_the_queue_and_the_pace(scene: Scene) -> None:
    """Two gateway replicas (each its own database engine) work one queue: every customer is
    told once, and together they keep the channel's pace."""
    factory, now = scene.factory, scene.now
    customers, rate = 120, 150.0
    scene.announce("青溪社区", "t", customers)
    fan_out_all(factory, now)
    config = fast(scene.config, per_second=rate)
    engines = [make_engine(scene.db_url), make_engine(scene.db_url)]
    try:
        async with scene.gateway() as gw:
            channel = SlowChannel(delay=0.002)
            gw.router.register(channel)
            pair = [
                worker(scene, gw.router, config=config, factory=make_session_factory(e))
                for e in engines
            ]
            began = time.monotonic()
            for replica in pair:
                replica.start()
            while waiting(factory):
                await asyncio.sleep(0.05)
                assert time.monotonic() - began < 30
            took = time.monotonic() - began
            for replica in pair:
                await replica.stop(grace=2.0)
    finally:
        for engine in engines:
            engine.dispose()
    assert _sent(channel) == Counter({f"t{n}": 1 for n in range(customers)})
    assert took >= (customers - 1) / rate * 0.9  # both together no faster than the pace
    tokens = {d.claim_token for d in deliveries(factory)}
    assert tokens == {None}

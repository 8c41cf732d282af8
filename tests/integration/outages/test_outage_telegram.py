"""Outage notices on Telegram: the whole gateway (create_app with its channels and its outage
worker) and the real python-telegram-bot against the fake Bot API (tests/fakes/telegram_api.py).
A 429 is waited out as its retry_after says, a blocked bot (403) ends the subscription, and the
notice carries the unsubscribe button, pressable in that chat."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.commands import WINDOW
from bot.keys import CORE_ROUTER
from bot.messages import Reply
from store.db import unit_of_work
from store.models import Message
from store.outages import publishing, subscriptions
from store.outages.publishing import Desk
from store.services import transcripts
from tests.fakes.gateway import eventually, settings_for
from tests.fakes.rasa import FakeRasa
from tests.fakes.telegram_api import FakeTelegram
from tests.integration.outages.support import (
    conf_without_quiet_hours,
    deliveries,
    planned,
    subscribe,
    subscription_rows,
)

OpenDesk = Callable[[datetime], AbstractContextManager[Desk]]


def _stored(factory: sessionmaker[Session], conversation_id: str) -> list[str]:
    """The notices the transcript keeps of a conversation."""
    with unit_of_work(factory) as session:
        conversation = transcripts.get_conversation(session, conversation_id)
        if conversation is None:
            return []
        stmt = select(Message.text).where(Message.conversation_pk == conversation.id)
        return list(session.scalars(stmt))


@asynccontextmanager
async def gateway(
    rasa: FakeRasa, db_url: str, fake: FakeTelegram, conf_dir: Path | None = None
) -> AsyncIterator[TestClient]:
    settings = settings_for(
        rasa, db_url, telegram_token=fake.token, telegram_api_base_url=fake.base_url,
        outage_notices=True, conf_dir=conf_dir,
    )  # fmt: skip
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_a_notice_on_telegram_waits_out_a_429_and_a_403_ends_the_subscription(
    rasa: FakeRasa,
    db_url: str,
    seeded: Any,
    desk: OpenDesk,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    subscribe(session_factory, "telegram:424242", "东山村", now)
    async with FakeTelegram() as fake:
        fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
        async with gateway(rasa, db_url, fake, conf_without_quiet_hours(tmp_path)):
            with desk(now) as d:
                number = planned(d, "东山村3组").outage.outage_no
            began = time.monotonic()
            [message] = await fake.wait_for_messages(1, chat_id=424242, within=20)
            assert time.monotonic() - began >= 1.0  # retry_after honoured
            sends = fake.calls_of("sendMessage")
            assert len(sends) == 2  # refused once, then sent
            assert sends[1].at - sends[0].at >= 1.0
            assert message["text"].startswith("【青溪镇供电所停电通知】计划停电：东山村3组")
            [button] = fake.buttons_of(message)
            assert button["text"] == "退订停电通知"
            # the customer blocks the bot; the next notice ends their subscription
            fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
            with desk(datetime.now(UTC)) as d:
                publishing.safety(d, publishing.get(d.session, number), "施工期间请勿靠近")
            await fake.wait_for_calls("sendMessage", 3, within=20)
            await fake.settle(0.5)
    assert len(fake.sent) == 1
    assert [r["ended"] for r in subscription_rows(session_factory)] == ["blocked"]
    assert [d.state for d in deliveries(session_factory)] == ["sent", "blocked"]


async def test_the_unsubscribe_button_is_a_button_the_bot_offered(
    rasa: FakeRasa, db_url: str, seeded: Any, desk: OpenDesk, session_factory: sessionmaker[Session]
) -> None:
    """Pressing it goes to Rasa as the payload itself (the router lets only offered buttons
    through in Rasa's command syntax): the action then unsubscribes (tested with the actions)."""
    now = datetime.now(UTC)
    subscribe(session_factory, "telegram:424242", "西河村", now)
    async with FakeTelegram() as fake, gateway(rasa, db_url, fake):
        with desk(now) as d:
            publishing.safety(d, publishing.get(d.session, "TD00010101"), "导线落地，请远离")
        [message] = await fake.wait_for_messages(1, chat_id=424242, within=20)
        assert message["text"].startswith("【安全提醒】西河村")
        await eventually(lambda: _stored(session_factory, "telegram:424242"))  # a moment after
        data = fake.buttons_of(message)[0]["callback_data"]
        await fake.deliver(fake.callback_update(message, data))
        await eventually(lambda: rasa.texts())
    assert rasa.texts() == [subscriptions.payload(subscriptions.UNSUBSCRIBE)]


async def test_an_old_notices_unsubscribe_button_still_works(
    rasa: FakeRasa, db_url: str, seeded: Any, desk: OpenDesk, session_factory: sessionmaker[Session]
) -> None:
    """Pressed after more messages than the window of offered buttons (bot/commands.py), and
    after a restart of the gateway: still the payload itself to Rasa, not a stale button."""
    now = datetime.now(UTC)
    subscribe(session_factory, "telegram:424242", "西河村", now)
    async with FakeTelegram() as fake:
        async with gateway(rasa, db_url, fake) as client:
            with desk(now) as d:
                publishing.safety(d, publishing.get(d.session, "TD00010101"), "导线落地，请远离")
            [message] = await fake.wait_for_messages(1, chat_id=424242, within=20)
            await eventually(lambda: _stored(session_factory, "telegram:424242"))
            router = client.server.app[CORE_ROUTER]
            for n in range(WINDOW + 5):
                await router.deliver("telegram:424242", [Reply(f"您的工单进展{n}")])
        async with gateway(rasa, db_url, fake):
            data = fake.buttons_of(message)[0]["callback_data"]
            await fake.deliver(fake.callback_update(message, data))
            await eventually(lambda: rasa.texts())
    assert rasa.texts() == [subscriptions.payload(subscriptions.UNSUBSCRIBE)]

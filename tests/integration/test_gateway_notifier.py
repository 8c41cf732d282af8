"""Proactive notifications on the seeded demo database (SQLite and PostgreSQL): staff move a
ticket or an application on, the customer hears it once, on the channel they used."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.notifier import Notifier
from bot.texts import load_texts
from store.config import Settings
from store.db import unit_of_work
from store.models import Application, Message, NotificationDelivery, Ticket
from store.services import applications, areas, tickets, transcripts
from tests.fakes.gateway import Harness, eventually, running_gateway, settings_for
from tests.fakes.rasa import FakeRasa


def _fault(factory: sessionmaker[Session], settings: Settings, sender: str, at: datetime) -> str:
    """A new fault ticket opened by the assistant in conversation `sender` (its own phone, so
    it is not taken for a repeat report of another test ticket)."""
    phone = f"138{zlib.crc32(sender.encode()) % 10**8:08d}"
    with unit_of_work(factory) as session:
        area = areas.match_area(session, "东山村")
        assert area is not None
        report = tickets.report_fault(
            session, settings, area=area, address="东山村1组", description="没电了",
            contact_phone=phone, account=None, sender_id=sender, channel="fake", now=at,
        )  # fmt: skip
        return report.ticket.ticket_no


def _advance(
    factory: sessionmaker[Session], number: str, status: str, at: datetime, actor: str = "staff"
) -> None:
    with unit_of_work(factory) as session:
        ticket = tickets.get_by_no(session, number)
        assert ticket is not None
        tickets.advance(session, ticket, status, actor=actor, now=at)


def _notifier(
    harness: Harness,
    factory: sessionmaker[Session],
    settings: Settings,
    clock: Callable[[], datetime],
) -> Notifier:
    return Notifier(
        factory=factory,
        router=harness.router,
        texts=load_texts(settings.conf_dir),
        settings=settings,
        interval=0,
        clock=clock,
    )


def _rows(factory: sessionmaker[Session], model: Any) -> list[Any]:
    with unit_of_work(factory) as session:
        return list(session.scalars(select(model).order_by(model.id)))


async def test_a_status_change_is_told_once_and_history_never(
    rasa: FakeRasa,
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    t0 = datetime.now(UTC)
    old = _fault(session_factory, settings, "fake:1", t0 - timedelta(hours=2))
    _advance(session_factory, old, "dispatched", t0 - timedelta(hours=1))  # before the gateway
    async with running_gateway(settings_for(rasa, db_url), rasa) as gw:
        first = _notifier(gw, session_factory, settings, lambda: t0)
        await first.prepare()
        assert await first.run_once() == 0
        assert gw.channel.sent == []

        number = _fault(session_factory, settings, "fake:42", t0)  # by the assistant: silent
        assert await first.run_once() == 0
        _advance(session_factory, number, "dispatched", t0 + timedelta(minutes=1))
        assert await first.run_once() == 1
        assert await first.run_once() == 0
        second = _notifier(gw, session_factory, settings, lambda: t0)
        await second.prepare()
        assert await second.run_once() == 0
        assert len(gw.channel.sent) == 1
        chat, replies = gw.channel.sent[0]
        assert chat == "42"
        assert number in replies[0].text
        at = (t0 + timedelta(minutes=1)).astimezone(settings.tz)
        assert f"已派单给抢修班组（{at:%H:%M}）" in replies[0].text  # no crew named: unnamed_crew

        _advance(session_factory, number, "accepted", t0 + timedelta(minutes=2))
        _advance(session_factory, number, "on_site", t0 + timedelta(minutes=3))
        counts = await asyncio.gather(first.run_once(), second.run_once())
        assert sum(counts) == 2
        _advance(session_factory, number, "restored", t0 + timedelta(minutes=30))
        assert sum(await asyncio.gather(first.run_once(), second.run_once())) == 1
        texts = [r.text for _, rs in gw.channel.sent for r in rs]
        assert len(texts) == 4
        assert "已接单" in texts[1]
        assert "已到达现场" in texts[2]
        assert "已恢复送电" in texts[3]
        restored = (t0 + timedelta(minutes=30)).astimezone(settings.tz)
        assert f"抢修班组，{restored:%H:%M}" in texts[3]  # the step's own time, not the pass's
        assert all(chat == "42" for chat, _ in gw.channel.sent)

    deliveries = _rows(session_factory, NotificationDelivery)
    assert [(d.source, d.status, d.conversation_id) for d in deliveries] == [
        ("ticket", "sent", "fake:42")
    ] * 4
    assert all(d.delivered_at is not None for d in deliveries)
    stored = [m for m in _rows(session_factory, Message) if m.sender == "system"]
    assert [m.text for m in stored] == texts  # the transcript shows them too


async def test_english_applications_and_conversations_without_a_push_channel(
    rasa: FakeRasa,
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    t0 = datetime.now(UTC)
    async with running_gateway(settings_for(rasa, db_url), rasa) as gw:
        with unit_of_work(session_factory) as session:
            transcripts.touch_conversation(
                session, conversation_id="fake:7", channel="fake", chat_id="7", now=t0,
                language="en",
            )  # fmt: skip
            app = applications.start(
                session, settings, app_type="name_transfer", now=t0, sender_id="fake:7",
                channel="fake",
            )  # fmt: skip
            app_no = app.application_no
        number = _fault(session_factory, settings, "api:bob", t0)
        notifier = _notifier(gw, session_factory, settings, lambda: t0)
        await notifier.prepare()
        with unit_of_work(session_factory) as session:
            found = applications.get_by_no(session, app_no)
            assert found is not None
            applications.advance(session, settings, found, "reviewing", actor="staff", now=t0)
        _advance(session_factory, number, "dispatched", t0)
        assert await notifier.run_once() == 2

        assert gw.channel.sent == [("7", gw.channel.sent[0][1])]
        text = gw.channel.sent[0][1][0].text
        assert text.startswith("Your name transfer application")
        assert app_no in text
        assert "documents under review" in text
        with unit_of_work(session_factory) as session:
            found = applications.get_by_no(session, app_no)
            assert found is not None
            applications.advance(session, settings, found, "need_more_docs", actor="staff", now=t0)
        assert await notifier.run_once() == 1
        assert "needs more documents" in gw.channel.texts()[1]

        # the API has no push: the notice waits in the transcript for the integration to read
        response = await gw.client.get("/api/v1/conversations/api:bob/messages")
        messages = (await response.json())["messages"]
        assert messages[-1]["sender"] == "system"
        assert number in messages[-1]["text"]
    statuses = {(d.source, d.status) for d in _rows(session_factory, NotificationDelivery)}
    assert statuses == {("application", "sent"), ("ticket", "stored")}


async def test_overdue_is_told_once(
    rasa: FakeRasa,
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    t0 = datetime.now(UTC)
    async with running_gateway(settings_for(rasa, db_url), rasa) as gw:
        number = _fault(session_factory, settings, "fake:42", t0)
        with unit_of_work(session_factory) as session:
            ticket = session.scalars(select(Ticket).where(Ticket.ticket_no == number)).one()
            assert ticket.respond_due_at is not None
            due = ticket.respond_due_at
        clock = [t0]
        notifier = _notifier(gw, session_factory, settings, lambda: clock[0])
        await notifier.prepare()
        assert await notifier.run_once() == 0
        clock[0] = due + timedelta(minutes=1)
        assert await notifier.run_once() == 1
        clock[0] = due + timedelta(minutes=30)
        assert await notifier.run_once() == 0
        text = gw.channel.texts()[0]
        assert number in text
        assert "已超过承诺时限" in text
        local = due.astimezone(settings.tz)
        assert f"{local:%m-%d %H:%M}" in text
    assert [d.source for d in _rows(session_factory, NotificationDelivery)] == ["ticket_overdue"]
    assert _rows(session_factory, Application)  # the demo's applications were looked at too


async def test_the_gateway_runs_the_notifier(
    rasa: FakeRasa,
    db_url: str,
    seeded: Any,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    t0 = datetime.now(UTC)
    number = _fault(session_factory, settings, "fake:42", t0)
    async with running_gateway(settings_for(rasa, db_url, notify_interval=0.1), rasa) as gw:
        _advance(session_factory, number, "dispatched", t0 + timedelta(minutes=1))
        await eventually(lambda: len(gw.channel.sent) == 1)
        await asyncio.sleep(0.3)
        assert len(gw.channel.sent) == 1

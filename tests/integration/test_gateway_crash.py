"""No customer message is lost or answered twice when the gateway dies: the real gateway
(`create_app`) on a real database (SQLite and PostgreSQL) with the fake Rasa, started on what a
killed process left behind (rows written as the router writes them).

- a message cut off in the middle of its turn is answered at the next start, whatever its age,
  and one stuck half-way is answered without a restart;
- replies stored but not sent when the process died are sent at the next start, once;
- a resend (JSON API, web chat) of a message stored but never answered gets its answer;
- two gateways started at once answer such a message once (the database claims it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.keys import CORE_ROUTER
from bot.messages import Reply
from bot.router import Router
from bot.settings import GatewaySettings
from store.db import unit_of_work
from store.models import Message
from store.services import transcripts
from tests.fakes.gateway import RecordingChannel, eventually, message, settings_for
from tests.fakes.rasa import FakeRasa

Client = TestClient[web.Request, web.Application]


@dataclass
class Gateway:
    client: Client
    router: Router
    channel: RecordingChannel


@asynccontextmanager
async def started(
    settings: GatewaySettings, channel: RecordingChannel | None = None, *, channels: bool = False
) -> AsyncIterator[Gateway]:
    """The gateway, with a recording channel 'fake' registered before the retry worker starts
    (as the real channels are)."""
    app = create_app(settings, channels=channels)
    recorder = channel or RecordingChannel()

    async def register(app: web.Application) -> None:
        app[CORE_ROUTER].register(recorder)

    app.on_startup.insert(1, register)  # after the core, before the retry worker
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Gateway(client, app[CORE_ROUTER], recorder)


def left_behind(
    factory: sessionmaker[Session],
    text: str,
    *,
    cid: str = "fake:42",
    status: str = "received",
    age: timedelta = timedelta(seconds=2),
    external_id: str | None = None,
    replies: Sequence[str] = (),
) -> int:
    """A customer message as a killed gateway left it: 'received' (cut off in its turn), or
    'processed' with `replies` stored but not sent ('pending' outbound). Its id."""
    channel, _, chat = cid.partition(":")
    now = datetime.now(UTC)
    with unit_of_work(factory) as session:
        conversation = transcripts.open_conversation(
            session, conversation_id=cid, channel=channel, chat_id=chat, now=now - age
        )
        row = transcripts.record_inbound(
            session,
            conversation,
            text=text,
            now=now - age,
            external_id=external_id,
            status=status,
        )
        if replies:
            transcripts.record_answer(
                session,
                conversation_pk=conversation.id,
                inbound_id=row.id,
                replies=[transcripts.OutboundText(r) for r in replies],
                now=now - age,
                inbound_status="processed",
                outbound_status="pending",
            )
        return row.id


def statuses(factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with unit_of_work(factory) as session:
        rows = session.scalars(select(Message).order_by(Message.id))
        return [(m.direction, m.text, m.status) for m in rows]


async def settled(check: Callable[[], Any]) -> None:
    """`check` holds, and still holds a moment later (nothing happens twice)."""
    await eventually(check)
    await asyncio.sleep(0.5)
    assert check()


# --- what a killed gateway left: answered at the next start, or while running ----------------


async def test_a_message_cut_off_mid_turn_is_answered_at_the_next_start_whatever_its_age(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """Killed seconds ago (not the 90 s an old rule waited for): answered at once, once."""
    left_behind(session_factory, "东山村停电了", age=timedelta(seconds=3))
    async with started(settings_for(rasa, db_url)) as gw:
        await settled(lambda: gw.channel.texts() == ["收到：东山村停电了"])
    assert rasa.texts() == ["东山村停电了"]
    assert statuses(session_factory) == [
        ("in", "东山村停电了", "processed"),
        ("out", "收到：东山村停电了", "processed"),
    ]


async def test_a_message_stuck_half_way_is_answered_without_a_restart(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """Left by another gateway process that died while this one runs: the retry worker's
    sweep finds it once it is older than any turn can be."""
    async with started(settings_for(rasa, db_url)) as gw:
        left_behind(session_factory, "还没来电", age=timedelta(minutes=5))
        gw.router.pending_added.set()  # the worker's next pass (it also polls by itself)
        await settled(lambda: gw.channel.texts() == ["收到：还没来电"])
        young = left_behind(session_factory, "又停电了", cid="fake:43", age=timedelta(seconds=1))
        gw.router.pending_added.set()
        await asyncio.sleep(0.5)  # one a live gateway may still be answering is left alone
        assert (("in", "又停电了", "received")) in statuses(session_factory)
        assert young
    assert rasa.texts() == ["还没来电"]


async def test_a_turn_failing_half_way_is_answered_by_the_retry_worker(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    async with started(settings_for(rasa, db_url)) as gw:
        transcript = gw.router._transcript
        store_answer = transcript.answer_turn
        failures = [RuntimeError("database went away while storing the replies")]

        async def flaky(*args: Any, **kwargs: Any) -> Any:
            if failures:
                raise failures.pop()
            return await store_answer(*args, **kwargs)

        transcript.answer_turn = flaky  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            await gw.router.handle(message("东山村停电了"))
        # Rasa answered it once (recorded in its tracker): the retry delivers that turn
        await settled(lambda: gw.channel.texts() == ["收到：东山村停电了"])
    assert rasa.texts() == ["东山村停电了"]
    assert [s for d, _, s in statuses(session_factory) if d == "in"] == ["processed"]


async def test_two_gateways_starting_at_once_answer_a_left_message_once(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    for n in range(6):
        left_behind(session_factory, f"停电了{n}", cid=f"fake:{n}")
    settings = settings_for(rasa, db_url)
    async with started(settings) as one, started(settings) as two:
        both = lambda: one.channel.texts() + two.channel.texts()  # noqa: E731
        await settled(lambda: len(both()) >= 6)
        assert sorted(both()) == [f"收到：停电了{n}" for n in range(6)]
    assert sorted(rasa.texts()) == [f"停电了{n}" for n in range(6)]


# --- replies stored but not sent ---------------------------------------------------------------


async def test_replies_cut_off_before_sending_are_sent_at_the_next_start_once(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    left_behind(
        session_factory, "东山村停电了", status="processed", replies=["工单 T1", "请保持电话畅通"]
    )
    async with started(settings_for(rasa, db_url)) as gw:
        await settled(lambda: gw.channel.texts() == ["工单 T1", "请保持电话畅通"])
    assert not rasa.texts()  # answered before the crash: not asked again
    assert [s for d, _, s in statuses(session_factory) if d == "out"] == ["processed"] * 2


class Refusing(RecordingChannel):
    """A channel that refuses deliveries while `refuse` is set (a customer who blocked the
    bot: Telegram's 403)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = False

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        if self.refuse:
            raise PermissionError("Forbidden: bot was blocked by the user")
        await super().send(chat_id, replies)


async def test_pushed_replies_are_marked_sent_and_a_refused_one_failed(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """`push`: the router sends the replies itself (Telegram), each marked once sent."""
    channel = Refusing()
    async with started(settings_for(rasa, db_url), channel) as gw:
        result = await gw.router.handle(message("查电费", external_id="1"), push=True)
        assert result.delivered
        assert gw.channel.texts() == ["收到：查电费", "请选择"]
        channel.refuse = True
        await gw.router.handle(message("停电了", external_id="2"), push=True)
        channel.refuse = False
        gw.router.pending_added.set()
        await settled(lambda: len(gw.channel.texts()) == 2)  # not retried for ever
    outbound = [(t, s) for d, t, s in statuses(session_factory) if d == "out"]
    assert outbound == [
        ("收到：查电费", "processed"),
        ("请选择", "processed"),
        ("收到：停电了", "failed"),
    ]


class NotReady(RecordingChannel):
    """A channel that cannot send yet (Telegram still connecting after a restart)."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = False

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        if not self.ready:
            raise ConnectionError("not connected yet")
        await super().send(chat_id, replies)


async def test_replies_wait_for_a_channel_that_cannot_take_them_yet(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    channel = NotReady()
    async with started(settings_for(rasa, db_url), channel) as gw:
        result = await gw.router.handle(message("停电了"), push=True)
        assert [r.text for r in result.replies] == ["收到：停电了"]
        assert ("out", "收到：停电了", "pending") in statuses(session_factory)
        channel.ready = True
        await settled(lambda: gw.channel.texts() == ["收到：停电了"])
    assert rasa.texts() == ["停电了"]


# --- resends of a message stored but never answered ------------------------------------------


async def test_an_api_resend_of_a_message_never_answered_gets_its_answer(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """Stored by a gateway that died (or whose turn was cut short) before answering: the
    caller's retry with the same message_id gets the answer, not an empty duplicate."""
    async with started(settings_for(rasa, db_url)) as gw:
        left_behind(session_factory, "东山村停电了", cid="api:crm-1", external_id="m-1")
        body = {"sender": "crm-1", "text": "东山村停电了", "message_id": "m-1"}
        response = await gw.client.post("/api/v1/messages", json=body)
        assert response.status == 200
        answer = await response.json()
        assert not answer["duplicate"]
        assert [r["text"] for r in answer["replies"]] == ["收到：东山村停电了"]
        again = await (await gw.client.post("/api/v1/messages", json=body)).json()
        assert again["duplicate"]
        assert again["replies"] == answer["replies"]
    assert rasa.texts() == ["东山村停电了"]


async def test_a_resend_racing_the_retry_worker_is_answered_once(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    async with started(settings_for(rasa, db_url)) as gw:
        for n in range(5):
            left_behind(session_factory, f"停电了{n}", cid=f"fake:{n}", external_id=f"u{n}")
        await gw.router.recover()
        rasa.delay = 0.2
        resends = [
            gw.router.handle(message(f"停电了{n}", chat=str(n), external_id=f"u{n}"))
            for n in range(5)
        ]
        results = await asyncio.gather(gw.router.drain_all(), *resends)
        answered_by_resend = [r.replies for r in results[1:] if not r.duplicate]
        await settled(
            lambda: (
                len(gw.channel.texts()) + len(answered_by_resend) == 5
                and not any(s == "pending" for _, _, s in statuses(session_factory))
            )
        )
    assert sorted(rasa.texts()) == [f"停电了{n}" for n in range(5)]


async def connect(client: Client, session: str) -> tuple[aiohttp.ClientWebSocketResponse, Any]:
    origin = str(client.make_url("/")).rstrip("/")
    ws = await client.ws_connect("/ws", headers={"Origin": origin})
    await ws.send_json({"type": "hello", "session": session, "language": "zh"})
    return ws, await receive(ws)


async def receive(ws: aiohttp.ClientWebSocketResponse, wait: float = 10) -> dict[str, Any]:
    frame = await ws.receive(timeout=wait)
    assert frame.type == aiohttp.WSMsgType.TEXT, frame
    event = json.loads(frame.data)
    assert isinstance(event, dict)
    return event


def reply_event(text: str) -> dict[str, Any]:
    return {"type": "reply", "text": text, "buttons": []}


async def events_within(ws: aiohttp.ClientWebSocketResponse, quiet: float) -> list[Any]:
    """The events that arrive until none has for `quiet` seconds."""
    events = []
    with contextlib.suppress(TimeoutError):
        while True:
            events.append(await receive(ws, wait=quiet))
    return events


async def test_a_web_chat_resend_of_a_message_never_answered_gets_its_answer(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """The browser resends what was never acknowledged, with the same id, after the history
    (docs/webchat.md): stored by a gateway that died before answering, it is answered now."""
    session, message_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with started(settings_for(rasa, db_url), channels=True) as gw:
        left_behind(session_factory, "我家停电了", cid=f"web:{session}", external_id=message_id)
        ws, history = await connect(gw.client, session)
        assert [m["text"] for m in history["messages"]] == ["我家停电了"]
        await ws.send_json({"type": "message", "text": "我家停电了", "id": message_id})
        seen = [await receive(ws) for _ in range(3)]
        await ws.close()
        _, final = await connect(gw.client, session)
    assert seen[1:] == [{"type": "ack", "id": message_id}, reply_event("收到：我家停电了")]
    assert [m["text"] for m in final["messages"]] == ["我家停电了", "收到：我家停电了"]
    assert rasa.texts() == ["我家停电了"]


async def test_a_reply_the_worker_pushes_while_a_tab_reconnects_is_shown_once(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """The retry worker answers a message left pending (an outage, a crash) while the
    customer's tab comes back: the reply is in the tab's history or pushed after it, never
    both."""
    session = str(uuid.uuid4())
    message_id = str(uuid.uuid4())
    left_behind(
        session_factory,
        "我家停电了",
        cid=f"web:{session}",
        external_id=message_id,
        status="pending",
    )
    async with started(settings_for(rasa, db_url), channels=True) as gw:
        transcript = gw.router._transcript
        store_answer = transcript.answer_turn
        committed, tab_back = asyncio.Event(), asyncio.Event()

        async def then_wait(*args: Any, **kwargs: Any) -> Any:
            stored = await store_answer(*args, **kwargs)
            committed.set()  # the reply is stored: the tab says hello before it is pushed
            with contextlib.suppress(TimeoutError):  # (if the gateway lets it)
                await asyncio.wait_for(tab_back.wait(), 1.0)
            return stored

        transcript.answer_turn = then_wait  # type: ignore[method-assign]
        gw.router.pending_added.set()
        await asyncio.wait_for(committed.wait(), 10)
        ws, history = await connect(gw.client, session)
        tab_back.set()
        later = await events_within(ws, 1.0)
        await ws.close()
    in_history = [m["text"] for m in history["messages"] if m["direction"] == "out"]
    pushed = [e["text"] for e in later if e["type"] == "reply"]
    assert in_history + pushed == ["收到：我家停电了"]


# --- a conversation's next message is stored at once --------------------------------------


async def test_a_message_is_stored_at_once_while_an_earlier_one_has_its_turn(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """Its channel may confirm it to its source right away (Telegram's offset): a crash
    during the earlier turn loses neither."""
    rasa.delay = 0.8  # within the gateway's Rasa timeout (1 s in these tests)
    async with started(settings_for(rasa, db_url)) as gw:
        stored: list[str] = []
        first = asyncio.create_task(
            gw.router.handle(message("一", external_id="1"), on_stored=lambda: stored.append("一"))
        )
        await eventually(lambda: rasa.requests == 1)
        second = asyncio.create_task(
            gw.router.handle(message("二", external_id="2"), on_stored=lambda: stored.append("二"))
        )
        await eventually(lambda: stored == ["一", "二"], within=0.5)  # before the first turn ends
        assert not first.done()
        assert [t for d, t, _ in statuses(session_factory) if d == "in"] == ["一", "二"]
        results = await asyncio.gather(first, second)
    assert [r.replies[0].text for r in results] == ["收到：一", "收到：二"]
    assert rasa.texts() == ["一", "二"]  # in order

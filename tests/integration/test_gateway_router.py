"""The router against a fake Rasa and a real database (SQLite and PostgreSQL): persistence
before the reply, dedup, ordering, polite refusals, Rasa outages and the retry worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.messages import Attachment
from bot.rasa_client import MESSAGE_KEY
from store.db import unit_of_work
from store.models import Conversation, Message
from tests.fakes.gateway import (
    OPERATOR,
    Harness,
    eventually,
    message,
    running_gateway,
    settings_for,
)
from tests.fakes.rasa import FakeRasa, default_responder, fake_rasa_server

BUSY_ZH = "系统繁忙，您的消息已记录，稍后会自动回复您"


@pytest.fixture
async def gw(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> AsyncIterator[Harness]:
    async with running_gateway(settings_for(rasa, db_url, max_text_chars=200), rasa) as harness:
        yield harness


def _messages(factory: sessionmaker[Session]) -> list[Message]:
    with unit_of_work(factory) as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def _inbound(factory: sessionmaker[Session]) -> list[Message]:
    return [m for m in _messages(factory) if m.direction == "in"]


async def test_message_is_stored_before_rasa_answers(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    seen: list[list[tuple[str, str]]] = []

    def responder(sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        seen.append([(m.text, m.status) for m in _inbound(session_factory)])
        return default_responder(sender, text, metadata)

    rasa.responder = responder
    result = await gw.router.handle(message("我家停电了", external_id="u1"))

    assert seen == [[("我家停电了", "received")]]
    assert [r.text for r in result.replies] == ["收到：我家停电了"]
    assert not result.degraded
    assert not result.duplicate
    rows = _messages(session_factory)
    assert [(m.direction, m.sender, m.status, m.text) for m in rows] == [
        ("in", "customer", "processed", "我家停电了"),
        ("out", "bot", "processed", "收到：我家停电了"),
    ]
    assert rows[1].in_reply_to_id == rows[0].id
    turn = rasa.turns[0]
    assert turn.sender == "fake:42"
    assert turn.input_channel == "fake"
    assert {k: turn.metadata[k] for k in ("channel", "language", "user_id")} == {
        "channel": "fake",
        "language": "zh",
        "user_id": "u42",
    }


async def test_buttons_language_and_intent_are_kept(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    result = await gw.router.handle(message("查下电费"))
    assert [b.title for b in result.replies[1].buttons] == ["查本月", "转人工"]
    await gw.router.handle(message("no power at my house"))
    assert rasa.turns[1].metadata["language"] == "en"
    await gw.router.handle(message("3301000001"))  # digits: the conversation stays English
    assert rasa.turns[2].metadata["language"] == "en"

    def intents() -> list[tuple[str | None, float | None]]:
        return [(m.intent, m.intent_confidence) for m in _inbound(session_factory)]

    await eventually(lambda: all(name for name, _ in intents()))
    assert intents() == [
        ("query_bill", pytest.approx(0.91)),
        ("report_fault", pytest.approx(0.95)),
        ("nlu_fallback", pytest.approx(0.31)),
    ]
    history = await gw.router.history("fake:42")
    assert [(e.direction, e.sender) for e in history[:3]] == [
        ("in", "customer"),
        ("out", "bot"),
        ("out", "bot"),
    ]
    assert history[2].buttons[0].payload == "/query_bill"
    assert history[0].at.endswith("+00:00")
    assert len(await gw.router.history("fake:42", limit=2)) == 2
    with unit_of_work(session_factory) as session:
        conversation = session.scalars(select(Conversation)).one()
        assert (conversation.conversation_id, conversation.language) == ("fake:42", "en")


async def test_the_gateway_channel_says_the_intent_without_a_tracker_read(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    """Rasa's answer on the gateway channel carries the message's parse data: the intent is
    recorded (and the handoff triggers decide) without asking Rasa a second time."""
    for text in ["查下电费", "no power at my house", "3301000001"]:
        await gw.router.handle(message(text))

    def intents() -> list[str | None]:
        return [m.intent for m in _inbound(session_factory)]

    await eventually(lambda: all(intents()))
    assert intents() == ["query_bill", "report_fault", "nlu_fallback"]
    assert rasa.requests == 3
    assert rasa.tracker_requests == []


async def test_without_the_gateway_channel_the_rest_webhook_and_the_tracker_serve(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """A Rasa whose credentials.yml lacks the gateway channel (404) still answers through the
    REST webhook; the intent then comes from one small tracker request per turn (no events),
    and the events are read only when a later message replaced the tracker's latest one."""
    async with (
        fake_rasa_server(gateway_channel=False) as rasa,
        running_gateway(settings_for(rasa, db_url), rasa) as gw,
    ):
        for text in ["查下电费", "no power at my house", "3301000001"]:
            result = await gw.router.handle(message(text))
            assert result.replies[0].text == f"收到：{text}"

        def intents() -> list[str | None]:
            return [m.intent for m in _inbound(session_factory)]

        await eventually(lambda: all(intents()))
        assert intents() == ["query_bill", "report_fault", "nlu_fallback"]
        assert rasa.tracker_requests == ["NONE", "NONE", "NONE"]

        # the latest message is another one: the intent comes from the events
        first = rasa.trackers["fake:42"][0]["metadata"][MESSAGE_KEY]
        rasa.tracker_requests.clear()
        guess = await gw.router._rasa.intent_of("fake:42", str(first))
        assert guess is not None
        assert guess.name == "query_bill"
        assert rasa.tracker_requests == ["NONE", "ALL"]


async def test_duplicates_are_processed_once_even_concurrently(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    rasa.delay = 0.2
    results = await asyncio.gather(
        *(gw.router.handle(message("停电了", external_id="update-7")) for _ in range(5))
    )
    assert [r.duplicate for r in results].count(False) == 1
    assert all(r.replies == () for r in results if r.duplicate)
    again = await gw.router.handle(message("停电了", external_id="update-7"))
    assert again.duplicate
    assert rasa.texts() == ["停电了"]
    assert len(_inbound(session_factory)) == 1
    # the same id in another conversation is another message
    other = await gw.router.handle(message("停电了", chat="43", external_id="update-7"))
    assert not other.duplicate


async def test_one_conversation_is_handled_in_order(gw: Harness, rasa: FakeRasa) -> None:
    rasa.delay = 0.1
    texts = [f"第{i}条" for i in range(5)]
    others = [message("另一个人", chat="99")]
    await asyncio.gather(
        *(gw.router.handle(message(t)) for t in texts), *map(gw.router.handle, others)
    )
    mine = [t.text for t in rasa.turns if t.sender == "fake:42"]
    assert mine == texts


@pytest.mark.parametrize(
    ("text", "attachments", "language", "expected"),
    [
        ("   \n\t", (), None, "请用文字描述您的问题"),
        ("", (), "en", "Please describe your problem in words"),
        ("", (Attachment("voice", {"duration": 3}),), None, "暂时只能看懂文字"),
        ("", (Attachment("sticker"), Attachment("photo")), "en", "only read text"),
        ("停" * 201, (), None, "消息有点长（超过200个字）"),
        ("a" * 201, (), "en", "over 200 characters"),
    ],
)
async def test_unusable_messages_get_a_polite_reply_without_rasa(
    gw: Harness,
    rasa: FakeRasa,
    session_factory: sessionmaker[Session],
    text: str,
    attachments: tuple[Attachment, ...],
    language: str | None,
    expected: str,
) -> None:
    result = await gw.router.handle(message(text, attachments=attachments, language=language))
    assert len(result.replies) == 1
    assert expected in result.replies[0].text
    assert rasa.turns == []
    rows = _messages(session_factory)
    assert [(m.direction, m.sender, m.status) for m in rows] == [
        ("in", "customer", "processed"),
        ("out", "system", "processed"),
    ]
    assert [a["kind"] for a in rows[0].attachments] == [a.kind for a in attachments]


async def test_a_bare_location_goes_to_rasa_as_words(gw: Harness, rasa: FakeRasa) -> None:
    location = Attachment("location", {"latitude": 30.123456, "longitude": 120.5})
    await gw.router.handle(message("", attachments=(location,)))
    assert rasa.texts() == ["我的位置：纬度30.12346，经度120.50000"]
    assert rasa.turns[0].metadata["location"] == {"latitude": 30.123456, "longitude": 120.5}


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("⚡🔌 没电了 👨‍👩‍👧", "⚡🔌 没电了 👨‍👩‍👧"),
        ("'; DROP TABLE messages; --", "'; DROP TABLE messages; --"),
        ("3301000001' OR '1'='1", "3301000001' OR '1'='1"),
        ("停电\x00了\x07\x1b[31m", "停电了[31m"),
        ("bad \ud800 surrogate", "bad \ufffd surrogate"),
        ("\ufeff\r\n查电费\r\n", "查电费"),
    ],
)
async def test_odd_input_is_stored_cleanly(
    gw: Harness,
    rasa: FakeRasa,
    session_factory: sessionmaker[Session],
    text: str,
    stored: str,
) -> None:
    result = await gw.router.handle(message(text))
    assert not result.degraded
    assert rasa.texts() == [stored]
    rows = _messages(session_factory)
    assert rows[0].text == stored
    assert rows[1].text == f"收到：{stored}"
    with unit_of_work(session_factory) as session:  # the tables are intact
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1


async def test_rasa_down_degrades_then_retries_in_order_exactly_once(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    async with running_gateway(settings_for(rasa, db_url, rasa_timeout=10), rasa) as gw:
        await _down_and_back(gw, rasa, session_factory)


async def _down_and_back(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    await gw.router.handle(message("你好"))
    await rasa.down()
    started = time.monotonic()
    first = await gw.router.handle(message("东山村停电了", external_id="1"))
    assert first.degraded
    assert time.monotonic() - started < 5  # refused: no waiting for the 10 s timeout
    assert BUSY_ZH in first.replies[0].text
    second = await gw.router.handle(message("还没来电", external_id="2"))
    assert second.degraded
    english = await gw.router.handle(message("no power here", chat="7"))
    assert english.degraded
    assert english.replies[0].text.startswith("The system is busy")

    health = await gw.client.get("/health", headers=OPERATOR)
    assert health.status == 503
    body = await health.json()
    keys = ("status", "rasa", "actions", "database", "pending", "holding")
    assert {k: body[k] for k in keys} == {
        "status": "degraded",
        "rasa": "down",
        "actions": "ok",
        "database": "ok",
        "pending": 3,
        "holding": True,
    }
    statuses = [(m.text, m.status) for m in _inbound(session_factory)]
    assert statuses[1:] == [
        ("东山村停电了", "pending"),
        ("还没来电", "pending"),
        ("no power here", "pending"),
    ]

    await rasa.up()
    await eventually(lambda: len(gw.channel.sent) == 3)
    await asyncio.sleep(0.5)  # nothing is delivered twice
    assert gw.channel.sent == [
        ("42", (replace(first.replies[0], text="收到：东山村停电了"),)),
        ("42", (replace(first.replies[0], text="收到：还没来电"),)),
        ("7", (replace(first.replies[0], text="收到：no power here"),)),
    ]
    assert rasa.texts() == ["你好", "东山村停电了", "还没来电", "no power here"]
    assert all(m.status == "processed" for m in _inbound(session_factory))
    assert (await gw.client.get("/health")).status == 200
    assert (await (await gw.client.get("/health", headers=OPERATOR)).json())["holding"] is False
    after = await gw.router.handle(message("谢谢"))
    assert not after.degraded


async def test_a_message_kept_late_in_an_outage_is_answered_soon_after_rasa_is_back(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """The probes of a down Rasa back off (1, 2, 4, 8 s ... up to RASA_RETRY_MAX_BACKOFF), but
    a customer who writes when Rasa is back is not left with '系统繁忙' for the rest of that
    back-off: their message brings the next probe forward."""
    async with running_gateway(settings_for(rasa, db_url, retry_max_backoff=600), rasa) as gw:
        await rasa.down()
        assert (await gw.router.handle(message("停电了", chat="1"))).degraded
        await asyncio.sleep(7.5)  # probes at about 0, 1, 3 and 7 s: the next one 8 s later
        await rasa.up()
        kept = await gw.router.handle(message("还没来电", chat="2"))
        assert kept.degraded  # the gateway has not seen Rasa back yet
        started = time.monotonic()
        await eventually(lambda: len(gw.channel.sent) == 2, within=15)
        assert time.monotonic() - started < 4  # not the 8 s the back-off had left
        assert sorted(gw.channel.texts()) == ["收到：停电了", "收到：还没来电"]
        assert not (await gw.router.handle(message("谢谢", chat="2"))).degraded


async def test_a_customer_whose_kept_message_was_answered_is_not_kept_again(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """Rasa's first turn after an outage ends the holding: a customer who reads the answer to
    their kept message and writes again is answered, while the retry worker still answers
    the other conversations' kept messages."""
    async with running_gateway(settings_for(rasa, db_url, rasa_timeout=10), rasa) as gw:
        await rasa.down()
        assert (await gw.router.handle(message("停电了", chat="1"))).degraded
        assert (await gw.router.handle(message("停电了", chat="2"))).degraded
        rasa.delay = 1.0  # each kept message's turn takes a second
        await rasa.up()
        await eventually(lambda: [chat for chat, _ in gw.channel.sent] == ["1"])
        again = await gw.router.handle(message("还没来电", chat="1"))
        assert not again.degraded  # the other conversation's kept message is still running
        assert [r.text for r in again.replies] == ["收到：还没来电"]
        await eventually(lambda: len(gw.channel.sent) == 2)
        assert sorted(rasa.texts()) == sorted(["停电了", "停电了", "还没来电"])  # each once


async def test_a_slow_rasa_is_not_asked_twice(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """Rasa answering after the timeout still records the turn: the retry finds it in the
    tracker and delivers those replies instead of running the turn again."""
    settings = settings_for(rasa, db_url, rasa_timeout=0.3)
    async with running_gateway(settings, rasa) as gw:
        rasa.delay = 2.0
        started = time.monotonic()
        result = await gw.router.handle(message("东山村停电了"))
        assert result.degraded
        assert time.monotonic() - started < 1.5
        rasa.delay = 0
        await eventually(lambda: len(gw.channel.sent) == 1)
        assert gw.channel.texts() == ["收到：东山村停电了"]
        assert rasa.texts() == ["东山村停电了"]
        assert [m.status for m in _inbound(session_factory)] == ["processed"]


async def test_action_server_down_counts_as_down(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    rasa.actions_up = False
    result = await gw.router.handle(message("查电费"))
    assert result.degraded
    health = await (await gw.client.get("/health", headers=OPERATOR)).json()
    assert (health["rasa"], health["actions"]) == ("ok", "down")
    rasa.actions_up = True
    await eventually(lambda: len(gw.channel.texts()) == 2)
    assert gw.channel.texts() == ["收到：查电费", "请选择"]


async def test_a_refused_message_fails_politely(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    rasa.fail_status = 400
    result = await gw.router.handle(message("停电了"))
    assert "暂时处理不了" in result.replies[0].text or "处理不了" in result.replies[0].text
    assert [m.status for m in _inbound(session_factory)] == ["failed"]
    assert not gw.router._backends.down


async def test_a_failing_channel_does_not_stop_the_retries(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    await rasa.down()
    await gw.router.handle(message("停电了", chat="1"))
    await gw.router.handle(message("停电了", chat="2"))
    gw.channel.fail = True
    await rasa.up()
    await eventually(lambda: all(m.status == "processed" for m in _inbound(session_factory)))
    outbound = [m for m in _messages(session_factory) if m.sender == "bot"]
    assert len(outbound) == 2


async def test_shutdown_finishes_the_message_being_handled(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    rasa.delay = 0.4
    in_flight = asyncio.create_task(gw.router.handle(message("停电了")))
    await eventually(lambda: rasa.requests == 1)
    await gw.router.close(5.0)
    result = in_flight.result()
    assert not result.degraded
    assert [r.text for r in result.replies] == ["收到：停电了"]
    # a message arriving during the shutdown (e.g. already fetched from Telegram) is kept for
    # the next start, and the customer is told the system is busy: nothing is lost
    late = await gw.router.handle(message("还在吗", external_id="late-1"))
    assert late.degraded
    assert "系统繁忙" in late.replies[0].text
    assert [(m.text, m.status) for m in _inbound(session_factory)][-1] == ("还在吗", "pending")
    again = await gw.router.handle(message("还在吗", external_id="late-1"))
    assert again.duplicate


async def test_shutdown_is_bounded_and_leaves_the_rest_pending(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    async with running_gateway(settings_for(rasa, db_url, rasa_timeout=30), rasa) as gw:
        rasa.delay = 10  # within the timeout: the turn would succeed, but too late
        in_flight = asyncio.create_task(gw.router.handle(message("停电了")))
        await eventually(lambda: rasa.requests == 1)
        started = time.monotonic()
        await gw.router.close(0.2)
        assert time.monotonic() - started < 3
        with pytest.raises(asyncio.CancelledError):
            await in_flight
        assert [m.status for m in _inbound(session_factory)] == ["pending"]
        rasa.delay = 0

"""The gateway's transcript and notification bookkeeping, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.models import Conversation, Message, NotificationDelivery
from store.services import notifications, transcripts
from store.services.transcripts import DuplicateMessage, OutboundText


def _touch(session: Session, now: datetime, cid: str = "telegram:42", **kw: str) -> Conversation:
    channel, chat = cid.split(":", 1)
    return transcripts.touch_conversation(
        session, conversation_id=cid, channel=channel, chat_id=chat, now=now, **kw
    )


def test_conversation_created_once_and_kept_up_to_date(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        first = _touch(session, now, user_id="u1", language="zh")
    later = now + timedelta(minutes=5)
    with unit_of_work(session_factory) as session:
        again = _touch(session, later, language="en")
        assert again.id == first.id
    with unit_of_work(session_factory) as session:
        rows = session.scalars(select(Conversation)).all()
        assert len(rows) == 1
        row = rows[0]
        assert (row.channel, row.chat_id, row.user_id) == ("telegram", "42", "u1")
        assert row.language == "en"
        assert row.created_at == now
        assert row.last_activity_at == later


def test_open_conversation_reads_creates_and_updates_only_what_changed(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    """The per-message path: created on first contact without an activity update later, user
    id and language written only when they change, the previous language offered to the
    function that picks the next."""
    seen: list[str | None] = []

    def pick(previous: str | None) -> str:
        seen.append(previous)
        return "en"

    def open_(session: Session, **kw: object) -> transcripts.ConversationRef:
        return transcripts.open_conversation(
            session, conversation_id="web:abc", channel="web", chat_id="abc", **kw
        )

    with unit_of_work(session_factory) as session:
        first = open_(session, now=now, user_id="u1", language="zh")
    assert (first.conversation_id, first.channel, first.chat_id) == ("web:abc", "web", "abc")
    assert (first.user_id, first.language) == ("u1", "zh")
    later = now + timedelta(minutes=5)
    with unit_of_work(session_factory) as session:
        again = open_(session, now=later, language=pick)
        assert again.id == first.id
        assert (again.user_id, again.language) == ("u1", "en")  # no user id given: kept
        unchanged = open_(session, now=later, user_id="u1", language="en")
        assert unchanged == again
    assert seen == ["zh"]
    with unit_of_work(session_factory) as session:
        row = session.scalars(select(Conversation)).one()
        assert (row.user_id, row.language) == ("u1", "en")
        assert row.created_at == now
        assert row.last_activity_at == now  # the answer sets it, not the message


def test_duplicate_external_id_is_refused(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        conversation = _touch(session, now)
        transcripts.record_inbound(session, conversation, text="停电了", now=now, external_id="7")
        transcripts.record_inbound(session, conversation, text="a", now=now)  # no id: no dedup
        transcripts.record_inbound(session, conversation, text="b", now=now)
        other = _touch(session, now, "web:abc")
        transcripts.record_inbound(session, other, text="x", now=now, external_id="7")
    with pytest.raises(DuplicateMessage, match="'7' was already received"):
        _record_again(session_factory, now)
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 4


def _record_again(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        conversation = _touch(session, now)
        transcripts.record_inbound(session, conversation, text="停电了", now=now, external_id="7")


def test_concurrent_duplicates_store_one(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    """The unique constraint, not a prior read, decides: of eight simultaneous deliveries of the
    same message exactly one is stored."""
    barrier = threading.Barrier(8)

    def deliver(_: int) -> bool:
        barrier.wait()
        try:
            with unit_of_work(session_factory) as session:
                conversation = _touch(session, now, "telegram:99")
                transcripts.record_inbound(
                    session, conversation, text="hi", now=now, external_id="u-1"
                )
        except DuplicateMessage:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(deliver, range(8)))
    assert outcomes.count(True) == 1
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1


def test_replies_history_and_intent(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        conversation = _touch(session, now)
        inbound = transcripts.record_inbound(session, conversation, text="查电费", now=now)
        replies = [
            OutboundText("请提供户号", buttons=[{"title": "取消", "payload": "/deny"}]),
            OutboundText("", image="https://example.org/a.png"),
        ]
        transcripts.record_outbound(
            session, conversation, replies, now=now + timedelta(seconds=1), in_reply_to=inbound.id
        )
        transcripts.set_intent(session, inbound.id, "query_bill", 0.93)
        inbound_id = inbound.id
    with unit_of_work(session_factory) as session:
        history = transcripts.recent(session, "telegram:42")
        assert [(m.direction, m.sender, m.text) for m in history] == [
            ("in", "customer", "查电费"),
            ("out", "bot", "请提供户号"),
            ("out", "bot", ""),
        ]
        assert history[1].buttons == [{"title": "取消", "payload": "/deny"}]
        assert history[2].image == "https://example.org/a.png"
        assert history[0].intent == "query_bill"
        assert history[0].intent_confidence == pytest.approx(0.93)
        assert [m.text for m in transcripts.recent(session, "telegram:42", limit=2)] == [
            "请提供户号",
            "",
        ]
        assert [m.id for m in transcripts.replies_to(session, inbound_id)] == [
            history[1].id,
            history[2].id,
        ]
        assert transcripts.recent(session, "telegram:nobody") == []


def test_pending_messages_in_order_and_claimed_once(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        a = _touch(session, now, "telegram:1")
        b = _touch(session, now, "web:2")
        ids = [
            transcripts.record_inbound(session, conv, text=t, now=now, status="pending").id
            for conv, t in ((b, "b1"), (a, "a1"), (b, "b2"))
        ]
        transcripts.record_inbound(session, a, text="done", now=now, status="processed")
    with unit_of_work(session_factory) as session:
        assert transcripts.count_pending(session) == 3
        assert transcripts.pending_conversations(session) == ["web:2", "telegram:1"]
        assert [m.text for m in transcripts.pending_inbound(session, "web:2")] == ["b1", "b2"]
        assert transcripts.set_status(session, [ids[0]], "received", expected="pending") == 1
    with unit_of_work(session_factory) as session:  # a second worker loses the claim
        assert transcripts.set_status(session, [ids[0]], "received", expected="pending") == 0
        assert transcripts.count_pending(session) == 2


def test_one_answer_per_message_even_when_two_turns_claimed_it(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    """The answer is a compare-and-set on the message's status: the second turn's answer is
    refused before anything is written (its transaction rolls back)."""
    with unit_of_work(session_factory) as session:
        conversation = _touch(session, now)
        inbound = transcripts.record_inbound(session, conversation, text="停电了", now=now)
        pk = conversation.id

    def answer(text: str) -> None:
        with unit_of_work(session_factory) as session:
            transcripts.record_answer(
                session,
                conversation_pk=pk,
                inbound_id=inbound.id,
                replies=[OutboundText(text)],
                now=now,
                inbound_status="processed",
                expected="received",
            )

    answer("收到")
    with pytest.raises(transcripts.AlreadyAnswered):
        answer("又收到")
    with unit_of_work(session_factory) as session:
        assert [m.text for m in transcripts.replies_to(session, inbound.id)] == ["收到"]


def test_unsent_replies_are_claimed_once_and_released_when_their_sender_died(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        conversation = _touch(session, now)
        inbound = transcripts.record_inbound(session, conversation, text="停电了", now=now)
        transcripts.record_answer(
            session,
            conversation_pk=conversation.id,
            inbound_id=inbound.id,
            replies=[OutboundText("一"), OutboundText("二")],
            now=now,
            inbound_status="processed",
            outbound_status="pending",
        )
        # waiting outbound replies are no customer message waiting for Rasa
        assert transcripts.count_pending(session) == 0
        assert transcripts.pending_conversations(session) == []
        assert transcripts.undelivered_conversations(session) == ["telegram:42"]
    with unit_of_work(session_factory) as session:
        claimed = transcripts.claim_undelivered(session, "telegram:42")
        assert [m.text for m in claimed] == ["一", "二"]
    with unit_of_work(session_factory) as session:  # a second sender gets nothing
        assert transcripts.claim_undelivered(session, "telegram:42") == []
        first, second = (m.id for m in claimed)
        transcripts.set_status(session, [first], "processed", expected="received")
    with unit_of_work(session_factory) as session:  # the sender died before marking "二"
        later = now + timedelta(seconds=1)
        assert transcripts.release_unsent(session, stored_before=later, exclude=[second]) == 0
        assert transcripts.release_unsent(session, stored_before=now) == 0  # too young
        assert transcripts.release_unsent(session, stored_before=later) == 1
    with unit_of_work(session_factory) as session:
        assert [m.text for m in transcripts.claim_undelivered(session, "telegram:42")] == ["二"]


def test_stale_messages_are_recovered_except_the_callers_own(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        conversation = _touch(session, now)
        mine, dead = (
            transcripts.record_inbound(session, conversation, text=t, now=now).id
            for t in ("mine", "dead")
        )
    later = now + timedelta(seconds=1)
    with unit_of_work(session_factory) as session:
        assert transcripts.recover_stale(session, received_before=later, exclude=[mine]) == 1
        assert [m.id for m in transcripts.pending_inbound(session, "telegram:42")] == [dead]
        assert transcripts.pending_inbound(session, "telegram:42", before=dead) == []


def test_notification_claims_and_cursor(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        cursor = notifications.ensure_cursor(session, "ticket", now=now)
        assert (cursor.baseline_event_id, cursor.last_event_id, cursor.since) == (0, 0, now)
    with unit_of_work(session_factory) as session:
        notifications.advance_cursor(session, "ticket", 12)
        notifications.advance_cursor(session, "ticket", 5)  # never backwards
        again = notifications.ensure_cursor(session, "ticket", now=now + timedelta(hours=1))
        assert (again.baseline_event_id, again.last_event_id, again.since) == (0, 12, now)
    with unit_of_work(session_factory) as session:
        kw = {"source": "ticket", "event_id": 3, "conversation_id": "telegram:1", "now": now}
        delivery = notifications.claim(session, **kw)  # type: ignore[arg-type]
        assert delivery is not None
        assert notifications.claim(session, **kw) is None  # type: ignore[arg-type]
        notifications.finish(session, delivery, "sent", now=now)
        assert notifications.already_claimed(session, "ticket", [3, 4]) == {3}
        assert notifications.already_claimed(session, "application", [3]) == set()
    with unit_of_work(session_factory) as session:
        row = session.scalars(select(NotificationDelivery)).one()
        assert (row.status, row.delivered_at) == ("sent", now)

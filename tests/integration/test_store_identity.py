"""Verified conversations: active while used within the idle time and in their Rasa session,
ended for good otherwise; disclosures masked in a replay once their verification is over."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.models import VerifiedConversation
from store.services import identity

SENDER = "web:0f0e0d0c-0b0a-4909-8807-060504030201"


def verified(
    factory: sessionmaker[Session], settings: Settings, now: datetime, session_key: str = "s1"
) -> int:
    with unit_of_work(factory) as session:
        return identity.record(
            session,
            settings,
            sender_id=SENDER,
            account_no="3301000001",
            client_address="10.0.0.1",
            rasa_session=session_key,
            now=now,
        ).id


def active_id(
    factory: sessionmaker[Session], now: datetime, session_key: str = "s1", sender: str = SENDER
) -> int | None:
    with unit_of_work(factory) as session:
        row = identity.active(session, sender_id=sender, rasa_session=session_key, now=now)
        return row.id if row else None


def ended(factory: sessionmaker[Session], row_id: int) -> tuple[datetime | None, str | None]:
    with unit_of_work(factory) as session:
        row = session.get(VerifiedConversation, row_id)
        assert row is not None
        return row.ended_at, row.end_reason


def test_active_in_its_session_until_idle(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    row_id = verified(session_factory, settings, now)
    assert active_id(session_factory, now + timedelta(minutes=29)) == row_id
    assert active_id(session_factory, now, sender="web:someone-else") is None
    assert active_id(session_factory, now + timedelta(minutes=30)) is None  # idle 30 minutes
    assert ended(session_factory, row_id) == (now + timedelta(minutes=30), "idle")
    # ended for good: not back even at an earlier clock
    assert active_id(session_factory, now) is None


def test_use_restarts_the_idle_time(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    row_id = verified(session_factory, settings, now)
    with unit_of_work(session_factory) as session:
        row = identity.active(session, sender_id=SENDER, rasa_session="s1", now=now)
        assert row is not None
        identity.touch(session, settings, row, now + timedelta(minutes=20))
    assert active_id(session_factory, now + timedelta(minutes=45)) == row_id


def test_a_new_rasa_session_ends_it(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    row_id = verified(session_factory, settings, now)
    assert active_id(session_factory, now, session_key="s2") is None
    assert ended(session_factory, row_id) == (now, "new_session")
    assert active_id(session_factory, now, session_key="s1") is None


def test_verifying_again_replaces_the_earlier_one(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    first = verified(session_factory, settings, now)
    second = verified(session_factory, settings, now + timedelta(minutes=1))
    assert ended(session_factory, first)[1] == "replaced"
    assert active_id(session_factory, now + timedelta(minutes=1)) == second


def test_history_masks(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    row_id = verified(session_factory, settings, now)
    with unit_of_work(session_factory) as session:
        row = session.get(VerifiedConversation, row_id)
        assert row is not None
        identity.note_answer(session, sender_id=SENDER, message_key="1@1.0", now=now)
        identity.note_use(session, row, message_key="2@2.0", now=now)
        identity.note_use(session, row, message_key="2@2.0", now=now)  # twice: one row
    keys = {"1@1.0", "2@2.0", "3@3.0"}

    def masks(at: datetime) -> identity.HistoryMasks:
        with unit_of_work(session_factory) as session:
            return identity.history_masks(session, sender_id=SENDER, message_keys=keys, now=at)

    # while verified: the customer's answers are masked, the data shown
    assert masks(now) == identity.HistoryMasks(frozenset({"1@1.0"}), frozenset())
    # after the idle time: the data is withheld too
    after = masks(now + timedelta(minutes=31))
    assert after == identity.HistoryMasks(frozenset({"1@1.0"}), frozenset({"2@2.0"}))
    # another conversation's history is not affected
    with unit_of_work(session_factory) as session:
        other = identity.history_masks(
            session, sender_id="web:other", message_keys=keys, now=now + timedelta(hours=1)
        )
    assert other == identity.HistoryMasks(frozenset(), frozenset())

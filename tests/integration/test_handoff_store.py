"""The handoff and staff services on a real database (SQLite and PostgreSQL): the state
machine, the atomic claim, the queue order, agent load and auto-assignment's choice."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.models import Rating
from store.services import handoffs, ratings, staff, transcripts
from store.services.handoffs import AlreadyClaimed, IllegalTransition


def _conversation(session: Session, chat: str, now: datetime) -> int:
    conversation = transcripts.touch_conversation(
        session, conversation_id=f"fake:{chat}", channel="fake", chat_id=chat, now=now
    )
    return conversation.id


def _agent(
    session: Session,
    name: str,
    now: datetime,
    *,
    availability: str = "available",
    max_chats: int = 2,
    role: str = "agent",
) -> int:
    user = staff.create_user(
        session,
        username=name,
        display_name=name.upper(),
        password=f"pw-{name}",
        role=role,
        max_chats=max_chats,
        availability=availability,
        now=now,
    )
    return user.id


def test_latest_state_follows_the_newest_handoff(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    """What the gateway reads on every customer message: the newest handoff's state."""
    with unit_of_work(session_factory) as session:
        conv = _conversation(session, "1", now)
        assert handoffs.latest_state(session, conv) is None
        agent = _agent(session, "agent1", now)
        first = handoffs.request(session, conversation_pk=conv, reason="fallback", now=now)
        state = handoffs.latest_state(session, conv)
        assert state == handoffs.HandoffSnapshot(first.id, "queued", None)
        assert state.open
        handoffs.claim(session, first.id, agent, now=now)
        handoffs.resolve(session, first.id, agent, now=now + timedelta(minutes=3))
        closed = handoffs.latest_state(session, conv)
        assert closed == handoffs.HandoffSnapshot(first.id, "resolved", now + timedelta(minutes=3))
        assert not closed.open
        later = now + timedelta(hours=1)
        second = handoffs.request(session, conversation_pk=conv, reason="complaint", now=later)
        assert handoffs.latest_state(session, conv) == handoffs.HandoffSnapshot(
            second.id, "queued", None
        )
        assert handoffs.latest_state(session, _conversation(session, "2", now)) is None


def test_lifecycle_writes_one_event_per_change(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        conv = _conversation(session, "1", now)
        a1 = _agent(session, "agent1", now)
        a2 = _agent(session, "agent2", now)
        h = handoffs.request(session, conversation_pk=conv, reason="fallback", now=now)
        assert (h.state, h.priority, h.queued_at) == ("queued", "normal", now)
        # idempotent: the open one is returned, its priority raised
        again = handoffs.request(
            session, conversation_pk=conv, reason="safety_hazard", priority="urgent", now=now
        )
        assert again.id == h.id
        assert again.priority == "urgent"
        assert handoffs.open_for(session, conv) is not None
        assert handoffs.open_for_conversation_id(session, "fake:1") is not None
        later = now + timedelta(minutes=3)
        handoffs.claim(session, h.id, a1, now=later)
        handoffs.transfer(session, h.id, a1, a2, now=later, why="billing expert")
        handoffs.add_note(session, h.id, a2, "customer is upset about the bill", now=later)
        done = handoffs.resolve(session, h.id, a2, now=later + timedelta(minutes=5))
        assert (done.state, done.agent_id, done.closed_at) == (
            "resolved",
            a2,
            later + timedelta(minutes=5),
        )
        assert handoffs.open_for(session, conv) is None
        history = [
            (e.from_state, e.to_state, e.actor, e.why) for e in handoffs.events(session, h.id)
        ]
        assert history == [
            ("bot", "queued", "bot", "fallback"),
            ("queued", "assigned", "agent1", "claimed"),
            ("assigned", "assigned", "agent1", "billing expert"),
            ("assigned", "resolved", "agent2", None),
        ]
        assert [n.text for n in handoffs.notes(session, h.id)] == [
            "customer is upset about the bill"
        ]
        # a new request after the end opens a new handoff
        second = handoffs.request(session, conversation_pk=conv, reason="request_human", now=later)
        assert second.id != h.id


def test_illegal_transitions_are_refused(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        conv = _conversation(session, "1", now)
        a1 = _agent(session, "agent1", now)
        a2 = _agent(session, "agent2", now)
        h = handoffs.request(session, conversation_pk=conv, reason="complaint", now=now)
        with pytest.raises(IllegalTransition):
            handoffs.resolve(session, h.id, a1, now=now)  # never assigned
        with pytest.raises(IllegalTransition):
            handoffs.return_to_bot(session, h.id, a1, now=now)
        with pytest.raises(IllegalTransition):
            handoffs.transfer(session, h.id, a1, a2, now=now)
        handoffs.claim(session, h.id, a1, now=now)
        with pytest.raises(IllegalTransition):
            handoffs.resolve(session, h.id, a2, now=now)  # not a2's chat
        with pytest.raises(IllegalTransition):
            handoffs.transfer(session, h.id, a2, a1, now=now)
        handoffs.return_to_bot(session, h.id, a1, now=now)
        for attempt in (
            lambda: handoffs.claim(session, h.id, a2, now=now),
            lambda: handoffs.resolve(session, h.id, a1, now=now),
            lambda: handoffs.abandon(session, h.id, now=now),
            lambda: handoffs.expire(session, h.id, now=now),
        ):
            with pytest.raises(IllegalTransition):
                attempt()
        assert handoffs.get(session, h.id).state == "returned_to_bot"
        assert set(handoffs.TRANSITIONS) == {
            "bot",
            "queued",
            "assigned",
            "resolved",
            "returned_to_bot",
            "abandoned",
            "expired",
        }
        assert all(not handoffs.TRANSITIONS[s] for s in handoffs.CLOSED_STATES)


def test_two_agents_claiming_at_once_exactly_one_wins(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        conv = _conversation(session, "1", now)
        agents = [_agent(session, f"agent{i}", now) for i in (1, 2)]
        handoff_id = handoffs.request(session, conversation_pk=conv, reason="fallback", now=now).id

    for _ in range(3):  # a few rounds: the race must never give two winners
        with unit_of_work(session_factory) as session:
            h = handoffs.get(session, handoff_id)
            h.state, h.agent_id, h.assigned_at = "queued", None, None
        barrier = threading.Barrier(2)
        outcomes: dict[int, str] = {}

        def claim(
            agent_id: int,
            barrier: threading.Barrier = barrier,
            outcomes: dict[int, str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                with unit_of_work(session_factory) as session:
                    handoffs.claim(session, handoff_id, agent_id, now=now)
                outcomes[agent_id] = "won"
            except AlreadyClaimed:
                outcomes[agent_id] = "lost"

        threads = [threading.Thread(target=claim, args=(a,)) for a in agents]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(outcomes.values()) == ["lost", "won"]
        winner = next(a for a, o in outcomes.items() if o == "won")
        with unit_of_work(session_factory) as session:
            h = handoffs.get(session, handoff_id)
            assert (h.state, h.agent_id) == ("assigned", winner)


def test_queue_order_and_agent_choice(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        old = handoffs.request(
            session, conversation_pk=_conversation(session, "1", now), reason="fallback", now=now
        )
        newer_urgent = handoffs.request(
            session,
            conversation_pk=_conversation(session, "2", now),
            reason="safety_hazard",
            priority="urgent",
            now=now + timedelta(minutes=5),
        )
        newer = handoffs.request(
            session,
            conversation_pk=_conversation(session, "3", now),
            reason="complaint",
            priority="high",
            now=now + timedelta(minutes=1),
        )
        assert [h.id for h in handoffs.queue(session)] == [newer_urgent.id, newer.id, old.id]

        assert handoffs.least_loaded_available_agent(session) is None  # nobody yet
        busy = _agent(session, "busy", now, max_chats=1)
        away = _agent(session, "away", now, availability="away")
        free = _agent(session, "free", now, max_chats=2)
        chosen = handoffs.least_loaded_available_agent(session)
        assert chosen is not None
        assert chosen.id == busy
        handoffs.assign(session, newer_urgent.id, busy, now=now)
        chosen = handoffs.least_loaded_available_agent(session)
        assert chosen is not None
        assert chosen.id == free
        handoffs.assign(session, newer.id, free, now=now)
        # busy is full (1/1); free has 1/2; away is never chosen
        chosen = handoffs.least_loaded_available_agent(session)
        assert chosen is not None
        assert chosen.id == free
        handoffs.assign(session, old.id, free, now=now)
        assert handoffs.least_loaded_available_agent(session) is None  # everyone full
        load = {x.username: x.assigned for x in handoffs.agent_load(session)}
        assert load == {"busy": 1, "away": 0, "free": 2}
        assert [h.id for h in handoffs.assigned_to(session, free)] == [old.id, newer.id]  # by id
        assert away


def test_abandon_expire_and_the_notice_once(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        h1 = handoffs.request(
            session, conversation_pk=_conversation(session, "1", now), reason="fallback", now=now
        )
        h2 = handoffs.request(
            session, conversation_pk=_conversation(session, "2", now), reason="fallback", now=now
        )
        assert handoffs.mark_notice(session, h1.id, "no_agent", now=now)
        assert not handoffs.mark_notice(session, h1.id, "wait_limit", now=now)
        handoffs.abandon(session, h1.id, actor="customer", now=now, why="不等了")
        handoffs.expire(session, h2.id, now=now, callback_ticket_no="T2611230099")
        assert handoffs.get(session, h1.id).state == "abandoned"
        expired = handoffs.get(session, h2.id)
        assert (expired.state, expired.callback_ticket_no) == ("expired", "T2611230099")
        assert handoffs.queue(session) == []


def test_staff_users_and_passwords(session_factory: sessionmaker[Session], now: datetime) -> None:
    with unit_of_work(session_factory) as session:
        user_id = _agent(session, "agent1", now, availability="offline")
        user = staff.get_by_username(session, "agent1")
        assert user is not None
        assert user.id == user_id
        assert user.password_hash.startswith("$argon2id$")
        assert "pw-agent1" not in user.password_hash
        assert staff.verify_password(session, user, "pw-agent1")
        assert not staff.verify_password(session, user, "wrong")
        assert staff.authenticate(session, "agent1", "pw-agent1") is user
        assert staff.authenticate(session, "nobody", "pw-agent1") is None
        with pytest.raises(staff.StaffError):
            _agent(session, "agent1", now)  # taken
        with pytest.raises(staff.StaffError):
            _agent(session, "x", now, role="boss")
        assert staff.set_availability(session, user_id, "available").availability == "available"
        with pytest.raises(staff.StaffError):
            staff.set_availability(session, user_id, "asleep")


def test_a_rating_after_a_handoff_is_linked_to_it(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        conv = _conversation(session, "1", now)
        agent = _agent(session, "agent1", now)
        h = handoffs.request(session, conversation_pk=conv, reason="fallback", now=now)
        handoffs.claim(session, h.id, agent, now=now)
        handoffs.resolve(session, h.id, agent, now=now)
        # the bot's rate_service action passes no handoff: it is found
        first = ratings.record(
            session, sender_id="fake:1", channel="fake", rating=4, comment="ok", now=now
        )
        assert (first.handoff_id, first.agent_id) == (h.id, agent)
        # one rating per handoff: the next is a plain conversation rating
        second = ratings.record(
            session, sender_id="fake:1", channel="fake", rating=5, comment=None, now=now
        )
        assert (second.handoff_id, second.agent_id) == (None, None)
        assert session.get(Rating, first.id) is not None

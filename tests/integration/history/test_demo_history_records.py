"""The demo's history is recorded the way the services record things (both backends): every
ticket and application moves only as its state machine allows, with times in order; handoffs
chain their events; replies answer earlier customer messages; inbox items group as nlu.inbox
does; everything lies within the thirteen months before now, across channels; the agents the
chats name get a password from `demo-users`."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nlu.rules import normalise_for_grouping
from store.cli import main
from store.config import Settings
from store.demo_staff import LOCKED
from store.demodata.history.patterns import patterns_for
from store.models import (
    Application,
    Conversation,
    Handoff,
    HandoffEvent,
    Message,
    NluInboxHit,
    NluInboxItem,
    Rating,
    StaffUser,
    Ticket,
    TicketEvent,
)
from store.services import handoffs as handoff_service
from store.services import staff
from store.stages import allowed_stages
from store.workflow import TERMINAL_STATUSES, allowed_next
from tests.conftest import DEMO_NOW
from tests.fakes.console import cheap_password_hashing

PATTERNS = patterns_for(DEMO_NOW, ZoneInfo("Asia/Shanghai"))
SPLIT = "从停电事件"


def _grouped(rows: list[tuple[int, ...]]) -> dict[int, list[tuple[object, ...]]]:
    found: dict[int, list[tuple[object, ...]]] = defaultdict(list)
    for row in rows:
        found[row[0]].append(tuple(row[1:]))
    return found


def test_tickets_move_only_as_their_state_machines_allow(
    session: Session, before: dict[str, int]
) -> None:
    tickets = {
        t.id: t for t in session.scalars(select(Ticket).where(Ticket.id > before["tickets"]))
    }
    events = _grouped(session.execute(
        select(TicketEvent.ticket_id, TicketEvent.status, TicketEvent.at, TicketEvent.note)
        .where(TicketEvent.ticket_id > before["tickets"])
        .order_by(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.id)
    ).all())  # fmt: skip
    assert len(tickets) > 1500
    assert set(events) == set(tickets)
    for ticket_id, history in events.items():
        ticket = tickets[ticket_id]
        assert history[0][0] == "received"
        assert history[0][1] == ticket.created_at
        status = "received"
        for new, _at, note in history[1:]:
            if new == status:  # a note: the status kept
                continue
            split = new == "received" and str(note).startswith(SPLIT)
            assert split or new in allowed_next(ticket.type, status), (
                ticket.ticket_no,
                status,
                new,
            )
            status = new
        times = [at for _, at, _ in history]
        assert times == sorted(times)
        assert ticket.status == status in TERMINAL_STATUSES
        assert ticket.closed_at == times[-1] <= PATTERNS.end
        assert ticket.created_at.date() >= PATTERNS.start - timedelta(days=1)


def test_repairs_carry_crews_outages_and_callbacks(
    session: Session, before: dict[str, int]
) -> None:
    faults = session.scalars(
        select(Ticket).where(Ticket.id > before["tickets"], Ticket.type == "fault")
    ).all()
    for ticket in faults:
        statuses = [e.status for e in ticket.events]
        if "dispatched" in statuses:
            assert ticket.crew_id is not None, ticket.ticket_no
        if "merged" in statuses and not any(str(e.note).startswith(SPLIT) for e in ticket.events):
            assert ticket.outage is not None
            assert ticket.respond_due_at is None
            assert ticket.resolve_due_at == ticket.outage.expected_restore_at
        called = [
            e for e in ticket.events if e.status == "closed" and str(e.note).startswith("回访")
        ]
        assert (ticket.callback_result is not None) == bool(called), ticket.ticket_no
    kinds = {t.channel for t in faults}
    assert {"web", "telegram", "95598", "hall"} <= kinds
    merged = [t for t in faults if t.outage_id is not None]
    split = [t for t in faults if any(str(e.note).startswith(SPLIT) for e in t.events)]
    unreachable = [t for t in faults if "awaiting_callback" in [e.status for e in t.events]]
    assert len(merged) > 100
    assert split
    assert unreachable


def test_complaints_have_their_contact_reply_and_verdict(
    session: Session, before: dict[str, int]
) -> None:
    complaints = session.scalars(
        select(Ticket).where(Ticket.id > before["tickets"], Ticket.type == "complaint")
    ).all()
    assert len(complaints) > 100
    for c in complaints:
        first = {e.status: e.at for e in reversed(c.events)}
        assert (c.contacted_at, c.replied_at) == (first["contacted"], first["replied"])
        assert c.handler == "clerk"
        assert c.verdict in ("satisfied", "unsatisfied")
    escalated = [c for c in complaints if c.escalated]
    assert escalated
    assert any("12398" in str(e.note) for c in escalated for e in c.events)


def test_applications_walk_their_configured_stages(
    session: Session, settings: Settings, before: dict[str, int]
) -> None:
    apps = session.scalars(select(Application).where(Application.id > before["applications"]))
    seen = set()
    for app in apps:
        config = settings.applications.types[app.type]
        stages = [e.stage for e in app.events]
        assert stages[0] == "received"
        for k in range(1, len(stages)):
            if stages[k] != "rejected":
                allowed = allowed_stages(config, app.voltage, stages[k - 1], stages[:k])
                assert stages[k] in allowed, (app.application_no, stages)
        assert app.closed_at == app.events[-1].at
        assert app.stage == stages[-1]
        assert [e.at for e in app.events] == sorted(e.at for e in app.events)
        seen.add(app.type)
        seen.update(s for s in stages if s in ("need_more_docs", "cancelled", "rejected"))
    assert seen >= {*settings.applications.types, "need_more_docs", "cancelled", "rejected"}


def test_handoffs_chain_their_events_and_ratings_name_the_agent(session: Session) -> None:
    handoffs = {h.id: h for h in session.scalars(select(Handoff))}
    assert len(handoffs) > 400
    for h in handoffs.values():
        chain = [(e.from_state, e.to_state) for e in h.events]
        assert chain[0] == ("bot", "queued")
        for (_, before_state), (after_from, after_to) in itertools.pairwise(chain):
            assert after_from == before_state
            assert after_to in handoff_service.TRANSITIONS[after_from]
        assert h.state == chain[-1][1]
        assert h.closed_at == h.events[-1].at
        assert (h.agent_id is not None) == (h.assigned_at is not None)
    for rating in session.scalars(select(Rating).where(Rating.handoff_id.is_not(None))):
        handoff = handoffs[rating.handoff_id]  # type: ignore[index]
        assert rating.agent_id == handoff.agent_id
        assert handoff.state in (
            "resolved",
            "returned_to_bot",
        )
    states = {h.state for h in handoffs.values()}
    assert states == {"resolved", "returned_to_bot", "abandoned", "expired"}
    assert session.scalar(select(func.count()).select_from(HandoffEvent)) > len(handoffs)


def test_replies_answer_earlier_messages_of_their_conversation(session: Session) -> None:
    customer = {
        m.id: (m.conversation_pk, m.created_at)
        for m in session.execute(
            select(Message.id, Message.conversation_pk, Message.created_at).where(
                Message.sender == "customer"
            )
        )
    }
    replies = session.execute(
        select(Message.conversation_pk, Message.in_reply_to_id, Message.created_at).where(
            Message.sender == "bot"
        )
    ).all()
    assert len(replies) > 10_000
    for pk, asked, at in replies:
        assert customer[asked][0] == pk
        assert customer[asked][1] <= at
    channels = dict(
        session.execute(
            select(Conversation.channel, func.count()).group_by(Conversation.channel)
        ).all()
    )  # type: ignore[arg-type]
    assert set(channels) == {"web", "telegram", "api"}
    busy = session.scalar(select(func.count()).where(Message.text.startswith("系统繁忙")))
    assert busy
    assert busy >= 5


def test_inbox_items_group_as_nlu_inbox_does(session: Session) -> None:
    items = session.scalars(select(NluInboxItem)).all()
    assert len(items) > 20
    open_keys = [i.group_key for i in items if i.status == "open"]
    assert len(open_keys) == len(set(open_keys))
    for item in items:
        assert item.group_key == normalise_for_grouping(item.text)
        hits = session.scalar(select(func.count()).where(NluInboxHit.item_id == item.id))
        assert hits == item.count > 0
    assert {i.status for i in items} >= {"open", "labelled"}
    reasons = {r for i in items for r in i.reasons}
    assert reasons == {"fallback", "low_confidence", "handoff", "flagged"}
    flags = session.scalar(select(func.count()).where(NluInboxHit.flagged_by.is_not(None)))
    assert flags
    assert flags > 5


def test_the_agents_of_the_chats_get_their_passwords_from_demo_users(
    session: Session, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent1 = session.scalars(select(StaffUser).where(StaffUser.username == "agent1")).one()
    assert agent1.password_hash == LOCKED
    handled = session.scalar(select(func.count()).where(Handoff.agent_id == agent1.id))
    assert handled
    assert handled > 50
    cheap_password_hashing(monkeypatch)
    monkeypatch.setenv("DEMO_AGENT_PASSWORD", "history-demo-pw")
    session.rollback()
    assert main(["--url", db_url, "demo-users"]) == 0
    session.expire_all()
    again = staff.authenticate(session, "agent1", "history-demo-pw")
    assert again is not None
    assert again.id == agent1.id

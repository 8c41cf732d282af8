"""Facts of the human service and of conversations.

A handoff's queue wait is the wall-clock time from queued to assigned; the agent's first
response is the first agent message of the conversation after the assignment, and resolution
the time from assignment to the end (resolved or handed back to the bot), both in business
hours (store/quality/periods.py). Its rating is the customer's latest rating of it.

A conversation (会话) is a conversation's day: its customer messages on one local date, with
the fallbacks among them (conf/quality.yml `conversations.fallback_intents`), the '系统繁忙'
notices the gateway sent it that day, and the handoffs it started that day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from store.models import (
    Conversation,
    Handoff,
    Message,
    MessageSender,
    QualityConversationDay,
    QualityHandoffFacts,
    Rating,
)
from store.quality.context import Conf
from store.quality.periods import business_minutes, local_day, local_hour
from store.quality.types import to_utc

_ENDED_BY_AGENT = ("resolved", "returned_to_bot")


def _first_replies(session: Session, handoffs: Sequence[Handoff]) -> dict[int, datetime]:
    """Per handoff id, the first agent message in its conversation after it was assigned."""
    assigned = [h for h in handoffs if h.assigned_at is not None]
    if not assigned:
        return {}
    lo = min(h.assigned_at for h in assigned if h.assigned_at)
    stmt = (
        select(Message.conversation_pk, Message.created_at)
        .where(
            Message.conversation_pk.in_({h.conversation_pk for h in assigned}),
            Message.sender == MessageSender.AGENT,
            Message.created_at >= lo,
        )
        .order_by(Message.created_at)
    )
    by_conversation: dict[int, list[datetime]] = defaultdict(list)
    for pk, at in session.execute(stmt):
        by_conversation[pk].append(at)
    found = {}
    for h in assigned:
        end = h.closed_at
        first = next(
            (
                at
                for at in by_conversation[h.conversation_pk]
                if h.assigned_at is not None and at >= h.assigned_at and (end is None or at <= end)
            ),
            None,
        )
        if first is not None:
            found[h.id] = first
    return found


def _ratings(session: Session, ids: Sequence[int]) -> dict[int, int]:
    stmt = (
        select(Rating.handoff_id, Rating.rating)
        .where(Rating.handoff_id.in_(ids))
        .order_by(Rating.created_at, Rating.id)
    )
    return {hid: value for hid, value in session.execute(stmt) if hid is not None}


def _measure_handoff(
    conf: Conf, h: Handoff, channel: str, first: datetime | None, rating: int | None
) -> QualityHandoffFacts:
    s = conf.settings
    hours, calendar, tz = s.service.agent_hours, s.calendar, s.tz
    facts = QualityHandoffFacts(
        handoff_id=h.id,
        conversation_pk=h.conversation_pk,
        channel=channel,
        queued_at=h.queued_at,
        day=local_day(h.queued_at, tz),
        hour=local_hour(h.queued_at, tz),
        agent_id=h.agent_id,
        end_state=h.state,
        assigned_at=h.assigned_at,
        closed_at=h.closed_at,
        rating=rating,
    )
    if h.assigned_at is None:
        return facts
    facts.wait_minutes = (h.assigned_at - h.queued_at).total_seconds() / 60
    if first is not None:
        facts.first_response_minutes = business_minutes(h.assigned_at, first, hours, calendar, tz)
    if h.closed_at is not None and h.state in _ENDED_BY_AGENT:
        facts.resolution_minutes = business_minutes(h.assigned_at, h.closed_at, hours, calendar, tz)
    return facts


def refresh_handoffs(session: Session, conf: Conf, ids: Sequence[int]) -> int:
    """Measure these handoffs again; the number of facts written."""
    stmt = (
        select(Handoff, Conversation.channel)
        .join(Conversation, Conversation.id == Handoff.conversation_pk)
        .where(Handoff.id.in_(ids))
    )
    found = [(h, channel) for h, channel in session.execute(stmt)]
    session.execute(delete(QualityHandoffFacts).where(QualityHandoffFacts.handoff_id.in_(ids)))
    handoffs = [h for h, _ in found]
    firsts = _first_replies(session, handoffs)
    ratings = _ratings(session, ids)
    rows = [
        _measure_handoff(conf, h, channel, firsts.get(h.id), ratings.get(h.id))
        for h, channel in found
    ]
    session.add_all(rows)
    session.flush()
    for row in rows:
        session.expunge(row)
    return len(rows)


def _message_rows(
    session: Session, conf: Conf, since: dict[int, date]
) -> list[tuple[int, datetime, str, bool, bool]]:
    """(conversation, at, sender, fallback, busy) of the messages from each conversation's
    first day to refresh."""
    tz = conf.tz
    fallback = Message.intent.in_(conf.quality.fallback_intents)
    busy = and_(Message.sender == MessageSender.SYSTEM, Message.text.in_(conf.busy_texts))
    stmt = select(
        Message.conversation_pk, Message.created_at, Message.sender, fallback, busy
    ).where(
        Message.conversation_pk.in_(since),
        Message.created_at >= to_utc(min(since.values()), tz),
    )
    return [
        (pk, at, sender, bool(fb), bool(b))
        for pk, at, sender, fb, b in session.execute(stmt)
        if local_day(at, tz) >= since[pk]
    ]


def _handoff_counts(
    session: Session, conf: Conf, since: dict[int, date]
) -> dict[tuple[int, date], int]:
    tz = conf.tz
    stmt = select(Handoff.conversation_pk, Handoff.queued_at).where(
        Handoff.conversation_pk.in_(since),
        Handoff.queued_at >= to_utc(min(since.values()), tz),
    )
    counts: dict[tuple[int, date], int] = defaultdict(int)
    for pk, at in session.execute(stmt):
        counts[(pk, local_day(at, tz))] += 1
    return counts


def refresh_conversation_days(session: Session, conf: Conf, since: dict[int, date]) -> int:
    """Count each conversation's days again from the given day on; the number of days written."""
    if not since:
        return 0
    tz = conf.tz
    stmt = select(Conversation.id, Conversation.channel).where(Conversation.id.in_(since))
    channels = {pk: channel for pk, channel in session.execute(stmt)}
    by_day: dict[date, list[int]] = defaultdict(list)
    for pk, day in since.items():
        by_day[day].append(pk)
    for day, pks in by_day.items():
        session.execute(
            delete(QualityConversationDay).where(
                QualityConversationDay.conversation_pk.in_(pks), QualityConversationDay.day >= day
            )
        )
    days: dict[tuple[int, date], QualityConversationDay] = {}
    for pk, at, sender, fallback, busy in sorted(_message_rows(session, conf, since), key=_at):
        key = (pk, local_day(at, tz))
        row = days.get(key)
        if row is None and sender != MessageSender.CUSTOMER:
            continue  # a day counts from the customer's first message
        if row is None:
            row = days[key] = QualityConversationDay(
                conversation_pk=pk, day=key[1], channel=channels.get(pk, ""), first_at=at,
                hour=local_hour(at, tz), customer_messages=0, fallback_messages=0,
                busy_replies=0, handoffs=0,
            )  # fmt: skip
        row.customer_messages += sender == MessageSender.CUSTOMER
        row.fallback_messages += sender == MessageSender.CUSTOMER and fallback
        row.busy_replies += busy
    for key, count in _handoff_counts(session, conf, since).items():
        if key in days:
            days[key].handoffs = count
    rows = list(days.values())
    session.add_all(rows)
    session.flush()
    for row in rows:
        session.expunge(row)
    return len(rows)


def _at(row: tuple[int, datetime, str, bool, bool]) -> datetime:
    return row[1]

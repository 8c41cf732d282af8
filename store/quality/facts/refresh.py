"""Keep the facts up to date: read each source from where the last refresh stopped (its last id,
`quality_refresh_state`) and measure again every item a new row touches.

Every change the stores make leaves a new row (a ticket or application event, a handoff event,
a message, a rating), so new ids are enough to find what changed. A refresh with `rescan`
also looks again at the last conf `refresh.rescan_ids` ids of each source, for rows whose
transaction committed after a higher id was read; the scheduled refresh uses it. Messages
younger than `refresh.message_lag_seconds` wait for the next refresh (their intent is recorded
just after). When the configuration the facts were measured with changes (commitments,
calendar, categories, ...) or a source's ids went back (the store was emptied), everything is
measured again. Two refreshes never overlap: on PostgreSQL a transaction-scoped advisory lock
keeps them apart, on SQLite the database's write lock, taken before the refresh plans.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session

from store.models import (
    Application,
    ApplicationEvent,
    Handoff,
    HandoffEvent,
    Message,
    MessageSender,
    QualityApplicationFacts,
    QualityConversationDay,
    QualityHandoffFacts,
    QualityRefreshState,
    QualityStageFacts,
    QualityTicketFacts,
    Rating,
    Ticket,
    TicketEvent,
)
from store.quality.context import Conf
from store.quality.facts.applications import refresh_applications
from store.quality.facts.chats import refresh_conversation_days, refresh_handoffs
from store.quality.facts.tickets import refresh_tickets
from store.quality.periods import local_day

LOCK_KEY: Final = 0x51A11747
"""The advisory lock of the refresh (PostgreSQL), taken with the hash of the schema: stations
(or test databases) in other schemas of the same database refresh independently."""
LOCK_ARGS: Final = "(:key, hashtext(current_schema()))"
_FACTS = (
    QualityStageFacts,
    QualityApplicationFacts,
    QualityTicketFacts,
    QualityHandoffFacts,
    QualityConversationDay,
)
_SOURCES: Final[dict[str, InstrumentedAttribute[int]]] = {
    "tickets": Ticket.id,
    "ticket_events": TicketEvent.id,
    "applications": Application.id,
    "application_events": ApplicationEvent.id,
    "handoffs": Handoff.id,
    "handoff_events": HandoffEvent.id,
    "ratings": Rating.id,
    "messages": Message.id,
}


@dataclass
class Work:
    """What a refresh found to measure again."""

    tickets: set[int] = field(default_factory=set)
    applications: set[int] = field(default_factory=set)
    handoffs: set[int] = field(default_factory=set)
    days: dict[int, date] = field(default_factory=dict)
    """Per conversation, the first local day to count again."""

    def day(self, conversation_pk: int, day: date) -> None:
        known = self.days.get(conversation_pk)
        self.days[conversation_pk] = day if known is None else min(known, day)


@dataclass(frozen=True)
class RefreshResult:
    rebuilt: bool
    tickets: int
    applications: int
    handoffs: int
    conversations: int


def _lock(session: Session, wait: bool) -> bool:
    """Whether this transaction may refresh: it holds the advisory lock on PostgreSQL, SQLite's
    write lock on SQLite (waits for it with `wait`, else gives up when another transaction
    holds it)."""
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite_writer(session, wait)
    if wait:
        session.execute(text(f"SELECT pg_advisory_xact_lock{LOCK_ARGS}"), {"key": LOCK_KEY})
        return True
    found = session.scalar(text(f"SELECT pg_try_advisory_xact_lock{LOCK_ARGS}"), {"key": LOCK_KEY})
    return bool(found)


_TAKE_WRITE_LOCK: Final = text("UPDATE quality_refresh_state SET last_id = last_id WHERE 0")


def _sqlite_writer(session: Session, wait: bool) -> bool:
    """Make this transaction SQLite's writer before it plans again: a write that changes
    nothing still takes the database's write lock. SQLite reads without a lock, so two
    processes refreshing at once (two gateways' report jobs) both found a source without a
    state row and both inserted one. Without `wait` the busy timeout is 0 while it tries."""
    if wait:
        session.execute(_TAKE_WRITE_LOCK)  # waits up to the connection's busy timeout
        return True
    connection = session.connection()
    timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    connection.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        session.execute(_TAKE_WRITE_LOCK)
    except OperationalError as error:
        if "locked" not in str(error.orig):
            raise
        return False
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(timeout)}")
    return True


@dataclass(frozen=True)
class Plan:
    """Where each source stands and what a refresh has to read."""

    states: dict[str, QualityRefreshState]
    fingerprint: str
    since: dict[str, int]
    upto: dict[str, int]
    rebuild: bool

    @property
    def idle(self) -> bool:
        return not self.rebuild and all(self.since[n] >= self.upto[n] for n in self.upto)


def _plan(session: Session, conf: Conf, now: datetime, full: bool) -> Plan:
    states = _states(session)
    fingerprint = conf.fingerprint()
    upto = _upto(session, conf, now)
    since = {name: states[name].last_id if name in states else 0 for name in _SOURCES}
    rebuild = full or any(
        name not in states or states[name].fingerprint != fingerprint or since[name] > upto[name]
        for name in _SOURCES
    )
    return Plan(states, fingerprint, since, upto, rebuild)


def _states(session: Session) -> dict[str, QualityRefreshState]:
    return {s.source: s for s in session.scalars(select(QualityRefreshState))}


def _ids(session: Session, column: Any, target: Any, after: int, upto: int) -> set[int]:
    """`target` of the rows whose id (`column`) is in (after, upto]."""
    stmt = select(target).where(column > after, column <= upto).distinct()
    return {v for v in session.scalars(stmt) if v is not None}


def _messages(session: Session, conf: Conf, work: Work, after: int, upto: int) -> None:
    tz = conf.tz
    stmt = select(Message.conversation_pk, Message.created_at, Message.sender).where(
        Message.id > after, Message.id <= upto
    )
    agents: dict[int, datetime] = {}
    for pk, at, sender in session.execute(stmt):
        work.day(pk, local_day(at, tz))
        if sender == MessageSender.AGENT:
            agents[pk] = min(at, agents.get(pk, at))
    for pk, at in agents.items():  # a first response may have come: its open handoffs
        ended = or_(Handoff.closed_at.is_(None), Handoff.closed_at >= at)
        found = select(Handoff.id).where(Handoff.conversation_pk == pk, ended)
        work.handoffs.update(session.scalars(found))


def _gather(session: Session, conf: Conf, since: dict[str, int], upto: dict[str, int]) -> Work:
    work = Work()
    work.tickets |= _ids(session, Ticket.id, Ticket.id, since["tickets"], upto["tickets"])
    work.tickets |= _ids(
        session,
        TicketEvent.id,
        TicketEvent.ticket_id,
        since["ticket_events"],
        upto["ticket_events"],
    )
    a, ae = "applications", "application_events"
    work.applications |= _ids(session, Application.id, Application.id, since[a], upto[a])
    work.applications |= _ids(
        session, ApplicationEvent.id, ApplicationEvent.application_id, since[ae], upto[ae]
    )
    h, he, r = "handoffs", "handoff_events", "ratings"
    work.handoffs |= _ids(session, Handoff.id, Handoff.id, since[h], upto[h])
    work.handoffs |= _ids(session, HandoffEvent.id, HandoffEvent.handoff_id, since[he], upto[he])
    work.handoffs |= _ids(session, Rating.id, Rating.handoff_id, since[r], upto[r])
    new = select(Handoff.conversation_pk, Handoff.queued_at).where(
        Handoff.id > since[h], Handoff.id <= upto[h]
    )
    for pk, at in session.execute(new):
        work.day(pk, local_day(at, conf.tz))
    _messages(session, conf, work, since["messages"], upto["messages"])
    return work


def _upto(session: Session, conf: Conf, now: datetime) -> dict[str, int]:
    found = {name: session.scalar(select(func.max(col))) or 0 for name, col in _SOURCES.items()}
    settled = now - timedelta(seconds=conf.quality.message_lag_seconds)
    found["messages"] = (
        session.scalar(select(func.max(Message.id)).where(Message.created_at <= settled)) or 0
    )
    return found


def _chunks(ids: Iterable[int], size: int) -> list[list[int]]:
    ordered = sorted(ids)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def _run(
    work: Work, conf: Conf, session: Session, on_batch: Callable[[], None] | None
) -> RefreshResult:
    size = conf.quality.batch
    counts = [0, 0, 0, 0]
    jobs: Sequence[tuple[int, Callable[[list[int]], int], Iterable[int]]] = (
        (0, lambda ids: refresh_tickets(session, conf, ids), work.tickets),
        (1, lambda ids: refresh_applications(session, conf, ids), work.applications),
        (2, lambda ids: refresh_handoffs(session, conf, ids), work.handoffs),
    )
    for slot, job, ids in jobs:
        for chunk in _chunks(ids, size):
            counts[slot] += job(chunk)
            if on_batch is not None:
                on_batch()
    for chunk in _chunks(work.days, size):
        counts[3] += refresh_conversation_days(session, conf, {pk: work.days[pk] for pk in chunk})
        if on_batch is not None:
            on_batch()
    return RefreshResult(False, *counts)


NOTHING = RefreshResult(False, 0, 0, 0, 0)


def refresh(
    session: Session,
    conf: Conf,
    now: datetime,
    *,
    rescan: bool = False,
    full: bool = False,
    wait: bool = False,
    on_batch: Callable[[], None] | None = None,
) -> RefreshResult:
    """Bring the facts up to date with the stores (in the caller's transaction). Nothing new:
    nothing written, no lock taken. Without `wait`, a refresh another transaction is running
    is left to it (this one reads the facts as they are). `on_batch` runs after each batch
    (the CLI commits there, to keep a long first build's memory low)."""
    plan = _plan(session, conf, now, full)
    if (plan.idle and not rescan) or not _lock(session, wait or full):
        return NOTHING
    plan = _plan(session, conf, now, full)  # again, now that this transaction holds the lock
    since = plan.since
    if plan.rebuild:
        for model in _FACTS:
            session.execute(delete(model))
        since = dict.fromkeys(_SOURCES, 0)
    elif rescan:
        since = {name: max(0, last - conf.quality.rescan_ids) for name, last in since.items()}
    result = _run(_gather(session, conf, since, plan.upto), conf, session, on_batch)
    _save(session, plan, now)
    if plan.rebuild and session.get_bind().dialect.name == "postgresql":
        for model in _FACTS:  # the planner's statistics of the new rows
            session.execute(text(f"ANALYZE {model.__tablename__}"))
    return RefreshResult(plan.rebuild, result.tickets, result.applications, result.handoffs,
                         result.conversations)  # fmt: skip


def _save(session: Session, plan: Plan, now: datetime) -> None:
    for name, last in plan.upto.items():
        state = plan.states.get(name) or QualityRefreshState(source=name)
        state.last_id = last if plan.rebuild else max(last, state.last_id or 0)
        state.fingerprint = plan.fingerprint
        state.refreshed_at = now
        session.add(state)
    session.flush()

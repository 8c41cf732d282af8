"""`python -m store history --scale FRACTION`, the county benchmark's data set, on a small
scale (both backends): the county's proportions, relative to the --now given, live tickets and
notifications carrying on after it, PostgreSQL's indexes and foreign keys made again after
the COPY, nothing added by a second run, and the same rows on every run."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from store.cli import main
from store.config import Settings
from store.db import make_engine, make_session_factory, unit_of_work
from store.models import (
    Account,
    Conversation,
    Message,
    NotificationCursor,
    NumberSequence,
    Outage,
    StaffUser,
    Ticket,
)
from store.services import notifications, tickets
from tests.conftest import create_database
from tests.integration.test_store_demo import dump

NOW = datetime(2027, 8, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SCALE = 0.004
"""0.4 % of the county: about 1,000 tickets, 500 conversations, 10,000 messages."""
STORM = [date(2027, 7, d) for d in (14, 15, 16)]


def _history(url: str, *extra: str) -> int:
    return main(["--url", url, "history", "--scale", str(SCALE), "--now", NOW.isoformat(), *extra])


def _schema(engine: Engine) -> set[tuple[str, str]]:
    """PostgreSQL: the definitions of the big tables' indexes and constraints."""
    if engine.dialect.name != "postgresql":
        return set()
    with engine.connect() as conn:
        indexes = conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND tablename IN ('messages', 'tickets', 'ticket_events')"
        )).all()  # fmt: skip
        constraints = conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid IN (CAST('messages' AS regclass), CAST('tickets' AS regclass),"
            " CAST('ticket_events' AS regclass))"
        )).all()  # fmt: skip
    return {(str(n), str(d)) for n, d in [*indexes, *constraints]}


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _check_counts(session: Session) -> None:
    """The county's proportions: most tickets by phone or at the counter, long chats."""
    n_tickets, n_chats = _count(session, Ticket), _count(session, Conversation)
    assert n_tickets > 0.8 * SCALE * 200_000, n_tickets
    assert n_chats > 0.8 * SCALE * 100_000, n_chats
    assert _count(session, Message) > 15 * n_chats
    assert _count(session, Account) == int(54_000 * SCALE)
    assert session.scalar(select(StaffUser.id).where(StaffUser.username == "kf01"))


def _check_relative_to_now(session: Session) -> None:
    created = session.scalars(select(Ticket.created_at).where(Ticket.type == "fault")).all()
    tz = ZoneInfo("Asia/Shanghai")
    per_day = Counter(c.astimezone(tz).date() for c in created)
    july = [per_day[date(2027, 7, d)] for d in range(1, 32) if date(2027, 7, d) not in STORM]
    assert all(per_day[d] > 5 * statistics.median(july) for d in STORM), per_day
    assert min(per_day) >= date(2026, 7, 1)
    last = session.scalar(select(func.max(Message.created_at)))
    assert last is not None
    assert NOW - timedelta(days=2) < last <= NOW - timedelta(hours=2)


def test_the_county_command_on_a_small_scale(
    fresh: tuple[str, Engine], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url, engine = fresh
    schema = _schema(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        notifications.ensure_cursor(session, "ticket", now=NOW)  # the gateway ran before
    assert _history(url) == 0
    assert "History written" in capsys.readouterr().out
    assert _schema(engine) == schema
    with unit_of_work(make_session_factory(engine)) as session:
        _check_counts(session)
        _check_relative_to_now(session)
        newest = session.scalar(select(func.max(Ticket.id)))
        cursor = session.get(NotificationCursor, "ticket")
        assert cursor is not None
        assert cursor.last_event_id == notifications.latest_event_id(session, "ticket")
        at = NOW - timedelta(hours=1)
        day = at.astimezone(ZoneInfo("Asia/Shanghai"))
        taken = session.scalars(
            select(Ticket.ticket_no).where(Ticket.ticket_no.like(f"T{day:%y%m%d}%"))
        ).all()
        live = tickets.create_ticket(
            session, settings, type="complaint", description="测试", now=at
        )
        assert live.id > (newest or 0)
        assert live.ticket_no not in taken
        counters = {
            (r.prefix, r.day): r.last_value for r in session.scalars(select(NumberSequence))
        }
        for number in session.scalars(select(Outage.outage_no)):  # TD + YYMMDD + NN
            assert counters[("TD", number[2:8])] >= int(number[8:])
    assert _history(url) == 0
    assert "nothing done" in capsys.readouterr().out


@pytest.mark.slow
def test_the_history_is_the_same_on_every_run(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rows = []
    for n in range(2):
        url, drop = create_database(backend, tmp_path_factory.mktemp(f"run{n}"))
        try:
            assert _history(url) == 0
            engine = make_engine(url)
            rows.append(dump(engine))
            engine.dispose()
        finally:
            drop()
    assert rows[0] == rows[1]
    assert len(rows[0]["messages"]) > 5_000

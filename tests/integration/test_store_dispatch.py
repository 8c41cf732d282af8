"""Repair work orders in the back office (store/services/dispatch*.py, crews, photos) on the demo
station, SQLite and PostgreSQL: who sees what, the steps with their actor and time limits, merging
and splitting, the callback, the list's filters and counts, photos."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.config import PROJECT_ROOT, Settings
from store.configuration.dispatch import DispatchConfig, load_dispatch
from store.db import unit_of_work
from store.demodata.featured import CURRENT_OUTAGE, OPEN_REPAIRS
from store.models import Crew, Ticket, TicketEvent
from store.services import crews, dispatch, dispatch_queries, outages, ticket_photos, tickets
from store.services.dispatch import Actor, DispatchError, StepRefused, StepTimeError
from store.services.dispatch_queries import TicketFilter, Viewer
from store.services.ticket_views import current_deadline

CHEN, RECEIVED, DISPATCHED, ACCEPTED, REPAIRING = (n for _, _, n in OPEN_REPAIRS)
DISPATCHER = Actor("dispatch", "dispatcher")
CREW = Actor("crew1", "crew")
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 200


@pytest.fixture
def config(settings: Settings, tmp_path: Path) -> DispatchConfig:
    loaded = load_dispatch(settings.conf_dir, PROJECT_ROOT)
    return replace(loaded, photos=replace(loaded.photos, directory=tmp_path / "photos"))


def _get(session: Session, number: str) -> Ticket:
    ticket = tickets.get_by_no(session, number)
    assert ticket is not None
    return ticket


def _crew(session: Session, name: str) -> Crew:
    crew = crews.by_name(session, name)
    assert crew is not None
    return crew


def test_demo_crews_name_the_tickets_they_worked(
    seeded: object, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        east = _crew(session, "东片抢修组")
        assert [a.name for a in east.areas] == ["东山村", "柳湾村", "桃源村"]
        assert _get(session, CHEN).crew_id == east.id  # 陈志强's repair, crew on site
        assert _get(session, RECEIVED).crew is None
        mine = Viewer(user_id=0, role="crew", crew_id=east.id)
        assert dispatch_queries.visible_ticket(session, mine, CHEN) is not None
        assert dispatch_queries.visible_ticket(session, mine, ACCEPTED) is None  # 山区抢修组's
        nobody = Viewer(user_id=0, role="crew", crew_id=None)
        assert dispatch_queries.visible_ticket(session, nobody, CHEN) is None
        boss = Viewer(user_id=0, role="dispatcher")
        assert dispatch_queries.visible_ticket(session, boss, ACCEPTED) is not None
        complaint = session.scalars(select(Ticket).where(Ticket.type == "complaint")).first()
        assert complaint is not None
        assert dispatch_queries.visible_ticket(session, boss, complaint.ticket_no) is None


def test_the_lists_deadline_is_the_customers_deadline(
    seeded: object, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        every = list(session.scalars(select(Ticket)))
        assert len(every) > 40
        for ticket in every:
            assert dispatch_queries.deadline_of(session, ticket) == current_deadline(ticket), (
                ticket.ticket_no
            )


def test_a_repair_step_by_step_with_who_and_when(
    seeded: object, session_factory: sessionmaker[Session], config: DispatchConfig, now: datetime
) -> None:
    limits = config.step_time
    with unit_of_work(session_factory) as session:
        ticket = _get(session, RECEIVED)
        with pytest.raises(DispatchError, match="assign a crew"):
            dispatch.record_step(
                session, ticket, "dispatched", actor=DISPATCHER, limits=limits, now=now
            )
        east = _crew(session, "东片抢修组")
        dispatch.assign(session, ticket, east, actor=DISPATCHER, limits=limits, now=now)
        assert (ticket.status, ticket.crew_id) == ("dispatched", east.id)
        with pytest.raises(StepRefused) as refused:
            dispatch.record_step(session, ticket, "restored", actor=CREW, limits=limits, now=now)
        assert refused.value.allowed == ("accepted", "customer_side")
        with pytest.raises(StepRefused) as not_crews:
            dispatch.record_step(session, ticket, "cancelled", actor=CREW, limits=limits, now=now)
        assert "cancelled" not in not_crews.value.allowed
        later = now + timedelta(minutes=30)
        dispatch.record_step(session, ticket, "accepted", actor=CREW, limits=limits, now=later)
        arrived = later + timedelta(minutes=40)
        # recorded an hour after arriving (no signal on site): the time given is kept
        dispatch.record_step(
            session, ticket, "on_site", actor=CREW, limits=limits,
            now=arrived + timedelta(hours=1), at=arrived, note="山里没信号，补录",
        )  # fmt: skip
        dispatch.record_step(
            session, ticket, "restored", actor=CREW, limits=limits, now=arrived + timedelta(hours=2)
        )
        events = session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        ).all()
        steps = [(e.status, e.actor, e.at) for e in events][-4:]
        assert steps == [
            ("dispatched", "dispatch", now),
            ("accepted", "crew1", later),
            ("on_site", "crew1", arrived),
            ("restored", "crew1", arrived + timedelta(hours=2)),
        ]
        assert events[-4].note == "派给 东片抢修组"


def test_a_steps_time_stays_within_the_limits(
    seeded: object, session_factory: sessionmaker[Session], config: DispatchConfig, now: datetime
) -> None:
    limits = config.step_time
    with unit_of_work(session_factory) as session:
        ticket = _get(session, DISPATCHED)  # dispatched 32 minutes before `now`

        def step(at: datetime) -> None:
            dispatch.record_step(
                session, ticket, "accepted", actor=DISPATCHER, limits=limits, now=now, at=at
            )

        with pytest.raises(StepTimeError, match="future"):
            step(now + limits.future_tolerance + timedelta(minutes=1))
        with pytest.raises(StepTimeError, match="hours back"):
            step(now - limits.max_back - timedelta(minutes=1))
        with pytest.raises(StepTimeError, match="previous step"):
            step(now - timedelta(minutes=33))
        assert ticket.status == "dispatched"
        step(now - timedelta(minutes=10))
        assert ticket.status == "accepted"


def test_merge_split_and_callback(
    seeded: object,
    session_factory: sessionmaker[Session],
    settings: Settings,
    config: DispatchConfig,
    now: datetime,
) -> None:
    labels = config.callback_results
    with unit_of_work(session_factory) as session:
        ticket = _get(session, RECEIVED)
        outage = outages.get_by_no(session, CURRENT_OUTAGE)
        assert outage is not None
        dispatch.merge(session, ticket, outage, actor=DISPATCHER, now=now)
        assert (ticket.status, ticket.outage_id) == ("merged", outage.id)
        assert dispatch_queries.deadline_of(session, ticket) == outage.expected_restore_at
        dispatch.split(session, settings, ticket, actor=DISPATCHER, now=now, note="不是同一故障")
        assert (ticket.status, ticket.outage_id) == ("received", None)
        assert ticket.respond_due_at is not None
        assert ticket.respond_due_at > ticket.created_at
        with pytest.raises(StepRefused):
            dispatch.callback(
                session, ticket, "satisfied", actor=DISPATCHER, labels=labels, now=now
            )
        ticket.status = "restored"  # as if repaired
        dispatch.callback(session, ticket, "unreachable", actor=DISPATCHER, labels=labels, now=now)
        assert (ticket.status, ticket.callback_result) == ("awaiting_callback", None)
        dispatch.callback(session, ticket, "satisfied", actor=DISPATCHER, labels=labels, now=now)
        assert (ticket.status, ticket.callback_result) == ("closed", "satisfied")
        assert ticket.closed_at == now
        assert ticket.events[-1].note == "回访：满意"


def test_the_list_filters_and_counts(
    seeded: object, session_factory: sessionmaker[Session], config: DispatchConfig, now: datetime
) -> None:
    boss = Viewer(user_id=0, role="dispatcher")
    soon = config.due_soon

    def page(**kw: object) -> dispatch_queries.TicketPage:
        return dispatch_queries.list_tickets(
            session,
            boss,
            TicketFilter(limit=200, **kw),
            now=now,
            due_soon=soon,  # type: ignore[arg-type]
        )

    with unit_of_work(session_factory) as session:
        everything = page()
        assert everything.total == sum(everything.counts.values()) == len(everything.tickets)
        assert {t.type for t, _ in everything.tickets} == {"fault", "hazard"}
        overdue = page(due="overdue")
        assert overdue.tickets
        assert all(d is not None and d < now for _, d in overdue.tickets)
        assert ACCEPTED in [t.ticket_no for t, _ in overdue.tickets]  # the remote one, late
        merged = page(merged=True)
        assert merged.tickets
        assert all(t.outage_id is not None for t, _ in merged.tickets)
        east = _crew(session, "东片抢修组")
        theirs = page(crew_id=east.id, open_only=True)
        assert [t.ticket_no for t, _ in theirs.tickets] == [CHEN]
        received = page(statuses=("received",))
        assert received.counts == everything.counts  # the counts ignore the status filter
        assert received.total == everything.counts["received"]
        first_open = [t for t, _ in everything.tickets if t.closed_at is None]
        assert everything.tickets[: len(first_open)] == [
            (t, d) for t, d in everything.tickets if t.closed_at is None
        ]
        queue = dispatch_queries.crew_queue(
            session, Viewer(user_id=0, role="crew", crew_id=east.id), now=now
        )
        assert [t.ticket_no for t, _ in queue] == [CHEN]


def test_photos_are_checked_and_kept_on_disk(
    seeded: object, session_factory: sessionmaker[Session], config: DispatchConfig, now: datetime
) -> None:
    limits = replace(config.photos, max_per_ticket=2, max_bytes=4096)
    with unit_of_work(session_factory) as session:
        ticket = _get(session, CHEN)
        with pytest.raises(ticket_photos.PhotoError) as not_image:
            ticket_photos.save(session, limits, ticket, b"<svg>", actor="crew1", now=now)
        assert not_image.value.status == 415
        with pytest.raises(ticket_photos.PhotoError) as big:
            ticket_photos.save(session, limits, ticket, JPEG + b"\0" * 5000, actor="crew1", now=now)
        assert big.value.status == 413
        photo = ticket_photos.save(session, limits, ticket, JPEG, actor="crew1", now=now)
        ticket_photos.save(session, limits, ticket, JPEG, actor="crew1", now=now)
        with pytest.raises(ticket_photos.PhotoError) as many:
            ticket_photos.save(session, limits, ticket, JPEG, actor="crew1", now=now)
        assert many.value.status == 409
        assert photo.content_type == "image/jpeg"
        assert ticket_photos.read(limits, photo) == JPEG
        names = sorted(p.name for p in limits.directory.iterdir())
        assert len(names) == 2
        assert all(n.startswith(f"{ticket.id}-") for n in names)
        assert ticket.events[-1].note == "上传照片"
        assert ticket.events[-1].status == "on_site"  # a note: the customer is not told

"""Fault reports (duplicates, outage merging, commitments) and tickets of every type."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.demo import DemoSummary
from store.models import Account, ServiceArea, Ticket
from store.services import accounts, areas, tickets
from store.services.tickets import AnonymityError, IllegalTransition


def _area(session: Session, name: str) -> ServiceArea:
    area = areas.match_area(session, name)
    assert area is not None
    return area


def _account(session: Session, number: str) -> Account:
    account = accounts.get_by_no(session, number)
    assert account is not None
    return account


def _report(
    session: Session,
    settings: Settings,
    now: datetime,
    area: str,
    *,
    sender: str | None = "tg-9",
    phone: str | None = "13812345678",
    account: Account | None = None,
) -> tickets.FaultReport:
    return tickets.report_fault(
        session, settings, area=_area(session, area), address=f"{area}1组", description="没电了",
        contact_phone=phone, account=account, sender_id=sender, channel="telegram", now=now,
    )  # fmt: skip


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Ticket)) or 0)


@pytest.mark.parametrize(
    ("area", "arrival", "restore"), [("新街社区", 45, 3), ("东山村", 90, 4), ("云雾村", 120, 4)]
)
def test_new_fault_gets_the_area_kind_commitment(
    seeded: DemoSummary,
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    area: str,
    arrival: int,
    restore: int,
) -> None:
    with unit_of_work(session_factory) as session:
        report = _report(session, settings, now, area)
        assert report.kind == "created"
        assert report.outage is None
        ticket = report.ticket
        assert (ticket.type, ticket.status, ticket.priority) == ("fault", "received", "high")
        assert ticket.respond_due_at == now + timedelta(minutes=arrival)
        assert ticket.resolve_due_at == now + timedelta(minutes=arrival, hours=restore)
        assert ticket.ticket_no.startswith("T261123")
        assert [e.status for e in ticket.events] == ["received"]


def test_second_report_by_the_same_customer_is_a_duplicate(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        first = _report(session, settings, now, "东山村").ticket
        before = _count(session)
        later = now + timedelta(minutes=30)
        by_sender = _report(session, settings, later, "东山村", phone=None)
        by_phone = _report(session, settings, later, "东山村", sender="other")
        assert (by_sender.kind, by_sender.ticket.id) == ("duplicate", first.id)
        assert (by_phone.kind, by_phone.ticket.id) == ("duplicate", first.id)
        assert _count(session) == before
        # another area, or after the window, or once power is back: a new ticket
        assert _report(session, settings, later, "柳湾村").kind == "created"
        window = timedelta(hours=settings.commitments.duplicate_window_hours, minutes=1)
        assert _report(session, settings, now + window, "东山村").kind == "created"


def test_duplicate_by_account(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        zhang = _account(session, "3301000001")
        first = _report(session, settings, now, "东山村", sender="a", phone=None, account=zhang)
        again = _report(session, settings, now, "东山村", sender="b", phone=None, account=zhang)
        assert again.kind == "duplicate"
        assert again.ticket.id == first.ticket.id


def test_restored_fault_is_not_a_duplicate(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        ticket = _report(session, settings, now, "东山村").ticket
        for status in ("dispatched", "accepted", "on_site", "repairing", "restored"):
            tickets.advance(session, ticket, status, actor="crew", now=now)
        assert _report(session, settings, now, "东山村").kind == "created"


def test_report_inside_a_known_outage_is_merged(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        report = _report(session, settings, now, "西河村村口")
        assert report.kind == "merged"
        assert report.outage is not None
        assert report.outage.kind == "fault"
        ticket = report.ticket
        assert ticket.status == "merged"
        assert ticket.outage_id == report.outage.id
        assert ticket.resolve_due_at == report.outage.expected_restore_at
        assert [e.status for e in ticket.events] == ["received", "merged"]
        view = tickets.describe(session, settings, ticket, now)
        assert view.due_at == report.outage.expected_restore_at
        assert view.outage_no == report.outage.outage_no
        # reporting again is a duplicate of the merged ticket, not a second merge
        assert _report(session, settings, now, "西河村").kind == "duplicate"


@pytest.mark.parametrize(
    ("ticket_type", "respond", "resolve"),
    [
        ("complaint", timedelta(hours=24), timedelta(days=7)),  # Mon → next Mon: 5 working days
        ("meter_test", None, timedelta(days=7)),  # 5 working days
        ("reconnect", None, timedelta(hours=24)),
        ("suggestion", None, timedelta(days=14)),  # 10 working days
        ("bill_check", None, timedelta(days=7)),
        ("callback", timedelta(hours=24), timedelta(hours=24)),
    ],
)
def test_deadlines_by_type(
    seeded: DemoSummary,
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    ticket_type: str,
    respond: timedelta | None,
    resolve: timedelta,
) -> None:
    with unit_of_work(session_factory) as session:
        ticket = tickets.create_ticket(
            session, settings, type=ticket_type, description="x", now=now, sender_id="s"
        )
        assert ticket.respond_due_at == (now + respond if respond else None)
        assert ticket.resolve_due_at == now + resolve


def test_working_day_deadline_over_national_day(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    start = datetime(2026, 9, 30, 10, 0, tzinfo=settings.tz)
    with unit_of_work(session_factory) as session:
        ticket = tickets.create_ticket(
            session, settings, type="complaint", description="x", now=start, sender_id="s"
        )
        # 1-7 Oct off; 8, 9, 10 (make-up Saturday), 12, 13 Oct
        assert ticket.resolve_due_at == datetime(2026, 10, 13, 10, 0, tzinfo=settings.tz)
        assert ticket.ticket_no.startswith("T260930")


def test_hazard_is_urgent_with_the_default_arrival_when_the_place_is_unknown(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        ticket = tickets.create_ticket(
            session, settings, type="hazard", description="电线掉地上冒火花", now=now, sender_id="s"
        )
        assert ticket.priority == "urgent"
        assert ticket.area is None
        assert ticket.respond_due_at == now + timedelta(minutes=90)
        area = _area(session, "新街社区")
        tickets.update_address(session, ticket, address="新街社区路口", area=area, now=now)
        assert (ticket.address, ticket.area_id) == ("新街社区路口", area.id)


def test_violation_reports_are_anonymous(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        zhang = _account(session, "3301000001")
        for identity in (
            {"sender_id": "tg-1"},
            {"account": zhang},
            {"contact_phone": "13905710001"},
        ):
            with pytest.raises(AnonymityError):
                tickets.create_ticket(
                    session, settings, type="violation", description="有人偷电", now=now,
                    **identity,
                )  # fmt: skip
        ticket = tickets.create_ticket(
            session, settings, type="violation", description="有人偷电", now=now, channel="rest",
            area=_area(session, "杨家村"),
        )  # fmt: skip
        assert (ticket.sender_id, ticket.account_id, ticket.contact_phone) == (None, None, None)
        assert ticket.resolve_due_at is not None


def test_unknown_type_and_priority(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        with pytest.raises(ValueError, match="unknown ticket type"):
            tickets.create_ticket(session, settings, type="gossip", description="x", now=now)
        with pytest.raises(ValueError, match="unknown priority"):
            tickets.create_ticket(
                session, settings, type="praise", description="x", now=now, priority="asap"
            )


def test_lookup_and_open_lists(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        chen = _account(session, "3301000005")
        mine = tickets.open_for_account(session, chen.id)
        assert [(t.type, t.status) for t in mine] == [("fault", "on_site")]
        number = mine[0].ticket_no
        assert tickets.get_by_no(session, number.lower()) is mine[0]
        full_width = number.translate(str.maketrans("T0123456789", "Ｔ０１２３４５６７８９"))
        assert tickets.get_by_no(session, full_width) is mine[0]
        assert tickets.get_by_no(session, "T0000000000") is None
        assert tickets.get_by_no(session, "hello") is None
        created = _report(session, settings, now, "东山村", sender="conv-x")
        assert tickets.open_for_sender(session, "conv-x") == [created.ticket]
        assert tickets.open_for_sender(session, "") == []


def test_fault_walks_its_state_machine_and_refuses_illegal_moves(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        ticket = _report(session, settings, now, "东山村").ticket
        with pytest.raises(IllegalTransition):
            tickets.advance(session, ticket, "closed", actor="x", now=now)
        with pytest.raises(IllegalTransition):
            tickets.advance(session, ticket, "on_site", actor="x", now=now)
        assert ticket.status == "received"
        path = ["dispatched", "accepted", "on_site", "repairing", "restored", "awaiting_callback"]
        for minutes, status in enumerate(path, 1):
            tickets.advance(
                session, ticket, status, actor="抢修一班", now=now + timedelta(minutes=minutes)
            )
        event = tickets.advance(
            session, ticket, "closed", actor="回访", now=now + timedelta(hours=2), note="满意"
        )
        assert (event.status, event.note) == ("closed", "满意")
        assert ticket.closed_at == now + timedelta(hours=2)
        with pytest.raises(IllegalTransition):
            tickets.advance(session, ticket, "received", actor="x", now=now)
        assert [e.status for e in ticket.events] == ["received", *path, "closed"]


def test_complaint_escalation(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        ticket = tickets.create_ticket(
            session, settings, type="complaint", description="态度差", now=now, sender_id="c"
        )
        tickets.advance(session, ticket, "assigned", actor="值班长", now=now)
        event = tickets.escalate(session, ticket, actor="assistant", now=now, note="再次投诉")
        assert (event.status, ticket.status, ticket.escalated) == ("escalated", "escalated", True)
        again = tickets.escalate(session, ticket, actor="assistant", now=now, note="第三次")
        assert again.note == "第三次"
        assert ticket.status == "escalated"
        view = tickets.describe(session, settings, ticket, now)
        assert "12398" in view.next_step.zh


def test_describe_shows_status_timeline_and_deadline_without_personal_data(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        chen = _account(session, "3301000005")
        ticket = tickets.open_for_account(session, chen.id)[0]
        view = tickets.describe(session, settings, ticket, now)
        assert view.status_label.zh == "已到达现场"
        assert view.type_label.zh == "故障报修"
        assert [s.code for s in view.timeline] == ["received", "dispatched", "accepted", "on_site"]
        assert all(s.at.utcoffset() == timedelta(hours=8) for s in view.timeline)
        assert view.due_at == ticket.resolve_due_at  # crew on site: restoration is what counts
        assert view.due_at is not None
        assert view.due_at.utcoffset() == timedelta(hours=8)
        assert not view.overdue
        assert view.area_name is not None
        assert view.area_name.zh == "桃源村"
        text = repr(view)
        assert chen.phone not in text
        assert chen.holder_name not in text
        assert chen.account_no not in text


def test_describe_marks_overdue_and_finished(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        waiting = session.scalars(
            select(Ticket).where(Ticket.type == "fault", Ticket.status == "accepted")
        ).one()  # the remote village: the crew is late
        view = tickets.describe(session, settings, waiting, now)
        assert view.overdue
        assert view.due_at == waiting.respond_due_at
        closed = session.scalars(select(Ticket).where(Ticket.status == "closed")).first()
        assert closed is not None
        done = tickets.describe(session, settings, closed, now)
        assert (done.due_at, done.overdue, done.finished) == (None, False, True)

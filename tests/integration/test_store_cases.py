"""The back office's case services on the demo station (SQLite and PostgreSQL): a complaint from
received to closed with the verdict, its commitments and repeats; an application sent back for
documents (the clock paused or restarted as conf says), approved, rejected; customer search and
the customer page with its access record. Illegal steps are refused and change nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.configuration.back_office import BackOffice, SendBackClock, read_back_office
from store.db import unit_of_work
from store.models import AccessAudit, Application, ApplicationStage, Ticket
from store.services import (
    accounts,
    applications,
    case_applications,
    case_feedback,
    customer_records,
    staff,
    tickets,
)
from store.services.access_audit import Opening
from store.services.case_application_views import application_view, queue
from store.services.case_feedback_views import case_view, list_cases
from store.services.console_sessions import StaffIdentity
from store.sla import add_working_days
from store.workflow import IllegalTransition

PHONE = "13905719999"


@pytest.fixture
def office(settings: Settings) -> BackOffice:
    return read_back_office(settings.conf_dir)


@pytest.fixture
def clerk(seeded: Any, session_factory: sessionmaker[Session], now: datetime) -> str:
    with unit_of_work(session_factory) as session:
        staff.create_user(
            session, username="zhou", display_name="营业员小周", password="pw", role="clerk",
            now=now,
        )  # fmt: skip
        staff.create_user(
            session, username="agent9", display_name="坐席", password="pw", role="agent", now=now
        )
    return "zhou"


def _complaint(factory: sessionmaker[Session], settings: Settings, at: datetime) -> str:
    with unit_of_work(factory) as session:
        account = accounts.get_by_no(session, "3301000001")
        ticket = tickets.create_ticket(
            session, settings, type="complaint", description="抢修人员态度很差，电话也不接",
            now=at, account=account, contact_phone=PHONE, sender_id="telegram:8801",
            channel="telegram",
        )  # fmt: skip
        return ticket.ticket_no


def _case(session: Session, number: str) -> Ticket:
    ticket = case_feedback.get_case(session, number)
    assert ticket is not None
    return ticket


def test_a_complaint_from_received_to_closed_with_the_verdict(
    session_factory: sessionmaker[Session], settings: Settings, office: BackOffice,
    clerk: str, now: datetime,
) -> None:  # fmt: skip
    number = _complaint(session_factory, settings, now)
    steps: list[Callable[[Session, Ticket, datetime], object]] = [
        lambda s, t, at: case_feedback.assign(s, t, handler=clerk, actor="chief", now=at),
        lambda s, t, at: case_feedback.record_contact(s, t, actor=clerk, now=at, note="已电话联系"),
        lambda s, t, at: case_feedback.record_reply(s, t, actor=clerk, now=at, reply="已批评教育"),
        lambda s, t, at: case_feedback.close(
            s, t, actor=clerk, now=at, verdict="satisfied", note="回访满意"
        ),
    ]
    for hours, step in enumerate(steps, start=1):
        with unit_of_work(session_factory) as session:
            step(session, _case(session, number), now + timedelta(hours=hours))
    with unit_of_work(session_factory) as session:
        ticket = _case(session, number)
        history = [(e.status, e.actor) for e in ticket.events]
        assert history == [
            ("received", "assistant"), ("assigned", "chief"), ("contacted", clerk),
            ("investigating", clerk), ("replied", clerk), ("closed", clerk),
        ]  # fmt: skip
        assert (ticket.handler, ticket.verdict, ticket.reply) == (clerk, "satisfied", "已批评教育")
        assert ticket.contacted_at == now + timedelta(hours=2)
        view = case_view(session, settings, office, ticket, now + timedelta(hours=5))
    assert view["contact"]["late"] is False
    assert view["reply"]["late"] is False
    assert view["timeline"][-1]["note"] == "客户满意；回访满意"
    assert view["phone"] == PHONE  # the handler calls the customer


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ((), "contact"),  # no handler yet
        (("assign",), "reply"),  # not contacted yet
        (("assign", "contact"), "close"),  # not answered yet
        (("assign", "contact", "reply", "close"), "assign"),  # finished
    ],
)
def test_illegal_steps_are_refused_and_change_nothing(
    session_factory: sessionmaker[Session], settings: Settings, clerk: str, now: datetime,
    steps: tuple[str, ...], refused: str,
) -> None:  # fmt: skip
    number = _complaint(session_factory, settings, now)
    act = {
        "assign": lambda s, t: case_feedback.assign(s, t, handler=clerk, actor=clerk, now=now),
        "contact": lambda s, t: case_feedback.record_contact(s, t, actor=clerk, now=now, note="x"),
        "reply": lambda s, t: case_feedback.record_reply(s, t, actor=clerk, now=now, reply="y"),
        "close": lambda s, t: case_feedback.close(
            s, t, actor=clerk, now=now, verdict="unsatisfied"
        ),
    }
    for name in steps:
        with unit_of_work(session_factory) as session:
            act[name](session, _case(session, number))
    with unit_of_work(session_factory) as session:
        before = [(e.status, e.note) for e in _case(session, number).events]
    with pytest.raises(IllegalTransition), unit_of_work(session_factory) as session:
        act[refused](session, _case(session, number))
    with unit_of_work(session_factory) as session:
        assert [(e.status, e.note) for e in _case(session, number).events] == before


def test_wrong_values_are_refused(
    session_factory: sessionmaker[Session], settings: Settings, clerk: str, now: datetime
) -> None:
    number = _complaint(session_factory, settings, now)
    with pytest.raises(ValueError, match="handles cases"), unit_of_work(session_factory) as s:
        case_feedback.assign(s, _case(s, number), handler="agent9", actor=clerk, now=now)
    with unit_of_work(session_factory) as s:
        case_feedback.assign(s, _case(s, number), handler=clerk, actor=clerk, now=now)
        case_feedback.record_contact(s, _case(s, number), actor=clerk, now=now, note="联系了")
        case_feedback.record_reply(s, _case(s, number), actor=clerk, now=now, reply="答复")
    for verdict in (None, "happy"):
        with pytest.raises(ValueError, match="verdict"), unit_of_work(session_factory) as s:
            case_feedback.close(s, _case(s, number), actor=clerk, now=now, verdict=verdict)


def test_a_violation_report_has_nobody_to_contact_and_no_verdict(
    session_factory: sessionmaker[Session], settings: Settings, clerk: str, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        number = tickets.create_ticket(
            session, settings, type="violation", description="隔壁私拉电线", now=now
        ).ticket_no
        case_feedback.assign(session, _case(session, number), handler=clerk, actor=clerk, now=now)
    with pytest.raises(IllegalTransition), unit_of_work(session_factory) as s:
        case_feedback.record_contact(s, _case(s, number), actor=clerk, now=now, note="x")
    with unit_of_work(session_factory) as s:
        case_feedback.record_reply(s, _case(s, number), actor=clerk, now=now, reply="已查处")
    with pytest.raises(ValueError, match="anonymous"), unit_of_work(session_factory) as s:
        case_feedback.close(s, _case(s, number), actor=clerk, now=now, verdict="satisfied")
    with unit_of_work(session_factory) as s:
        case_feedback.close(s, _case(s, number), actor=clerk, now=now, verdict=None)
        assert _case(s, number).status == "closed"


def test_overdue_and_repeated_complaints_stand_out(
    session_factory: sessionmaker[Session], settings: Settings, office: BackOffice,
    clerk: str, now: datetime,
) -> None:  # fmt: skip
    first = _complaint(session_factory, settings, now - timedelta(days=30))
    second = _complaint(session_factory, settings, now - timedelta(hours=30))
    with unit_of_work(session_factory) as session:
        overdue = list_cases(session, settings, office, now, type="complaint", state="overdue")
        numbers = [c["ticket_no"] for c in overdue["cases"]]
        assert second in numbers  # not contacted within 24 h
        mine = next(c for c in overdue["cases"] if c["ticket_no"] == second)
        assert mine["contact"]["late"] is True
        assert mine["earlier_complaints"] == 1
        assert mine["phone"] == "139****9999"
        view = case_view(session, settings, office, _case(session, second), now)
        assert [e["ticket_no"] for e in view["earlier"]] == [first]
        listed = list_cases(session, settings, office, now, state="open")["cases"]
        flags = [c["overdue"] for c in listed]
        assert flags == sorted(flags, reverse=True)  # overdue ones first


def _application(factory: sessionmaker[Session], settings: Settings, at: datetime) -> str:
    with unit_of_work(factory) as session:
        account = accounts.get_by_no(session, "3303301000004")  # no property proof on file
        app = applications.start(
            session, settings, app_type="new_connection", now=at, account=account,
            sender_id="telegram:8802", channel="telegram",
        )  # fmt: skip
        return app.application_no


def _app(session: Session, number: str) -> Application:
    app = applications.get_by_no(session, number)
    assert app is not None
    return app


@pytest.mark.parametrize("clock", list(SendBackClock))
def test_an_application_sent_back_for_documents_then_approved(
    session_factory: sessionmaker[Session], settings: Settings, office: BackOffice,
    now: datetime, clock: SendBackClock,
) -> None:  # fmt: skip
    office = dataclasses.replace(office, send_back_clock=clock)
    number = _application(session_factory, settings, now)
    back = now + timedelta(hours=1)
    with unit_of_work(session_factory) as session:
        app = _app(session, number)
        due_before = app.due_at
        with pytest.raises(IllegalTransition, match="lacks"):  # documents missing
            case_applications.approve(session, settings, app, reason="ok", actor="zhou", now=back)
        case_applications.send_back(
            session, settings, app, missing=["property_proof", "id_card"], actor="zhou",
            now=back, note="身份证复印件不清晰",
        )  # fmt: skip
        assert app.stage == ApplicationStage.NEED_MORE_DOCS
        assert app.documents_requested == ["property_proof", "id_card"]
        assert "id_card" not in app.documents_received
    returned = now + timedelta(days=7)  # Monday 23 → Monday 30 November: 5 working days
    with unit_of_work(session_factory) as session:
        app = _app(session, number)
        with pytest.raises(IllegalTransition, match="lacks"):
            case_applications.advance(
                session, settings, office, app, "received", actor="zhou", now=returned,
                received=["id_card"],
            )  # fmt: skip
    with unit_of_work(session_factory) as session:
        app = _app(session, number)
        case_applications.advance(
            session, settings, office, app, "received", actor="zhou", now=returned,
            received=["id_card", "property_proof"],
        )  # fmt: skip
        limit = settings.commitments.application_working_days("new_connection")
        expected = {
            SendBackClock.PAUSED: add_working_days(due_before, 5, settings.calendar, settings.tz),
            SendBackClock.RESTARTED: add_working_days(
                returned, limit, settings.calendar, settings.tz
            ),
        }[clock]
        assert app.due_at == expected
        assert app.documents_requested is None
        event = case_applications.approve(
            session, settings, app, reason="资料齐全", actor="zhou", now=returned
        )
        assert (event.stage, app.decision, app.decided_by) == ("surveyed", "approved", "zhou")
        view = application_view(session, settings, app, returned)
    assert view["documents_missing"] == []
    assert [e["stage"] for e in view["timeline"]] == [
        "received", "need_more_docs", "received", "surveyed",
    ]  # fmt: skip
    assert view["timeline"][1]["note"] == "需补充：房产证明或宅基地证明、身份证；身份证复印件不清晰"


def test_a_rejected_application_is_finished(
    session_factory: sessionmaker[Session], settings: Settings, office: BackOffice, now: datetime
) -> None:
    number = _application(session_factory, settings, now)
    with unit_of_work(session_factory) as session:
        app = _app(session, number)
        with pytest.raises(ValueError, match="reason"):
            case_applications.reject(session, app, reason="  ", actor="zhou", now=now)
        case_applications.reject(session, app, reason="不在供电范围内", actor="zhou", now=now)
        assert (app.stage, app.decision, app.closed_at) == ("rejected", "rejected", now)
        assert applications.allowed_next(settings, app) == ()
        with pytest.raises(IllegalTransition):
            case_applications.advance(
                session, settings, office, app, "surveyed", actor="zhou", now=now
            )
        closed = queue(session, settings, office, now, state="closed")
    stages = {g["stage"]: g for g in closed["stages"]}
    assert number in [a["application_no"] for a in stages["rejected"]["applications"]]


def test_the_queue_groups_by_stage_with_each_stages_limit(
    session_factory: sessionmaker[Session], settings: Settings, office: BackOffice,
    seeded: Any, now: datetime,
) -> None:  # fmt: skip
    with unit_of_work(session_factory) as session:
        found = queue(session, settings, office, now, type="name_transfer")
    groups = {g["stage"]: g["applications"] for g in found["stages"]}
    assert groups, "the demo has open name transfers"
    for stage, items in groups.items():
        for item in items:
            assert (item["type"], item["stage"]) == ("name_transfer", stage)
            days = settings.applications.types["name_transfer"].stage(stage)
            assert item["stage_working_days"] == (days.working_days if days else None)
            if item["waits_on_customer"]:
                assert item["due_at"] is None  # the customer's turn: no deadline runs


def _identity(user_id: int) -> StaffIdentity:
    return StaffIdentity(
        session_id=1,
        user_id=user_id,
        username="zhou",
        display_name="营业员小周",
        role="clerk",
        csrf_token="t",
        expires_at=datetime.now(UTC),
    )


def test_customer_search_and_page_with_its_access_record(
    session_factory: sessionmaker[Session], settings: Settings, office: BackOffice,
    clerk: str, now: datetime,
) -> None:  # fmt: skip
    number = _complaint(session_factory, settings, now)
    with unit_of_work(session_factory) as session:
        by_no = customer_records.search(session, office, "3301000001")
        by_phone = customer_records.search(session, office, "0001")
        by_name = customer_records.search(session, office, "张建国")
        by_address = customer_records.search(session, office, "东山村3组12")
        for found in (by_no, by_phone, by_name, by_address):
            assert "3301000001" in [c["account_no"] for c in found], found
        assert by_no[0]["phone"] == "139****0001"
        assert customer_records.search(session, office, "100%") == []  # no wildcard
        with pytest.raises(ValueError, match="4 digits"):
            customer_records.search(session, office, "12")
        account = customer_records.get_account(session, "3301000001")
        assert account is not None
        user = staff.get_by_username(session, clerk)
        assert user is not None
        opening = Opening(
            who=_identity(user.id), kind="customer_record", address="10.0.0.9", at=now
        )
        page = customer_records.customer_page(session, settings, office, account, opening)
    assert page["account"]["phone"] == "13905710001"
    assert page["meters"] == [{"meter_no": account.meter_no}]
    assert 0 < len(page["bills"]) <= office.recent_bills
    assert page["bills"][0]["period"] > page["bills"][-1]["period"]  # newest first
    refs = {(e["kind"], e["ref"]) for e in page["history"]}
    assert ("complaint", number) in refs
    with unit_of_work(session_factory) as session:
        row = session.scalars(select(AccessAudit).order_by(AccessAudit.id.desc())).first()
        assert row is not None
        assert (row.kind, row.account_no, row.username, row.conversation_pk) == (
            "customer_record", "3301000001", "zhou", None,
        )  # fmt: skip

"""The demo data: deterministic, complete (every type, stage, overdue cases) and true to the
five documented accounts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from store import demo
from store.config import Settings
from store.db import unit_of_work
from store.models import Account, Application, Base, Bill, Ticket
from store.services import accounts, applications, outages, tickets
from store.workflow import TICKET_TYPES


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(t.select().order_by(*t.primary_key.columns))]
            for t in Base.metadata.sorted_tables
        }


@pytest.mark.slow
def test_seeding_is_deterministic(
    session_factory: sessionmaker[Session], engine: Engine, settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        demo.seed(session, settings, now=now)
    first = dump(engine)
    with unit_of_work(session_factory) as session:
        assert demo.has_data(session)
        demo.reset(session)
        assert not demo.has_data(session)
        demo.seed(session, settings, now=now)
    assert dump(engine) == first
    with unit_of_work(session_factory) as session:
        demo.reset(session)
        demo.seed(session, settings, now=now, seed=7)
    assert dump(engine)["accounts"] != first["accounts"]


def test_the_template_copy_is_what_seed_makes(seeded: demo.DemoSummary, engine: Engine) -> None:
    rows = dump(engine)
    assert len(rows["accounts"]) == seeded.accounts >= 300
    assert len(rows["bills"]) == seeded.bills == 12 * seeded.accounts
    assert seeded.areas == 11


def _account(session: Session, number: str) -> Account:
    account = accounts.get_by_no(session, number)
    assert account is not None
    return account


def test_documented_accounts(
    seeded: demo.DemoSummary, session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        for spec in demo.DEMO_ACCOUNTS:
            account = _account(session, spec.account_no)
            assert (account.holder_name, account.phone, account.address, account.area.name) == (
                spec.holder_name,
                spec.phone,
                spec.address,
                spec.area_name,
            )
        zhang = _account(session, "3301000001")
        assert zhang.area.kind == "rural"
        assert (zhang.category, zhang.supply_status, zhang.id_card_on_file) == (
            "residential", "normal", True,
        )  # fmt: skip
        assert zhang.balance >= 0
        assert all(b.paid for b in zhang.bills)
        li = _account(session, "3301000002")
        assert li.area.kind == "urban"
        last = li.bills[-1]
        assert (last.tier2_kwh > 0, last.paid) == (True, False)
        wang = _account(session, "3301000003")
        assert (wang.area.kind, wang.supply_status) == ("remote", "disconnected")
        assert wang.balance < 0
        zhao = _account(session, "3303301000004")
        assert (len(zhao.account_no), zhao.area.kind, zhao.property_proof_on_file) == (
            13, "rural", False,
        )  # fmt: skip
        assert outages.active_for_area(session, zhao.area_id, now) is not None
        assert [a.type for a in applications.open_for_account(session, zhao.id)] == [
            "new_connection"
        ]
        chen = _account(session, "3301000005")
        assert chen.prepaid
        assert chen.balance > 0
        faults = session.scalars(
            select(Ticket).where(Ticket.account_id == chen.id).order_by(Ticket.created_at)
        ).all()
        assert [t.status for t in faults] == ["closed", "on_site"]


def test_every_ticket_type_open_and_closed_some_overdue(
    seeded: demo.DemoSummary,
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
) -> None:
    with unit_of_work(session_factory) as session:
        rows = session.execute(
            select(Ticket.type, Ticket.closed_at.is_(None), func.count()).group_by(
                Ticket.type, Ticket.closed_at.is_(None)
            )
        ).all()
        seen = {(t, bool(is_open)) for t, is_open, _ in rows}
        for ticket_type in TICKET_TYPES:
            assert (ticket_type, True) in seen, ticket_type
            assert (ticket_type, False) in seen, ticket_type
        open_tickets = session.scalars(select(Ticket).where(Ticket.closed_at.is_(None))).all()
        overdue = [t for t in open_tickets if tickets.describe(session, settings, t, now).overdue]
        assert len(overdue) >= 3
        for ticket in session.scalars(select(Ticket)).all():
            assert ticket.created_at <= now
            assert all(e.at <= now for e in ticket.events)
            if ticket.type == "violation":
                assert (ticket.sender_id, ticket.account_id, ticket.contact_phone) == (
                    None, None, None,
                )  # fmt: skip


def test_every_stage_of_every_application_type(
    seeded: demo.DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(session_factory) as session:
        present = {(t, s) for t, s in session.execute(select(Application.type, Application.stage))}
    for code, config in settings.applications.types.items():
        expected = {s.code for s in config.stages} | set(config.side_stages) | {"cancelled"}
        assert {(code, stage) for stage in expected} <= present, code


def test_outages_relative_to_now(
    seeded: demo.DemoSummary, session_factory: sessionmaker[Session], now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        found = outages.list_current_and_planned(session, now)
        fault, planned = found
        assert fault.area.name == "西河村"
        assert fault.expected_restore_at == now + timedelta(hours=3)
        assert planned.area.name == "南塘村"
        assert timedelta(days=2) < planned.starts_at - now < timedelta(days=4)


def test_bills_cover_twelve_months(
    seeded: demo.DemoSummary, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        periods = session.scalars(select(Bill.period).distinct().order_by(Bill.period)).all()
        assert periods[0] == "2025-11"
        assert periods[-1] == "2026-10"
        assert len(periods) == 12

        def count(condition: ColumnElement[bool]) -> int:
            return int(session.scalar(select(func.count()).where(condition)) or 0)

        assert count(Bill.paid.is_(False)) > 0
        assert count(Account.prepaid.is_(True)) > 10
        assert count(Account.household_size >= 5) > 10
        assert count(Account.supply_status == "disconnected") >= 3


@pytest.mark.slow
@pytest.mark.parametrize("days_later", [0, 137])
def test_the_documented_numbers_exist_whatever_the_day_of_seeding(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime, days_later: int
) -> None:
    """README.md and docs/ name demo numbers; they must exist after a seed on any date."""
    from store.demodata.featured import (
        CURRENT_OUTAGE,
        OPEN_REPAIRS,
        PLANNED_OUTAGE,
        ZHAO_APPLICATION,
    )

    with unit_of_work(session_factory) as session:
        if demo.has_data(session):
            demo.reset(session)
        demo.seed(session, settings, now=now + timedelta(days=days_later))
    with unit_of_work(session_factory) as session:
        app = applications.get_by_no(session, ZHAO_APPLICATION)
        assert app is not None
        assert app.type == "new_connection"
        assert app.account is not None
        assert app.account.account_no == "3303301000004"
        for village, status, number in OPEN_REPAIRS:
            ticket = tickets.get_by_no(session, number)
            assert ticket is not None, number
            assert (ticket.area.name if ticket.area else None, ticket.status) == (village, status)
        current = outages.get_by_no(session, CURRENT_OUTAGE)
        assert current is not None
        assert current.area.name == "西河村"
        planned = outages.get_by_no(session, PLANNED_OUTAGE)
        assert planned is not None
        assert planned.area.name == "南塘村"

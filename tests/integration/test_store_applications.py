"""Applications: checklists from what is on file, working-day limits, stage order."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.demo import DemoSummary
from store.models import Account
from store.services import accounts, applications
from store.services.applications import IllegalTransition


def _account(session: Session, number: str) -> Account:
    account = accounts.get_by_no(session, number)
    assert account is not None
    return account


def _codes(docs: tuple[applications.Document, ...]) -> list[str]:
    return [d.code for d in docs]


def test_checklist_uses_what_is_on_file(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with unit_of_work(session_factory) as session:
        zhang = _account(session, "3301000001")
        li = _account(session, "3301000002")  # owes last month's bill
        zhao = _account(session, "3303301000004")  # no property proof on file
        anonymous = applications.checklist(settings, "new_connection", None)
        assert _codes(anonymous.required) == ["id_card", "property_proof"]
        assert anonymous.on_file == ()
        assert _codes(applications.checklist(settings, "new_connection", zhang).missing) == []
        zhao_list = applications.checklist(settings, "new_connection", zhao)
        assert (_codes(zhao_list.on_file), _codes(zhao_list.missing)) == (
            ["id_card"],
            ["property_proof"],
        )
        assert zhao_list.missing[0].zh == "房产证明或宅基地证明"
        transfer = applications.checklist(settings, "name_transfer", zhang)
        assert "arrears_settled" in _codes(transfer.on_file)
        assert "arrears_settled" in _codes(
            applications.checklist(settings, "name_transfer", li).missing
        )
        high = applications.checklist(settings, "new_connection", None, voltage="high")
        assert "load_list" in _codes(high.required)


@pytest.mark.parametrize(
    ("kwargs", "days"),
    [
        ({}, 7),  # 5 working days from a Monday
        ({"category": "non_residential"}, 8),
        ({"voltage": "high"}, 30),  # 22 working days
        ({"voltage": "high", "dual_supply": True}, 45),  # 32 working days, 1 Jan 2027 off
    ],
)
def test_start_sets_the_committed_limit(
    seeded: DemoSummary,
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    kwargs: dict[str, object],
    days: int,
) -> None:
    with unit_of_work(session_factory) as session:
        app = applications.start(
            session,
            settings,
            app_type="new_connection",
            now=now,
            sender_id="web-1",
            **kwargs,  # type: ignore[arg-type]
        )
        assert app.stage == "received"
        assert app.application_no.startswith("A261123")
        assert app.due_at == now + timedelta(days=days)
        assert [e.stage for e in app.events] == ["received"]
        assert app.events[0].stage_due_at == now + timedelta(days=1)


def test_start_over_a_holiday_and_with_an_account(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    start = datetime(2026, 9, 30, 10, 0, tzinfo=settings.tz)
    with unit_of_work(session_factory) as session:
        zhang = _account(session, "3301000001")
        app = applications.start(
            session, settings, app_type="capacity_change", now=start, account=zhang,
            contact_phone="１３９０５７１０００１",
        )  # fmt: skip
        assert app.due_at == datetime(2026, 10, 13, 10, 0, tzinfo=settings.tz)
        assert app.documents_received == ["id_card", "property_proof"]
        assert (app.applicant_name, app.address, app.area_id) == (
            "张建国",
            "东山村3组12号",
            zhang.area_id,
        )
        assert app.contact_phone == "13905710001"


def test_bad_input_is_refused(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        with pytest.raises(ValueError, match="unknown application type"):
            applications.start(session, settings, app_type="teleport", now=now)
        with pytest.raises(ValueError, match="unknown business type"):
            applications.start(
                session, settings, app_type="other_change", now=now, business_type="magic"
            )
        with pytest.raises(ValueError, match="voltage"):
            applications.start(session, settings, app_type="new_connection", now=now, voltage="x")


def test_stage_order_is_enforced(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        app = applications.start(session, settings, app_type="new_connection", now=now)
        with pytest.raises(IllegalTransition, match="cannot go from 'received' to 'energized'"):
            applications.advance(session, settings, app, "energized", actor="x", now=now)
        assert app.stage == "received"
        # the optional survey may be skipped
        applications.advance(session, settings, app, "metering_install", actor="装表班", now=now)
        applications.advance(session, settings, app, "energized", actor="装表班", now=now)
        applications.advance(session, settings, app, "archived", actor="营业班", now=now)
        assert app.closed_at == now
        assert applications.allowed_next(settings, app) == ()
        with pytest.raises(IllegalTransition, match="finished"):
            applications.advance(session, settings, app, "received", actor="x", now=now)


def test_missing_documents_stop_the_clock(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        app = applications.start(session, settings, app_type="name_transfer", now=now)
        due = app.due_at
        applications.advance(session, settings, app, "reviewing", actor="营业班", now=now)
        asked = now + timedelta(hours=2)
        applications.advance(session, settings, app, "need_more_docs", actor="营业班", now=asked)
        view = applications.describe(session, settings, app, asked)
        assert view.due_at is None  # waiting on the customer
        assert view.stage_label.zh == "待补充资料"
        back = asked + timedelta(days=7)  # a week later (5 working days)
        assert "contract" in applications.allowed_next(settings, app)
        applications.advance(session, settings, app, "reviewing", actor="营业班", now=back)
        assert app.due_at == due + timedelta(days=7)


def test_high_voltage_rectification_returns_to_inspection(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        app = applications.start(
            session, settings, app_type="new_connection", now=now, voltage="high"
        )
        for stage in ("survey", "plan_issued", "design_review", "customer_construction",
                      "mid_inspection", "completion_inspection", "rectification_required",
                      "completion_inspection", "contract_payment"):  # fmt: skip
            applications.advance(session, settings, app, stage, actor="客户经理", now=now)
        assert app.stage == "contract_payment"
        assert applications.allowed_next(settings, app) == ("metering_install", "cancelled")


def test_lookup_open_lists_and_view(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        zhao = _account(session, "3303301000004")
        mine = applications.open_for_account(session, zhao.id)
        assert [(a.type, a.stage) for a in mine] == [("new_connection", "received")]
        app = mine[0]
        assert applications.get_by_no(session, app.application_no.lower()) is app
        assert applications.get_by_no(session, "A0000000000") is None
        view = applications.describe(session, settings, app, now)
        assert view.type_label.zh == "新装"
        assert [d.zh for d in view.documents_missing] == ["房产证明或宅基地证明"]
        assert view.due_at is not None
        assert view.due_at.utcoffset() == timedelta(hours=8)
        assert zhao.phone not in repr(view)
        started = applications.start(session, settings, app_type="other_change", now=now,
                                     sender_id="web-9", business_type="suspend")  # fmt: skip
        assert applications.open_for_sender(session, "web-9") == [started]
        other = applications.describe(session, settings, started, now)
        assert other.business_type_label is not None
        assert other.business_type_label.zh == "暂停"
        applications.advance(session, settings, started, "cancelled", actor="客户", now=now)
        assert applications.open_for_sender(session, "web-9") == []

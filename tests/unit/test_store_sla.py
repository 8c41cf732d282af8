"""Working days over the holiday calendar and ticket deadlines (pure: no files, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from store.config import Commitments, NewConnectionLimits, VerificationPolicy, WorkCalendar
from store.sla import (
    add_working_days,
    is_overdue,
    ticket_deadlines,
    working_days_between,
)
from store.workflow import TICKET_TYPES

TZ = ZoneInfo("Asia/Shanghai")
NATIONAL_DAY = {date(2026, 10, d) for d in range(1, 8)}
SPRING = {date(2026, 2, d) for d in range(15, 24)}
CALENDAR = WorkCalendar(
    holidays=frozenset(NATIONAL_DAY | SPRING),
    workdays=frozenset({date(2026, 9, 20), date(2026, 10, 10), date(2026, 2, 14)}),
)
COMMITMENTS = Commitments(
    timezone="Asia/Shanghai",
    arrival_minutes_by_kind=MappingProxyType({"urban": 45, "rural": 90, "remote": 120}),
    restoration_hours_by_kind=MappingProxyType({"urban": 3, "rural": 4, "remote": 4}),
    duplicate_window_hours=6,
    unknown_area_kind="rural",
    planned_notice_days=7,
    temporary_notice_days=1,
    new_connection=NewConnectionLimits(5, 6, 22, 32),
    application_working_days_by_type=MappingProxyType(
        {"capacity_change": 5, "name_transfer": 5, "other_change": 5}
    ),
    meter_test_working_days=5,
    complaint_contact_hours=24,
    complaint_reply_working_days=5,
    reconnect_hours=24,
    callback_contact_hours=24,
    reply_working_days=MappingProxyType(
        {"suggestion": 10, "praise": 5, "violation": 10, "bill_check": 5}
    ),
    priorities=MappingProxyType(dict.fromkeys(TICKET_TYPES, "normal")),
    verification=VerificationPolicy(30, 60, 60, 900, MappingProxyType({})),
)


def local(y: int, m: int, d: int, h: int = 10) -> datetime:
    return datetime(y, m, d, h, tzinfo=TZ)


def test_five_working_days_from_monday_is_next_monday() -> None:
    assert add_working_days(local(2026, 11, 23), 5, CALENDAR, TZ) == local(2026, 11, 30)


def test_weekends_are_skipped() -> None:
    assert add_working_days(local(2026, 11, 27), 1, CALENDAR, TZ) == local(2026, 11, 30)


def test_national_day_is_skipped_and_the_makeup_saturday_counts() -> None:
    # 8 Oct (Thu), 9 (Fri), 10 (Sat, worked), 12 (Mon), 13 (Tue)
    assert add_working_days(local(2026, 9, 30), 5, CALENDAR, TZ) == local(2026, 10, 13)


def test_spring_festival() -> None:
    # 13 Feb (Fri) +1 → 14 Feb (Sat, worked); +2 → 24 Feb (after the 15-23 holiday)
    assert add_working_days(local(2026, 2, 13), 1, CALENDAR, TZ) == local(2026, 2, 14)
    assert add_working_days(local(2026, 2, 13), 2, CALENDAR, TZ) == local(2026, 2, 24)


def test_start_on_a_holiday_counts_from_the_next_working_day() -> None:
    assert add_working_days(local(2026, 10, 3), 1, CALENDAR, TZ) == local(2026, 10, 8)


def test_result_keeps_the_callers_time_zone_and_instant() -> None:
    start = local(2026, 11, 23).astimezone(UTC)
    due = add_working_days(start, 0, CALENDAR, TZ)
    assert due == start
    assert due.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_days(datetime(2026, 11, 23, 10), 1, CALENDAR, TZ)


def test_working_days_between() -> None:
    assert working_days_between(local(2026, 9, 30), local(2026, 10, 13), CALENDAR, TZ) == 5
    assert working_days_between(local(2026, 11, 23), local(2026, 11, 23, 18), CALENDAR, TZ) == 0
    assert working_days_between(local(2026, 11, 24), local(2026, 11, 23), CALENDAR, TZ) == 0


def test_overdue() -> None:
    due = local(2026, 11, 23)
    assert not is_overdue(None, due)
    assert not is_overdue(due, due)
    assert is_overdue(due, due + timedelta(seconds=1))
    assert is_overdue(due, due - timedelta(hours=1), finished_at=due + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("kind", "arrive", "restore"), [("urban", 45, 3), ("rural", 90, 4), ("remote", 120, 4)]
)
def test_fault_deadlines_by_area_kind(kind: str, arrive: int, restore: int) -> None:
    now = local(2026, 11, 23)
    d = ticket_deadlines(COMMITMENTS, CALENDAR, TZ, ticket_type="fault", area_kind=kind, now=now)
    assert d.respond_due_at == now + timedelta(minutes=arrive)
    assert d.resolve_due_at == now + timedelta(minutes=arrive, hours=restore)


def test_hazard_without_area_uses_the_default_kind() -> None:
    now = local(2026, 11, 23)
    d = ticket_deadlines(COMMITMENTS, CALENDAR, TZ, ticket_type="hazard", area_kind=None, now=now)
    assert d.respond_due_at == now + timedelta(minutes=90)


def test_complaint_contact_in_hours_and_reply_in_working_days_over_a_holiday() -> None:
    now = local(2026, 9, 30)
    d = ticket_deadlines(
        COMMITMENTS, CALENDAR, TZ, ticket_type="complaint", area_kind="rural", now=now
    )
    assert d.respond_due_at == now + timedelta(hours=24)
    assert d.resolve_due_at == local(2026, 10, 13)


@pytest.mark.parametrize(
    ("ticket_type", "expected"),
    [
        ("meter_test", local(2026, 11, 30)),
        ("suggestion", local(2026, 12, 7)),
        ("reconnect", local(2026, 11, 24)),
        ("callback", local(2026, 11, 24)),
    ],
)
def test_other_types(ticket_type: str, expected: datetime) -> None:
    d = ticket_deadlines(
        COMMITMENTS, CALENDAR, TZ, ticket_type=ticket_type, area_kind=None, now=local(2026, 11, 23)
    )
    assert d.resolve_due_at == expected


def test_every_ticket_type_has_a_deadline() -> None:
    for ticket_type in TICKET_TYPES:
        d = ticket_deadlines(
            COMMITMENTS, CALENDAR, TZ, ticket_type=ticket_type, area_kind="rural",
            now=local(2026, 11, 23),
        )  # fmt: skip
        assert d.resolve_due_at is not None

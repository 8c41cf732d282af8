"""Crafted data for the evaluation reports' tests (tests/integration/test_quality_reports*.py,
tests/browser/test_quality_reports_browser.py): a few repairs, complaints and feedback in
November 2026 (the reported month), October 2026 (the previous one) and November 2025 (a year
before), an NLU inbox item with a phone number in its text, and two measures of the plan.

The tests do not work the figures out by hand (store/quality's tests do): they check that every
output of a report says what `quality.snapshot()` says, so the data only has to give most
figures a value and some a missed target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from store.config import Settings
from store.models import NluInboxHit, NluInboxItem, Ticket
from store.services import areas, quality_plan, tickets
from store.statuses import TicketStatus as S

TZ: Final = ZoneInfo("Asia/Shanghai")
PHONE: Final = "13905716666"
INBOX_TEXT: Final = f"电表箱门坏了找谁修 我电话{PHONE}"
MEASURE: Final = "东片抢修组夜间备勤"
OVERDUE_MEASURE: Final = "投诉回访话术培训"
NOW: Final = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
"""When the tests make November's report: the morning after it closed."""
REPAIR_STEPS: Final = (S.DISPATCHED, S.ACCEPTED, S.ON_SITE, S.REPAIRING, S.RESTORED, S.CLOSED)


@dataclass(frozen=True)
class Repair:
    day: date
    hour: int
    arrive_minutes: int
    """received → on site"""
    restore_minutes: int
    """on site → restored"""
    crew: str


REPAIRS: Final = (
    # November 2026: two late arrivals of 东片抢修组 (rural area: 90 minutes committed)
    Repair(date(2026, 11, 3), 9, 40, 60, "西片抢修组"),
    Repair(date(2026, 11, 9), 21, 150, 200, "东片抢修组"),
    Repair(date(2026, 11, 16), 22, 170, 90, "东片抢修组"),
    Repair(date(2026, 11, 20), 14, 55, 80, "西片抢修组"),
    # October 2026: all on time
    Repair(date(2026, 10, 8), 10, 35, 50, "西片抢修组"),
    Repair(date(2026, 10, 21), 15, 60, 70, "东片抢修组"),
    # November 2025
    Repair(date(2025, 11, 12), 11, 80, 120, "东片抢修组"),
)
FEEDBACK: Final = (
    ("complaint", date(2026, 11, 10), "抢修师傅来得太慢，态度也不好"),
    ("complaint", date(2026, 11, 18), "这个月电费多收了"),
    ("complaint", date(2026, 10, 12), "频繁停电也不通知"),
    ("suggestion", date(2026, 11, 5), "停电前请提前发短信通知"),
    ("praise", date(2026, 11, 21), "抢修师傅很及时"),
)


def at(day: date, hour: int, minutes: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TZ) + timedelta(minutes=minutes)


def _repair(session: Session, settings: Settings, repair: Repair, number: int) -> Ticket:
    area = areas.get_by_code(session, "QX03")  # 东山村, rural
    assert area is not None
    start = at(repair.day, repair.hour)
    ticket = tickets.report_fault(
        session, settings, area=area, address=f"东山村{number}组", description="家里停电了",
        contact_phone=f"1390571{number:04d}", account=None, sender_id=None, channel="web",
        now=start,
    ).ticket  # fmt: skip
    times = {
        S.DISPATCHED: start + timedelta(minutes=5),
        S.ACCEPTED: start + timedelta(minutes=8),
        S.ON_SITE: start + timedelta(minutes=repair.arrive_minutes),
        S.REPAIRING: start + timedelta(minutes=repair.arrive_minutes + 5),
        S.RESTORED: start + timedelta(minutes=repair.arrive_minutes + repair.restore_minutes),
        S.CLOSED: start + timedelta(minutes=repair.arrive_minutes + repair.restore_minutes + 60),
    }
    for status in REPAIR_STEPS:
        crew = repair.crew if status == S.DISPATCHED else None
        tickets.advance(session, ticket, status, actor="dispatch", now=times[status], crew=crew)
    return ticket


def _inbox(session: Session) -> None:
    first = at(date(2026, 11, 4), 10)
    item = NluInboxItem(
        group_key="电表箱门坏了找谁修", text=INBOX_TEXT, count=3, status="open",
        predicted_intent="meter_issue", first_seen_at=first, last_seen_at=first,
    )  # fmt: skip
    item.reasons = ("low_confidence",)
    session.add(item)
    session.flush()
    for day in (4, 11, 25):
        session.add(
            NluInboxHit(
                item_id=item.id,
                reason="low_confidence",
                confidence=0.3,
                predicted_intent="meter_issue",
                created_at=at(date(2026, 11, day), 10),
            )
        )


def _measures(session: Session, owner: str) -> None:
    made = at(date(2026, 10, 1), 9)
    quality_plan.create_measure(
        session, title=MEASURE, figure_key="repairs.arrival_on_time_rate", owner=owner,
        due_date=date(2027, 3, 31), actor=owner, now=made, baseline=0.8, target=0.95,
        status="in_progress",
    )  # fmt: skip
    quality_plan.create_measure(
        session, title=OVERDUE_MEASURE, figure_key="complaints.reply_rate", owner=owner,
        due_date=date(2026, 11, 15), actor=owner, now=made, baseline=0.9, target=0.98,
    )  # fmt: skip


def craft(session: Session, settings: Settings, *, owner: str) -> None:
    """The crafted station: areas, repairs, feedback, an inbox item, the plan (`owner`: an
    existing staff username, the measures' owner)."""
    areas.sync_areas(session, settings)
    for number, repair in enumerate(REPAIRS, 1):
        _repair(session, settings, repair, number)
    for kind, day, text in FEEDBACK:
        tickets.create_ticket(session, settings, type=kind, description=text, now=at(day, 10))
    _inbox(session)
    _measures(session, owner)

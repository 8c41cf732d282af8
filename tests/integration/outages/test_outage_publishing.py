"""Publishing outages on the demo station (SQLite and PostgreSQL): each staff action writes its
notice with the right words and targets, the notice commitment is checked, the areas cover the
right customers, the reminders are written once, and a restoration tells the attached reporters
once (their per-ticket message is not sent as well)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.configuration.outages import OutageConfig
from store.db import unit_of_work
from store.models import NotificationDelivery, OutageNotice, Ticket
from store.outages import commitment, notices, publishing
from store.outages import targets as target_rules
from store.outages.publishing import Changes, Desk, Draft, OutageError, OutageStateError
from store.outages.targets import TargetError
from store.services import areas, outages, tickets
from tests.integration.outages.support import fan_out_all, planned, report, subscribe

OpenDesk = Callable[[datetime], AbstractContextManager[Desk]]


def _area_id(session: Session, name: str) -> int:
    area = areas.match_area(session, name)
    assert area is not None
    return area.id


def test_publishing_writes_the_notice_in_both_languages(
    seeded: Any, desk: OpenDesk, now: datetime, session_factory: sessionmaker[Session]
) -> None:
    with desk(now) as d:
        outcome = planned(d, "东山村3组", "杨家村", days=8)
        number = outcome.outage.outage_no
        assert outcome.warning is None
        assert outcome.notice is not None
        notice = outcome.notice
        assert notice.kind == "published"
        assert not notice.urgent
        assert notice.state == "queued"
        assert number.startswith("TD261123")
        assert "东山村3组、杨家村" in notice.text_zh
        assert "12月1日 10:00至12月1日 18:00" in notice.text_zh
        assert "请提前储水。" in notice.text_zh
        assert "95598" in notice.text_zh
        assert "Dongshan Village group 3, Yangjia Village" in notice.text_en
        assert "1 Dec 10:00" in notice.text_en
        assert outcome.outage.notice_missed is False
    with unit_of_work(session_factory) as session:
        dongshan, yangjia = _area_id(session, "东山村"), _area_id(session, "杨家村")
        assert [tuple(t) for t in notice.targets] == [(dongshan, 3), (yangjia, None)]
        during = now + timedelta(days=8, hours=1)
        assert outages.active_for_area(session, yangjia, during) is not None
        assert outages.active_for_area(session, dongshan, during, 3) is not None
        assert outages.active_for_area(session, dongshan, during, 5) is None  # another group
        assert outages.active_for_area(session, dongshan, during) is None  # group not known
        listed = outages.list_current_and_planned(session, now, area_id=dongshan, horizon_days=9)
        assert [o.outage_no for o in listed] == [number]


def test_a_late_planned_outage_is_published_with_the_warning_and_counted(
    seeded: Any, desk: OpenDesk, now: datetime, session_factory: sessionmaker[Session]
) -> None:
    with desk(now) as d:
        outcome = planned(d, "东山村", days=2)
        assert outcome.warning is not None
        assert "计划停电应提前7天通知" in outcome.warning.zh
        assert outcome.notice is not None  # published all the same
    with unit_of_work(session_factory) as session:
        count, late = commitment.late_notices(session, now, now + timedelta(days=30))
        assert [row.outage_no for row in late] == [outcome.outage.outage_no]
        assert count >= 1


def test_bad_publications_are_refused(seeded: Any, desk: OpenDesk, now: datetime) -> None:
    start = now + timedelta(days=9)
    cases: list[tuple[Draft, type[Exception], str]] = [
        (
            Draft("planned", ("火星村",), start, start + timedelta(hours=1), "x"),
            TargetError,
            "火星村",
        ),
        (Draft("planned", (), start, start + timedelta(hours=1), "x"), TargetError, "区域"),
        (Draft("planned", ("东山村",), start, start, "x"), OutageError, "晚于"),
        (Draft("planned", ("东山村",), start, None, "x"), OutageError, "结束时间"),
        (Draft("planned", ("东山村",), now - timedelta(hours=1), start, "x"), OutageError, "已过"),
        (Draft("fault", ("东山村",), start, None, "x"), OutageError, "将来"),
        (
            Draft("planned", ("东山村",), start, start + timedelta(hours=1), " "),
            OutageError,
            "原因",
        ),
        (Draft("storm", ("东山村",), start, None, "x"), OutageError, "kind"),
        (
            Draft("planned", (), start, start + timedelta(hours=1), "x", feeder="F99"),
            TargetError,
            "F99",
        ),
    ]
    for draft, error, words in cases:
        with pytest.raises(error, match=words), desk(now) as d:
            publishing.publish(d, draft)


def test_areas_on_one_line_and_feeders(
    seeded: Any, desk: OpenDesk, now: datetime, outage_config: OutageConfig
) -> None:
    with desk(now) as d:
        found, line = target_rules.resolve(d.session, outage_config, ["杨家村，东山村3组、QX05"])
        assert line is None
        assert [(t.area.name, t.group_no) for t in found] == [
            ("东山村", 3), ("南塘村", None), ("杨家村", None),
        ]  # fmt: skip
        found, line = target_rules.resolve(d.session, outage_config, ["东山村3组", "东山村"], "F02")
        assert line is not None
        assert [(t.area.code, t.group_no) for t in found] == [
            ("QX03", None), ("QX07", None), ("QX09", None),
        ]  # fmt: skip


def test_a_feeder_covers_its_areas(
    seeded: Any, desk: OpenDesk, now: datetime, outage_config: OutageConfig
) -> None:
    start = now + timedelta(days=10)
    with desk(now) as d:
        draft = Draft("temporary", (), start, start + timedelta(hours=3), "线路改造", feeder="F03")
        outcome = publishing.publish(d, draft)
        assert outcome.outage.feeder == "F03"
        assert outcome.notice is not None
        assert "西河村、柳湾村、石桥村" in outcome.notice.text_zh
        assert "临时停电" in outcome.notice.text_zh


def test_edit_postpone_cancel_and_their_notices(
    seeded: Any, desk: OpenDesk, now: datetime, session_factory: sessionmaker[Session]
) -> None:
    with desk(now) as d:
        number = planned(d, "东山村", days=10).outage.outage_no
    with desk(now + timedelta(hours=1)) as d:
        outage = publishing.get(d.session, number)
        edited = publishing.edit(
            d, outage, Changes(areas=("柳湾村",), advice="请关好冰箱门", note="范围调整")
        )
        assert edited.notice is not None
        assert "柳湾村" in edited.notice.text_zh
        assert "请关好冰箱门。" in edited.notice.text_zh
        assert "范围调整" in edited.notice.text_zh
        dongshan, liuwan = _area_id(d.session, "东山村"), _area_id(d.session, "柳湾村")
        # the area that was dropped is told too
        assert sorted(a for a, _ in edited.notice.targets) == sorted([dongshan, liuwan])
        with pytest.raises(OutageError, match="没有任何修改"):
            publishing.edit(d, outage, Changes(advice="请关好冰箱门"))
    with desk(now + timedelta(hours=2)) as d:
        outage = publishing.get(d.session, number)
        old = outage.starts_at
        later = old + timedelta(days=2)
        moved = publishing.postpone(d, outage, later, later + timedelta(hours=6), "天气原因")
        assert moved.notice is not None
        assert moved.notice.kind == "postponed"
        assert f"{old.astimezone(d.settings.tz).day}日" in moved.notice.text_zh
        assert "天气原因。" in moved.notice.text_zh
        with pytest.raises(OutageError, match="晚于原定"):
            publishing.postpone(d, outage, later - timedelta(days=1), later, None)
    with desk(now + timedelta(hours=3)) as d:
        outage = publishing.get(d.session, number)
        cancelled = publishing.cancel(d, outage, "检修计划调整")
        assert cancelled.notice is not None
        assert cancelled.notice.kind == "cancelled"
        assert "已取消" in cancelled.notice.text_zh
        for refused in (
            lambda: publishing.cancel(d, outage, None),
            lambda: publishing.postpone(d, outage, later, later + timedelta(hours=1), None),
            lambda: publishing.edit(d, outage, Changes(reason="新原因")),
        ):
            with pytest.raises(OutageStateError):
                refused()
        during = later + timedelta(hours=1)
        assert outages.active_for_area(d.session, liuwan, during) is None  # cancelled
    kinds = [n.kind for n in _notices(session_factory)]
    assert kinds == ["published", "updated", "postponed", "cancelled"]


def _notices(factory: sessionmaker[Session]) -> list[OutageNotice]:
    with unit_of_work(factory) as session:
        return list(session.scalars(select(OutageNotice).order_by(OutageNotice.id)))


def test_a_fault_from_publication_to_restoration(
    seeded: Any,
    desk: OpenDesk,
    now: datetime,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    reported = report(session_factory, settings, "东山村5组", "telegram:501", "13900000501", now)
    with desk(now) as d:
        draft = Draft("fault", ("东山村",), now - timedelta(minutes=20), None, "原因排查中")
        ticket = tickets.get_by_no(d.session, reported)
        outcome = publishing.publish(d, draft, attach=[ticket] if ticket else [])
        number = outcome.outage.outage_no
        assert outcome.attached == (reported,)
        assert outcome.notice is not None
        assert "抢修人员正在处理" in outcome.notice.text_zh
        assert "预计待定恢复" in outcome.notice.text_zh
    later_report = report(
        session_factory, settings, "东山村5组", "telegram:502", "13900000502", now
    )
    with desk(now + timedelta(minutes=30)) as d:
        outage = publishing.get(d.session, number)
        found = publishing.progress(
            d, outage, cause="10kV东山线避雷器击穿", expected=now + timedelta(hours=3)
        )
        assert found.notice is not None
        assert found.notice.kind == "cause_found"
        assert "避雷器击穿" in found.notice.text_zh
        merged = tickets.get_by_no(d.session, later_report)
        assert merged is not None
        assert merged.status == "merged"
        assert merged.resolve_due_at == now + timedelta(hours=3)
        eta = publishing.progress(d, outage, expected=now + timedelta(hours=4), note="需更换设备")
        assert eta.notice is not None
        assert eta.notice.kind == "eta_changed"
        assert merged.resolve_due_at == now + timedelta(hours=4)
        safety = publishing.safety(d, outage, "东山村口有导线落地，请远离")
        assert safety.notice is not None
        assert safety.notice.urgent
        with pytest.raises(OutageStateError, match="恢复送电"):
            publishing.cancel(d, outage, None)
    with desk(now + timedelta(hours=2)) as d:
        outage = publishing.get(d.session, number)
        restored = publishing.restore(d, outage)
        assert restored.notice is not None
        assert restored.notice.urgent
        assert "已于11月23日 12:00恢复供电" in restored.notice.text_zh
        with pytest.raises(OutageStateError):
            publishing.restore(d, outage)
    with unit_of_work(session_factory) as session:
        rows = session.scalars(select(Ticket).where(Ticket.ticket_no.in_([reported, later_report])))
        assert {t.status for t in rows} == {"restored"}
        claims = session.scalars(select(NotificationDelivery)).all()
        # the notifier finds the reporters' 'restored' claimed: the outage's notice told them
        assert sorted(c.conversation_id for c in claims if c.status == "skipped") == [
            "telegram:501",
            "telegram:502",
        ]


def test_reminders_are_written_once_when_due_and_follow_a_postponement(
    seeded: Any,
    desk: OpenDesk,
    now: datetime,
    settings: Settings,
    outage_config: OutageConfig,
    session_factory: sessionmaker[Session],
) -> None:
    with desk(now) as d:
        number = planned(d, "石桥村", days=8).outage.outage_no
        start = publishing.get(d.session, number).starts_at
    due = outage_config.reminder.due_at(start, settings.tz)

    def write(at: datetime) -> int:
        with unit_of_work(session_factory) as session:
            return notices.write_due_reminders(session, settings, outage_config, now=at)

    assert write(due - timedelta(minutes=1)) == 0
    assert write(due) == 1
    assert write(due + timedelta(minutes=5)) == 0  # another gateway, later: still one
    with desk(due + timedelta(minutes=10)) as d:
        outage = publishing.get(d.session, number)
        publishing.postpone(
            d, outage, start + timedelta(days=2), start + timedelta(days=2, hours=8), None
        )
    new_due = outage_config.reminder.due_at(start + timedelta(days=2), settings.tz)
    assert write(new_due) == 1
    reminders = [n for n in _notices(session_factory) if n.kind == "reminder"]
    assert len(reminders) == 2
    assert "【停电提醒】" in reminders[0].text_zh


def test_no_reminder_for_an_outage_announced_the_evening_before(
    seeded: Any,
    desk: OpenDesk,
    now: datetime,
    settings: Settings,
    outage_config: OutageConfig,
    session_factory: sessionmaker[Session],
) -> None:
    published = now + timedelta(hours=4)  # 14:00, for tomorrow 14:00: the reminder is at 18:00
    with desk(published) as d:
        outcome = planned(d, "石桥村", days=1)
        start = outcome.outage.starts_at
    due = outage_config.reminder.due_at(start, settings.tz)
    assert due - published < outage_config.reminder.min_gap
    with unit_of_work(session_factory) as session:
        assert notices.write_due_reminders(session, settings, outage_config, now=due) == 0


def test_subscribers_of_other_groups_and_areas_are_not_told(
    seeded: Any, desk: OpenDesk, now: datetime, session_factory: sessionmaker[Session]
) -> None:
    subscribe(session_factory, "telegram:1", "东山村", now, group=3)
    subscribe(session_factory, "telegram:2", "东山村", now, group=5)
    subscribe(session_factory, "telegram:3", "东山村", now)  # never said their group
    subscribe(session_factory, "telegram:4", "西河村", now)
    with desk(now) as d:
        planned(d, "东山村3组", days=9)
    assert fan_out_all(session_factory, now) == [2]

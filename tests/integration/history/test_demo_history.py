"""The demo's thirteen months of history (store/demodata/history/), seeded once per backend at
DEMO_NOW on top of the demo station: the patterns a manager should find in it (a slow crew, a
summer storm, a satisfaction dip and its recovery, a stage that overruns), and that a second
seed adds nothing. How each row is recorded: test_demo_history_records.py."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from store import demo
from store.cli import main
from store.config import Settings
from store.db import make_session_factory, unit_of_work
from store.demodata.history import has_history, seed_history
from store.demodata.history.patterns import AWAY_AGENT, OVERRUN, SLOW_CREW, patterns_for
from store.models import (
    Application,
    ApplicationEvent,
    Base,
    Crew,
    Handoff,
    Outage,
    Rating,
    StaffUser,
    Ticket,
    TicketEvent,
)
from tests.conftest import DEMO_NOW

PATTERNS = patterns_for(DEMO_NOW, ZoneInfo("Asia/Shanghai"))


def _max_ids(session: Session) -> dict[str, int]:
    return {
        t.name: int(session.execute(select(func.max(t.c.id))).scalar() or 0)
        for t in Base.metadata.sorted_tables
        if "id" in t.c
    }


def _local(moment: datetime) -> date:
    return moment.astimezone(PATTERNS.tz).date()


def _arrivals(
    session: Session, first_ticket: int
) -> list[tuple[str, datetime, datetime, datetime]]:
    """(crew, created, on site, due) of the history's own repairs (not merged into outages)."""
    on_site = (
        select(TicketEvent.ticket_id, func.min(TicketEvent.at).label("at"))
        .where(TicketEvent.status == "on_site")
        .group_by(TicketEvent.ticket_id)
        .subquery()
    )
    merged = select(TicketEvent.ticket_id).where(TicketEvent.status == "merged")
    rows = session.execute(
        select(Crew.name, Ticket.created_at, on_site.c.at, Ticket.respond_due_at)
        .join(Crew, Crew.id == Ticket.crew_id)
        .join(on_site, on_site.c.ticket_id == Ticket.id)
        .where(Ticket.type == "fault", Ticket.id > first_ticket, Ticket.id.not_in(merged))
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_the_slow_crew_arrives_clearly_later_than_the_others(
    session: Session, before: dict[str, int]
) -> None:
    minutes: dict[str, list[float]] = defaultdict(list)
    on_time: dict[str, list[bool]] = defaultdict(list)
    for crew, created, arrived, due in _arrivals(session, before["tickets"]):
        if PATTERNS.storm_day(_local(created)):
            continue
        minutes[crew].append((arrived - created).total_seconds() / 60)
        on_time[crew].append(arrived <= due)
    assert set(minutes) >= {SLOW_CREW, "抢修一班", "东片抢修组", "山区抢修组"}
    average = {crew: statistics.mean(values) for crew, values in minutes.items()}
    rate = {crew: sum(v) / len(v) for crew, v in on_time.items()}
    others = [crew for crew in average if crew != SLOW_CREW]
    assert all(len(minutes[crew]) >= 30 for crew in average)
    assert average[SLOW_CREW] > 1.3 * max(average[c] for c in others), average
    assert rate[SLOW_CREW] < 0.5 < 0.75 < min(rate[c] for c in others), rate


def test_a_summer_storm_brings_a_flood_of_faults_outages_and_late_arrivals(
    session: Session, before: dict[str, int]
) -> None:
    storm = PATTERNS.storm
    assert [d.month for d in storm] == [7, 7, 7]
    assert storm[0].year == 2026
    created = session.scalars(
        select(Ticket.created_at).where(Ticket.type == "fault", Ticket.id > before["tickets"])
    ).all()
    per_day = Counter(_local(c) for c in created)
    july = [per_day[date(2026, 7, d)] for d in range(1, 32) if date(2026, 7, d) not in storm]
    usual = statistics.median(july)
    assert all(per_day[day] > 6 * max(usual, 1) for day in storm), (per_day, usual)
    outages = session.execute(
        select(Ticket.outage_id, func.count())
        .where(Ticket.outage_id.is_not(None), Ticket.id > before["tickets"])
        .group_by(Ticket.outage_id)
    ).all()
    starts = {i: s for i, s in session.execute(select(Outage.id, Outage.starts_at))}
    in_storm = [n for outage_id, n in outages if PATTERNS.storm_day(_local(starts[outage_id]))]
    assert len(in_storm) >= 3, in_storm
    assert sum(in_storm) >= 40, in_storm
    late: dict[bool, list[bool]] = defaultdict(list)
    for _, made, arrived, due in _arrivals(session, before["tickets"]):
        late[PATTERNS.storm_day(_local(made))].append(arrived > due)
    assert statistics.mean(late[True]) > 0.6 > 0.4 > statistics.mean(late[False])


def test_planned_and_temporary_work_is_announced_mostly_on_time_and_sometimes_cancelled(
    session: Session, before: dict[str, int]
) -> None:
    outages = session.scalars(select(Outage).where(Outage.id > before["outages"])).all()
    kinds = Counter(o.kind for o in outages)
    assert kinds["planned"] >= 10, kinds
    assert kinds["temporary"] >= 3, kinds
    assert kinds["fault"] >= 15, kinds
    announced = [o for o in outages if o.kind in ("planned", "temporary")]
    for outage in announced:  # the commitment kept as publishing keeps it
        days = 7 if outage.kind == "planned" else 1
        assert outage.notice_due_at == outage.starts_at - timedelta(days=days)
        assert outage.notice_at is not None
        assert outage.notice_missed == (outage.notice_at > outage.notice_due_at)
    late = [o for o in announced if o.notice_missed]
    assert 0 < len(late) < len(announced) / 2, (len(late), len(announced))
    cancelled = [o for o in outages if o.cancelled_at is not None]
    assert cancelled, "no planned work was called off in thirteen months"
    for outage in cancelled:  # called off after the notice, before it began: nobody reported
        assert outage.kind == "planned"
        assert outage.restored_at is None
        assert outage.notice_at is not None
        assert outage.notice_at < outage.cancelled_at < outage.starts_at
    merged = set(session.scalars(select(Ticket.outage_id).where(Ticket.outage_id.is_not(None))))
    assert not merged & {o.id for o in cancelled}
    assert all(o.cancelled_at is None for o in outages if o.kind != "planned")
    faults = [o for o in outages if o.kind == "fault"]
    assert all(o.notice_due_at is None and not o.notice_missed for o in faults)


def _csat(session: Session) -> dict[tuple[int, int], list[bool]]:
    """Per month, whether each rating of a handoff was 4 or 5 (the CSAT of docs/quality.md)."""
    rows = session.execute(
        select(Rating.created_at, Rating.rating).where(Rating.handoff_id.is_not(None))
    )
    months: dict[tuple[int, int], list[bool]] = defaultdict(list)
    for at, rating in rows:
        local = _local(at)
        months[(local.year, local.month)].append(rating >= 4)
    return months


def _share(
    months: dict[tuple[int, int], list[bool]], keep: Callable[[tuple[int, int]], bool]
) -> float:
    values = [v for month, found in months.items() if keep(month) for v in found]
    assert len(values) >= 20
    return sum(values) / len(values)


def test_satisfaction_dips_for_two_months_and_recovers(session: Session) -> None:
    months = _csat(session)
    dip, recovery = PATTERNS.dip, PATTERNS.recovery
    assert dip == ((2026, 3), (2026, 4))
    assert recovery == (2026, 5)
    before_dip = _share(months, lambda m: m < dip[0])
    in_dip = _share(months, lambda m: m in dip)
    after = _share(months, lambda m: m > recovery)
    assert in_dip < 0.6, (before_dip, in_dip, after)
    assert min(before_dip, after) > 0.8, (before_dip, in_dip, after)
    assert all(sum(months[m]) / len(months[m]) < 0.7 for m in dip), {
        m: sum(months[m]) / len(months[m]) for m in months
    }
    assert in_dip < sum(months[recovery]) / len(months[recovery]) < after


def test_in_the_dip_one_agent_is_away_and_the_queue_is_long(session: Session) -> None:
    rows = session.execute(
        select(Handoff.queued_at, Handoff.assigned_at, StaffUser.username)
        .join(StaffUser, StaffUser.id == Handoff.agent_id)
        .where(Handoff.assigned_at.is_not(None))
    ).all()
    waits: dict[bool, list[float]] = defaultdict(list)
    away = []
    for queued, assigned, username in rows:
        in_dip = PATTERNS.in_dip(_local(queued))
        waits[in_dip].append((assigned - queued).total_seconds())
        if in_dip:
            away.append(username)
    assert AWAY_AGENT not in away
    assert away
    assert statistics.median(waits[True]) > 3 * statistics.median(waits[False])


def test_metering_installation_often_overruns_and_the_other_stages_rarely(
    session: Session, before: dict[str, int]
) -> None:
    rows = session.execute(
        select(Application.id, Application.type, ApplicationEvent.stage, ApplicationEvent.at,
               ApplicationEvent.stage_due_at)
        .join(ApplicationEvent, ApplicationEvent.application_id == Application.id)
        .where(Application.id > before["applications"])
        .order_by(Application.id, ApplicationEvent.at, ApplicationEvent.id)
    ).all()  # fmt: skip
    late: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for current, following in itertools.pairwise(rows):
        if current.id == following.id and current.stage_due_at is not None:
            late[(current.type, current.stage)].append(following.at > current.stage_due_at)
    share = {key: sum(v) / len(v) for key, v in late.items() if len(v) >= 15}
    assert share[OVERRUN] > 0.35, share
    assert all(v < 0.2 for key, v in share.items() if key != OVERRUN), share


def test_a_second_seed_adds_nothing(
    session: Session, settings: Settings, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    counts = _max_ids(session)
    assert has_history(session)
    assert seed_history(session, settings, now=DEMO_NOW) is None
    session.rollback()
    assert main(["--url", db_url, "seed"]) == 0
    assert "nothing done" in capsys.readouterr().out
    assert _max_ids(session) == counts


def test_the_history_adds_to_a_station_seeded_without_it_once(
    fresh: tuple[str, Engine], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database seeded before the demo had a history gets it at the next `make run`."""
    url, engine = fresh
    with unit_of_work(make_session_factory(engine)) as session:
        demo.seed(session, settings, now=DEMO_NOW)
    assert main(["--url", url, "seed", "--now", "2026-11-23T10:00+08:00"]) == 0
    assert "History written" in capsys.readouterr().out
    assert main(["--url", url, "seed"]) == 0
    assert "nothing done" in capsys.readouterr().out
    with make_session_factory(engine)() as session:
        assert has_history(session)

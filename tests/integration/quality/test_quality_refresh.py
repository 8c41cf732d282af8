"""The facts follow the stores (SQLite and PostgreSQL): a new event measures its item again, a
deleted item takes its facts with it, a changed configuration measures everything again, and
an emptied store is noticed; the crews' scorecards read the same facts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from store import quality
from store.config import PROJECT_ROOT
from store.db import unit_of_work
from store.models import QualityTicketFacts, Ticket, TicketEvent
from store.quality import Period
from store.quality.context import _load
from store.quality.facts.refresh import LOCK_ARGS, LOCK_KEY, RefreshResult
from tests.integration.quality.station import Station, at

NOV = Period.parse("2026-11")
NOW = at("2026-12-01 10:00")


def _arrivals(factory: sessionmaker[Session]) -> tuple[int | None, int | None]:
    with unit_of_work(factory) as session:
        rate = quality.snapshot(session, NOV, now=NOW).figure("repairs.arrival_on_time_rate")
    return rate.numerator, rate.denominator


def test_a_new_event_measures_its_ticket_again(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        s = Station(session)
        urban = s.area("U1", "城区", "urban")
        ticket = s.ticket("fault", "2026-11-02 09:00", area=urban)
        number = ticket.ticket_no
    assert _arrivals(session_factory) == (0, 1)  # its 45 minutes passed without an arrival
    with unit_of_work(session_factory) as session:
        found = session.scalars(select(Ticket).where(Ticket.ticket_no == number)).one()
        session.add(TicketEvent(ticket=found, status="on_site", at=at("2026-11-02 09:40"),
                                actor="crew"))  # fmt: skip
    assert _arrivals(session_factory) == (1, 1)
    with unit_of_work(session_factory) as session:
        result = quality.refresh(session, now=NOW)
    assert (result.rebuilt, result.tickets) == (False, 0)  # nothing new since


def test_deleting_a_ticket_deletes_its_facts(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        s = Station(session)
        s.ticket("fault", "2026-11-02 09:00", [("on_site", "2026-11-02 09:10")])
    assert _arrivals(session_factory) == (1, 1)
    with unit_of_work(session_factory) as session:
        for ticket in session.scalars(select(Ticket)):
            session.delete(ticket)
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(QualityTicketFacts)) == 0
    assert _arrivals(session_factory) == (0, 0)


def test_a_changed_commitment_measures_everything_again(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(session_factory) as session:
        s = Station(session)
        rural = s.area("R1", "乡村", "rural")
        s.ticket("fault", "2026-11-02 09:00", [("on_site", "2026-11-02 10:00")], area=rural)
    assert _arrivals(session_factory) == (1, 1)  # 60 minutes of rural's 90
    conf = tmp_path / "conf"
    conf.mkdir()
    for source in (PROJECT_ROOT / "conf").glob("*.yml"):
        text = source.read_text(encoding="utf-8")
        if source.name == "commitments.yml":
            text = text.replace("{urban: 45, rural: 90, remote: 120}",
                                "{urban: 45, rural: 50, remote: 120}")  # fmt: skip
        (conf / source.name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("CONF_DIR", str(conf))
    try:
        with unit_of_work(session_factory) as session:
            result = quality.refresh(session, now=NOW)
        assert result.rebuilt is True
        assert _arrivals(session_factory) == (0, 1)  # 60 minutes of 50: late now
    finally:
        _load.cache_clear()


def test_crew_scorecards(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        s = Station(session)
        urban = s.area("U1", "城区", "urban")
        c1, c2 = s.crew("一班"), s.crew("二班")
        s.crew("停用班", active=False)
        s.ticket("fault", "2026-11-02 09:00", [("on_site", "2026-11-02 09:30"),
                 ("restored", "2026-11-02 10:00")], area=urban, crew=c1,
                 callback_result="satisfied")  # fmt: skip
        s.ticket("fault", "2026-11-03 09:00", [("on_site", "2026-11-03 10:00")], area=urban,
                 crew=c1)  # fmt: skip
        s.ticket("fault", "2026-11-04 09:00", [("on_site", "2026-11-04 09:20")], area=urban,
                 crew=c2)  # fmt: skip
    with unit_of_work(session_factory) as session:
        cards = {c.name: c for c in quality.scorecards(session, NOV, "crew", now=NOW)}
    assert set(cards) == {"一班", "二班"}  # the inactive crew without repairs is not listed
    one = {f.key: (f.value, f.target) for f in cards["一班"].figures}
    assert one["crew.tickets"] == (2, None)
    assert one["crew.arrival_minutes"] == (pytest.approx(45.0), pytest.approx(45.0))
    assert one["crew.arrival_on_time_rate"] == (0.5, 0.95)
    # the first restored 30 min after arriving; the second not restored, its 3 h long past
    assert one["crew.restoration_on_time_rate"][0] == 0.5
    assert one["crew.callback_rate"][0] == 1.0
    station = {f.key: f.value for f in cards["一班"].station}
    assert station["crew.tickets"] == pytest.approx(1.5)  # 3 repairs, 2 crews
    assert station["crew.arrival_on_time_rate"] == pytest.approx(2 / 3)
    with unit_of_work(session_factory) as session, pytest.raises(ValueError, match="kind"):
        quality.scorecards(session, NOV, "team", now=NOW)


def _hold_the_refresh_lock(connection: Connection, backend: str) -> None:
    """What a refresh under way holds: the advisory lock (PostgreSQL), the write lock (SQLite)."""
    if backend == "postgres":
        connection.execute(text(f"SELECT pg_advisory_xact_lock{LOCK_ARGS}"), {"key": LOCK_KEY})
    else:
        connection.execute(text("UPDATE quality_refresh_state SET last_id = last_id WHERE 0"))


def test_a_view_does_not_wait_for_a_refresh_under_way(
    session_factory: sessionmaker[Session], backend: str
) -> None:
    """While another transaction refreshes (holds the lock), a view reads the facts as they
    are instead of queueing behind it; the next view catches up."""
    with unit_of_work(session_factory) as session:
        Station(session).ticket("fault", "2026-11-02 09:00", [("on_site", "2026-11-02 09:10")])
    engine = session_factory.kw["bind"]
    with engine.connect() as other:
        _hold_the_refresh_lock(other, backend)
        started = time.monotonic()
        try:
            assert _arrivals(session_factory) == (0, 0)  # not refreshed, not blocked
        finally:
            other.rollback()
        assert time.monotonic() - started < 5  # SQLite's busy timeout is 30 s
    assert _arrivals(session_factory) == (1, 1)


def test_a_refresh_waits_for_the_one_under_way_and_measures_nothing_twice(
    session_factory: sessionmaker[Session],
) -> None:
    """Two refreshes at once (two gateways' report jobs, the CLI beside the schedule): the
    second waits for the first to commit and goes on from where it stopped. Before, on SQLite,
    both found no state and both inserted it (CI: UNIQUE constraint failed)."""
    with unit_of_work(session_factory) as session:
        Station(session).ticket("fault", "2026-11-02 09:00", [("on_site", "2026-11-02 09:10")])
    outcome: list[object] = []

    def second() -> None:
        try:
            with unit_of_work(session_factory) as session:
                outcome.append(quality.refresh(session, now=NOW))
        except Exception as error:  # the test reports it
            outcome.append(error)

    with unit_of_work(session_factory) as session:
        first = quality.refresh(session, now=NOW)
        assert (first.rebuilt, first.tickets) == (True, 1)
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(1.5)
        assert thread.is_alive()  # waiting for this transaction
    thread.join(30)
    assert not thread.is_alive()
    [result] = outcome
    assert isinstance(result, RefreshResult), result
    assert (result.rebuilt, result.tickets) == (False, 0)  # the first one's work, kept
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(QualityTicketFacts)) == 1
    assert _arrivals(session_factory) == (1, 1)

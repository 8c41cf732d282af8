"""Ticket and application numbers: one sequence per day, safe under concurrent creation."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.services import applications, tickets


def test_numbers_count_per_station_day(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    with unit_of_work(session_factory) as session:
        made = [
            tickets.create_ticket(session, settings, type="praise", description="好", now=now)
            for _ in range(3)
        ]
        assert [t.ticket_no for t in made] == ["T2611230001", "T2611230002", "T2611230003"]
        # 16:30 UTC is already the next day in Beijing
        late = datetime(2026, 11, 23, 16, 30, tzinfo=now.tzinfo)
        assert (
            tickets.create_ticket(
                session, settings, type="praise", description="好", now=late
            ).ticket_no
            == "T2611240001"
        )
        app = applications.start(session, settings, app_type="name_transfer", now=now)
        assert app.application_no == "A2611230001"  # its own sequence


def test_concurrent_creations_never_collide(
    session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    workers, per_worker = 6, 5
    barrier = threading.Barrier(workers)
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(per_worker):
                with unit_of_work(session_factory) as session:
                    ticket = tickets.create_ticket(
                        session, settings, type="suggestion", description=f"{index}-{n}",
                        now=now + timedelta(seconds=n), sender_id=f"w{index}",
                    )  # fmt: skip
                    number = ticket.ticket_no
                with lock:
                    numbers.append(number)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(numbers) == workers * per_worker
    assert sorted(numbers) == [f"T261123{n:04d}" for n in range(1, workers * per_worker + 1)]

"""Categories staff chose against the figures' guess (SQLite and PostgreSQL), worked out by hand
on a crafted November 2026: a ticket with a staff category counts in it, one without in the
category its description's words guess, and a correction made in the back office
(store/services/ticket_categories.py) moves the figures grouped by category at the next look,
measuring only that ticket again. Codes the ticket's kind does not have are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import quality
from store.db import unit_of_work
from store.models import Ticket
from store.quality import Period
from store.quality.context import current
from store.services import ticket_categories
from store.services.ticket_categories import CategoryError
from tests.integration.quality.station import Station, at

NOV = Period.parse("2026-11")
NOW = at("2026-12-01 10:00")
CORRECTED = at("2026-11-30 12:00")


def build(s: Station) -> None:
    urban = s.area("U1", "城区", "urban")
    # complaints: the words guess 抢修服务 (抢修) and 电费计量 (电费); the third was already
    # put in 服务态度 by staff although its words say 电费
    s.ticket("complaint", "2026-11-02 10:00", area=urban, description="抢修师傅态度差")
    s.ticket("complaint", "2026-11-03 10:00", area=urban, description="电费算错了")
    s.ticket("complaint", "2026-11-04 10:00", area=urban, description="抄表员收电费时骂人",
             category="attitude")  # fmt: skip
    # repairs (urban: 45 minutes to arrive), all guessed 停电 from their words: F1 on time
    # (30 min), F2 late (60 min); F3 on time, staff said 跳闸
    s.ticket("fault", "2026-11-05 09:00", [("on_site", "2026-11-05 09:30")], area=urban,
             description="家里停电了")  # fmt: skip
    s.ticket("fault", "2026-11-06 09:00", [("on_site", "2026-11-06 10:00")], area=urban,
             description="整个组都停电了")  # fmt: skip
    s.ticket("fault", "2026-11-07 09:00", [("on_site", "2026-11-07 09:20")], area=urban,
             description="停电了", category="trip")  # fmt: skip
    # a staff code of another kind (billing is a complaint's) counts as if nobody had chosen
    s.ticket("fault", "2026-11-08 09:00", [("on_site", "2026-11-08 09:10")], area=urban,
             description="电表冒烟", category="billing")  # fmt: skip
    # a violation report: no categories, in no figure
    s.ticket("violation", "2026-11-09 10:00", description="隔壁偷电")


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with unit_of_work(session_factory) as session:
        build(Station(session))
    return session_factory


def _rows(factory: sessionmaker[Session], key: str, dimension: str) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) per row of `key`'s breakdown along `dimension`."""
    with unit_of_work(factory) as session:
        snap = quality.snapshot(session, NOV, now=NOW)
    (found,) = [b for b in snap.breakdowns if (b.key, b.dimension) == (key, dimension)]
    return {r.label: (r.numerator or 0, r.denominator or 0) for r in found.rows}


def _correct(factory: sessionmaker[Session], description: str, code: str) -> str | None:
    """Choose `code` for the ticket with these words, as the back office does; the note."""
    with unit_of_work(factory) as session:
        ticket = session.scalars(select(Ticket).where(Ticket.description == description)).one()
        event = ticket_categories.choose(
            session, current().quality, ticket, code, actor="zhou", now=CORRECTED
        )
        return event.note if event is not None else None


def test_staff_categories_count_and_the_rest_are_guessed(factory: sessionmaker[Session]) -> None:
    complaints = _rows(factory, "complaints.count", "category")
    assert complaints == {"抢修服务": (0, 1), "电费计量": (0, 1), "服务态度": (0, 1)}
    arrivals = _rows(factory, "repairs.arrival_on_time_rate", "fault_type")
    # 停电: F1 on time, F2 late; 跳闸: F3 (staff); 电表故障: the one with a complaint's code
    assert arrivals == {"停电": (1, 2), "跳闸": (1, 1), "电表故障": (1, 1)}


def test_a_correction_moves_the_figures_grouped_by_category(
    factory: sessionmaker[Session],
) -> None:
    assert _rows(factory, "complaints.count", "category")["抢修服务"] == (0, 1)
    # the rude repairman was a complaint about attitude, not about the repair
    note = _correct(factory, "抢修师傅态度差", "attitude")
    assert note == "类别：抢修服务（系统推测） → 服务态度"
    with unit_of_work(factory) as session:
        result = quality.refresh(session, now=NOW)
    assert (result.rebuilt, result.tickets) == (False, 1)  # that ticket only, by its event
    complaints = _rows(factory, "complaints.count", "category")
    assert complaints == {"电费计量": (0, 1), "服务态度": (0, 2)}

    # F2 (late) was a tripped switch: 停电 is now always on time, 跳闸 missed once in two
    _correct(factory, "整个组都停电了", "trip")
    arrivals = _rows(factory, "repairs.arrival_on_time_rate", "fault_type")
    assert arrivals == {"停电": (1, 1), "跳闸": (1, 2), "电表故障": (1, 1)}
    # corrected again: from staff's earlier choice, no longer a guess
    assert _correct(factory, "整个组都停电了", "no_power") == "类别：跳闸 → 停电"
    assert _correct(factory, "整个组都停电了", "no_power") is None  # the same again: no event
    arrivals = _rows(factory, "repairs.arrival_on_time_rate", "fault_type")
    assert arrivals == {"停电": (1, 2), "跳闸": (1, 1), "电表故障": (1, 1)}


def test_codes_the_kind_does_not_have_are_refused(factory: sessionmaker[Session]) -> None:
    for words, code, says in (
        ("电费算错了", "no_power", "'no_power' is not a category of complaint tickets"),
        ("电费算错了", "rude", "'rude' is not a category of complaint tickets"),
        ("家里停电了", "attitude", "'attitude' is not a category of fault tickets"),
        ("隔壁偷电", "other", "violation tickets have no category"),
    ):
        with pytest.raises(CategoryError, match=says):
            _correct(factory, words, code)
    # "other" is a category of every kind: a complaint that fits none of the listed ones
    assert _correct(factory, "电费算错了", "other") == "类别：电费计量（系统推测） → 其他"
    with unit_of_work(factory) as session:
        found = session.scalars(select(Ticket.category).where(Ticket.category.is_not(None)))
        assert sorted(found) == ["attitude", "billing", "other", "trip"]

"""The demo station's repair crews (抢修班组): the names the demo's ticket histories use
(store/demodata/tickets.py CREWS), each with a duty phone and the villages it covers, and the
crew the demo crew member `crew1` belongs to (store/demo_staff.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from store.models import ServiceArea, StaffUser
from store.services import crews

#: name → (duty phone, villages covered)
DEMO_CREWS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "抢修一班": ("13905719001", ("青溪社区", "新街社区")),
    "抢修二班": ("13905719002", ("青溪社区", "新街社区", "石桥村")),
    "东片抢修组": ("13905719003", ("东山村", "桃源村", "柳湾村")),
    "西片抢修组": ("13905719004", ("西河村", "南塘村", "杨家村")),
    "山区抢修组": ("13905719005", ("高岭村", "云雾村")),
}
CREW1_CREW: Final = "东片抢修组"
"""crew1's crew: it has 陈志强's repair on site (T0001010001) in the demo."""


def make_crews(session: Session, areas: dict[str, ServiceArea], now: datetime) -> None:
    """The demo crews, before the tickets that name them are built."""
    for name, (phone, villages) in DEMO_CREWS.items():
        covered = [areas[v] for v in villages if v in areas]
        crews.create_crew(session, name=name, phone=phone, areas=covered, now=now)


def join_demo_crew(session: Session, user: StaffUser) -> None:
    """Put the demo crew member into their crew, when the demo station is seeded."""
    crew = crews.by_name(session, CREW1_CREW)
    if crew is not None and user.crew_id is None:
        crews.set_member(session, user, crew)

"""Repair crews (抢修班组) and their members: creating them, the areas they cover, who is in
which crew.

A crew member is a staff user with the `crew` role linked to one crew; they see only the
tickets of that crew (store/services/dispatch_queries.py). Crews are made inactive, never
deleted, so the tickets they worked keep their name.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from store.models import Crew, ServiceArea, StaffUser, Ticket
from store.roles import StaffRole
from store.sla import require_aware
from store.workflow import TERMINAL_STATUSES

__all__ = [
    "Crew",
    "CrewError",
    "all_crews",
    "by_name",
    "create_crew",
    "crew_of",
    "ensure_crew",
    "find_area",
    "get",
    "members",
    "open_ticket_counts",
    "set_member",
    "update_crew",
]


class CrewError(ValueError):
    """A crew or membership that cannot be (unknown crew, duplicate name, wrong role)."""


def get(session: Session, crew_id: int) -> Crew | None:
    return session.get(Crew, crew_id)


def by_name(session: Session, name: str) -> Crew | None:
    return session.scalars(select(Crew).where(Crew.name == name.strip())).one_or_none()


def all_crews(session: Session, *, active_only: bool = False) -> list[Crew]:
    """Every crew by name, with its areas loaded."""
    stmt = select(Crew).options(selectinload(Crew.areas)).order_by(Crew.name, Crew.id)
    if active_only:
        stmt = stmt.where(Crew.active.is_(True))
    return list(session.scalars(stmt))


def create_crew(
    session: Session,
    *,
    name: str,
    now: datetime,
    phone: str | None = None,
    areas: Iterable[ServiceArea] = (),
) -> Crew:
    """A new active crew; CrewError when the name is empty or taken."""
    require_aware(now)
    name = name.strip()
    if not name or len(name) > 64:
        raise CrewError("a crew's name must have 1 to 64 characters")
    if by_name(session, name) is not None:
        raise CrewError(f"crew {name!r} exists")
    crew = Crew(name=name, phone=(phone or "").strip() or None, active=True, created_at=now)
    crew.areas = list(areas)
    session.add(crew)
    session.flush()
    return crew


def ensure_crew(session: Session, name: str, *, now: datetime) -> Crew:
    """The crew of this name, created (covering no area yet) when there is none: callers that
    still name crews by text (scripts, the demo's histories) get a real crew."""
    return by_name(session, name) or create_crew(session, name=name, now=now)


def update_crew(
    session: Session,
    crew: Crew,
    *,
    phone: str | None = None,
    areas: Iterable[ServiceArea] | None = None,
    active: bool | None = None,
) -> Crew:
    """Change what is given (None: keep): the duty phone ("" clears it), the areas covered
    (replaced), active or not (an inactive crew gets no new tickets, keeps its old ones)."""
    if phone is not None:
        crew.phone = phone.strip() or None
    if areas is not None:
        crew.areas = list(areas)
    if active is not None:
        crew.active = active
    session.flush()
    return crew


def find_area(session: Session, name_or_code: str) -> ServiceArea:
    """The service area of this exact code or name (CrewError otherwise: a crew's coverage is
    set by staff, so a near miss is refused, not guessed)."""
    text = name_or_code.strip()
    stmt = select(ServiceArea).where((ServiceArea.code == text) | (ServiceArea.name == text))
    found = list(session.scalars(stmt))
    if len(found) != 1:
        raise CrewError(f"no single service area named or coded {text!r}")
    return found[0]


def members(session: Session) -> dict[int, list[str]]:
    """The usernames in each crew (by crew id)."""
    stmt = (
        select(StaffUser.crew_id, StaffUser.username)
        .where(StaffUser.crew_id.is_not(None))
        .order_by(StaffUser.username)
    )
    found: dict[int, list[str]] = {}
    for crew_id, username in session.execute(stmt):
        found.setdefault(int(crew_id or 0), []).append(username)
    return found


def set_member(session: Session, user: StaffUser, crew: Crew | None) -> None:
    """Put a crew member into `crew` (None: out of every crew)."""
    if crew is not None and user.role != StaffRole.CREW:
        raise CrewError(f"{user.username} is a {user.role}, not a crew member")
    user.crew_id = crew.id if crew is not None else None
    session.flush()


def crew_of(session: Session, user_id: int) -> int | None:
    """The crew of a staff user (None: not in a crew)."""
    return session.scalar(select(StaffUser.crew_id).where(StaffUser.id == user_id))


def open_ticket_counts(session: Session) -> dict[int, int]:
    """Unfinished tickets per crew id."""
    stmt = (
        select(Ticket.crew_id, func.count())
        .where(Ticket.crew_id.is_not(None), Ticket.status.not_in(TERMINAL_STATUSES))
        .group_by(Ticket.crew_id)
    )
    return {int(crew_id or 0): int(count) for crew_id, count in session.execute(stmt)}

"""Teams (班组): who works in which team, and which repair crews each team oversees.

A staff user is in at most one team (`staff_users.team_id`), and so is a repair crew
(`crews.team_id`). A supervisor leads the team they are in: the service-quality dashboard shows
them that team's figures (docs/quality.md, "谁看到什么"). Teams are set up from the command line
(`python -m store team`, store/team_cli.py); a team is never deleted here, its people and crews
are moved out instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Crew, StaffUser, Team
from store.roles import WORKS_CASES, StaffRole
from store.sla import require_aware

__all__ = [
    "Member",
    "Roster",
    "Team",
    "TeamError",
    "by_name",
    "create_team",
    "rename_team",
    "rosters",
    "set_crew_team",
    "set_staff_team",
    "team_of",
]

NAME_MAX = 64


class TeamError(ValueError):
    """A team or membership that cannot be (empty or taken name, unknown team)."""


@dataclass(frozen=True)
class Member:
    username: str
    display_name: str
    role: str


@dataclass(frozen=True)
class Roster:
    """A team as the dashboard and the command line show it."""

    id: int
    name: str
    members: tuple[Member, ...]
    """Its staff users, by username."""
    crews: tuple[tuple[int, str], ...]
    """The repair crews it oversees: (id, name), by name."""

    @property
    def usernames(self) -> frozenset[str]:
        return frozenset(m.username for m in self.members)

    @property
    def crew_ids(self) -> frozenset[int]:
        return frozenset(crew_id for crew_id, _ in self.crews)

    @property
    def has_agents(self) -> bool:
        """Whether an agent (the `agent` role) works in it: its chats are the team's."""
        return any(m.role == StaffRole.AGENT for m in self.members)

    @property
    def works_cases(self) -> bool:
        """Whether someone who works complaints and applications (a case role: clerk, manager)
        is in it: the ones they handle are the team's."""
        return any(m.role in WORKS_CASES for m in self.members)


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise TeamError(f"a team's name must have 1 to {NAME_MAX} characters")
    return name


def by_name(session: Session, name: str) -> Team | None:
    return session.scalars(select(Team).where(Team.name == name.strip())).one_or_none()


def create_team(session: Session, *, name: str, now: datetime) -> Team:
    """A new team with nobody in it; TeamError when the name is empty, too long or taken."""
    require_aware(now)
    name = _valid_name(name)
    if by_name(session, name) is not None:
        raise TeamError(f"team {name!r} exists")
    team = Team(name=name, created_at=now)
    session.add(team)
    session.flush()
    return team


def rename_team(session: Session, team: Team, name: str) -> Team:
    name = _valid_name(name)
    taken = by_name(session, name)
    if taken is not None and taken.id != team.id:
        raise TeamError(f"team {name!r} exists")
    team.name = name
    session.flush()
    return team


def set_staff_team(session: Session, user: StaffUser, team: Team | None) -> None:
    """Put a staff user into `team` (None: out of any team)."""
    user.team_id = team.id if team is not None else None
    session.flush()


def set_crew_team(session: Session, crew: Crew, team: Team | None) -> None:
    """Put a repair crew under `team` (None: no team oversees it)."""
    crew.team_id = team.id if team is not None else None
    session.flush()


def rosters(session: Session, team_id: int | None = None) -> list[Roster]:
    """Every team (or the one of `team_id`) with its members and crews, by name."""
    teams = select(Team.id, Team.name).order_by(Team.name)
    people = select(StaffUser.team_id, StaffUser.username, StaffUser.display_name,
                    StaffUser.role).where(StaffUser.team_id.is_not(None))  # fmt: skip
    crews = select(Crew.team_id, Crew.id, Crew.name).where(Crew.team_id.is_not(None))
    if team_id is not None:
        teams = teams.where(Team.id == team_id)
        people = people.where(StaffUser.team_id == team_id)
        crews = crews.where(Crew.team_id == team_id)
    members: dict[int, list[Member]] = {}
    for tid, username, name, role in session.execute(people.order_by(StaffUser.username)):
        members.setdefault(int(tid or 0), []).append(Member(username, name, role))
    overseen: dict[int, list[tuple[int, str]]] = {}
    for tid, crew_id, name in session.execute(crews.order_by(Crew.name, Crew.id)):
        overseen.setdefault(int(tid or 0), []).append((crew_id, name))
    return [
        Roster(tid, name, tuple(members.get(tid, ())), tuple(overseen.get(tid, ())))
        for tid, name in session.execute(teams)
    ]


def team_of(session: Session, user_id: int) -> Roster | None:
    """The team a staff user works in (None: in no team)."""
    team_id = session.scalar(select(StaffUser.team_id).where(StaffUser.id == user_id))
    if team_id is None:
        return None
    found = rosters(session, team_id)
    return found[0] if found else None

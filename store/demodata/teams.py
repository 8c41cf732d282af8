"""The demo station's teams (班组), so the service-quality dashboard shows what a supervisor of
each sees (docs/manager.md, "设置班组"): 客服班, the chat desk (agent1, agent2 and `supervisor`,
who leads it), and 抢修班, the repair crews (every demo crew, their member crew1, and `foreman`,
the supervisor who leads it). The dispatcher, the clerk, the operator and the manager work for
the whole station and are in no team.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.demodata.crews import DEMO_CREWS
from store.models import StaffUser, Team
from store.services import crews, staff, teams

DEMO_TEAMS: Final[dict[str, tuple[str, ...]]] = {
    "客服班": ("agent1", "agent2", "supervisor"),
    "抢修班": ("foreman", "crew1"),
}
"""Team name → the demo users in it (store/demo_staff.py DEMO_USERS)."""
REPAIR_TEAM: Final = "抢修班"
"""The team overseeing the demo crews."""


def ensure_demo_teams(session: Session, now: datetime) -> None:
    """The demo teams, when the station has no team yet (teams a manager set up are left
    alone): the demo users already there join theirs, the demo crews go to 抢修班."""
    if session.scalar(select(Team.id).limit(1)) is not None:
        return
    for name, usernames in DEMO_TEAMS.items():
        team = teams.create_team(session, name=name, now=now)
        for username in usernames:
            user = staff.get_by_username(session, username)
            if user is not None and user.team_id is None:
                teams.set_staff_team(session, user, team)
    repair = teams.by_name(session, REPAIR_TEAM)
    for crew_name in DEMO_CREWS:
        crew = crews.by_name(session, crew_name)
        if crew is not None and crew.team_id is None:
            teams.set_crew_team(session, crew, repair)


def join_demo_team(session: Session, user: StaffUser) -> None:
    """A demo user just given a password joins their demo team, when it exists."""
    for name, usernames in DEMO_TEAMS.items():
        team = teams.by_name(session, name) if user.username in usernames else None
        if team is not None and user.team_id is None:
            teams.set_staff_team(session, user, team)

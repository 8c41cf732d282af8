"""`python -m store team list|create|rename|staff|crew`: the station's teams (班组) from the
command line, for the station manager setting up who each supervisor leads (docs/manager.md,
"设置班组").

- `team list`: every team with its people (role in brackets) and the crews it oversees;
- `team create NAME`: a new, empty team;
- `team rename NAME NEW_NAME`;
- `team staff USERNAME TEAM` puts a staff user into a team (a supervisor leads the team they are
  in; agents' chats and crews' repairs are their team's figures); `--none` takes them out;
- `team crew CREW TEAM` puts a repair crew under a team; `--none` takes it out.

A person and a crew are in at most one team: putting them into another moves them. Exit status
0 on success, 1 when the request cannot be done (the reason on stderr: an unknown team, user
or crew, a name taken).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from store.cli_session import run_refusable
from store.services import crews, staff, teams
from store.services.teams import Team, TeamError

T = TypeVar("T")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser("team", help="list, create and rename teams; put staff and crews in them")
    actions = cmd.add_subparsers(dest="team_command", required=True)
    actions.add_parser("list", help="every team: its people and the crews it oversees")
    create = actions.add_parser("create", help="a new team")
    create.add_argument("name", help="the team's name, e.g. 客服班")
    rename = actions.add_parser("rename", help="rename a team")
    rename.add_argument("name")
    rename.add_argument("new_name")
    for what, helps in (("staff", "a staff user (username)"), ("crew", "a repair crew (name)")):
        put = actions.add_parser(what, help=f"put {helps} into a team, or --none out of it")
        put.add_argument("who", metavar=what.upper(), help=helps)
        put.add_argument("team", nargs="?", help="the team's name")
        put.add_argument("--none", action="store_true", help="take them out of their team")


def _found(thing: T | None, missing: str) -> T:
    """`thing`, or a refusal saying what is `missing`."""
    if thing is None:
        raise TeamError(missing)
    return thing


def _team(session: Session, name: str) -> Team:
    return _found(teams.by_name(session, name), f"no team {name!r} (python -m store team list)")


def _list(session: Session) -> None:
    found = teams.rosters(session)
    if not found:
        print("No teams yet: python -m store team create NAME")
    for team in found:
        people = ", ".join(f"{m.username} ({m.role})" for m in team.members)
        print(team.name)
        print(f"  成员 staff: {people or '-'}")
        print(f"  抢修班组 crews: {'、'.join(name for _, name in team.crews) or '-'}")


def _put(session: Session, args: argparse.Namespace) -> str:
    if args.none == bool(args.team):
        raise TeamError("name a team, or --none to take them out of their team")
    team = None if args.none else _team(session, args.team)
    where = f"now in {team.name}" if team else "in no team"
    if args.team_command == "staff":
        user = _found(staff.get_by_username(session, args.who), f"no staff user {args.who!r}")
        teams.set_staff_team(session, user, team)
        return f"{user.username} ({user.role}) is {where}."
    missing = f"no crew {args.who!r} (python -m store crews list)"
    crew = _found(crews.by_name(session, args.who), missing)
    teams.set_crew_team(session, crew, team)
    return f"Crew {crew.name} is {where}."


def _do(session: Session, args: argparse.Namespace) -> str:
    if args.team_command == "create":
        made = teams.create_team(session, name=args.name, now=datetime.now(UTC))
        return f"Team {made.name} created."
    if args.team_command == "rename":
        old = _team(session, args.name)
        before = old.name
        return f"Team {before} is now {teams.rename_team(session, old, args.new_name).name}."
    return _put(session, args)


def run(url: str, args: argparse.Namespace) -> int:
    def work(session: Session) -> str | None:
        if args.team_command == "list":
            _list(session)
            return None
        return _do(session, args)

    return run_refusable(url, TeamError, work)

"""`python -m store crews list|add|set|member`: the station's repair crews (抢修班组) from the
command line, for managers and dispatchers setting the station up (docs/back-office-repairs.md).

- `crews list`: every crew with its duty phone, areas, members and open tickets;
- `crews add NAME [--phone P] [--area A ...]`: a new active crew (areas by exact name or code);
- `crews set NAME [--phone P] [--area A ...] [--active|--inactive]`: change a crew; an inactive
  crew gets no new tickets and keeps its history (crews are never deleted);
- `crews member USERNAME CREW` puts a crew member (role `crew`) into a crew; `--none` takes them
  out of every crew.

Exit status 0 on success, 1 when the request cannot be done (the reason on stderr).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from store.cli_session import run_refusable
from store.services import crews, staff
from store.services.crews import Crew, CrewError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser("crews", help="list, add and change repair crews and their members")
    actions = cmd.add_subparsers(dest="crews_command", required=True)
    actions.add_parser("list", help="every crew: phone, areas, members, open tickets")
    add = actions.add_parser("add", help="a new repair crew")
    change = actions.add_parser("set", help="change a crew's phone, areas or active state")
    for parser in (add, change):
        parser.add_argument("name", help="the crew's name, e.g. 东片抢修组")
        parser.add_argument("--phone", help="the crew's duty phone")
        parser.add_argument(
            "--area",
            action="append",
            help="a service area it covers (exact name or code; repeat for several)",
        )
    state = change.add_mutually_exclusive_group()
    state.add_argument("--active", dest="active", action="store_const", const=True)
    state.add_argument("--inactive", dest="active", action="store_const", const=False)
    member = actions.add_parser("member", help="put a crew member (role crew) into a crew")
    member.add_argument("username")
    member.add_argument("crew", nargs="?", help="the crew's name")
    member.add_argument("--none", action="store_true", help="take them out of every crew")


def _crew(session: Session, name: str) -> Crew:
    crew = crews.by_name(session, name)
    if crew is None:
        raise CrewError(f"no crew {name!r} (python -m store crews list)")
    return crew


def _list(session: Session) -> None:
    counts, people = crews.open_ticket_counts(session), crews.members(session)
    every = crews.all_crews(session)
    if not every:
        print("No crews yet: python -m store crews add NAME --area AREA")
    for crew in every:
        state = "" if crew.active else "  [停用 inactive]"
        print(f"{crew.name}{state}")
        print(f"  电话 phone: {crew.phone or '-'}")
        print(f"  区域 areas: {'、'.join(a.name for a in crew.areas) or '-'}")
        print(f"  成员 members: {', '.join(people.get(crew.id, [])) or '-'}")
        print(f"  未完成工单 open tickets: {counts.get(crew.id, 0)}")


def _change(session: Session, args: argparse.Namespace) -> str:
    areas = [crews.find_area(session, a) for a in args.area] if args.area else None
    if args.crews_command == "add":
        made = crews.create_crew(
            session, name=args.name, phone=args.phone, areas=areas or (), now=datetime.now(UTC)
        )
        return f"Crew {made.name} added."
    crew = crews.update_crew(
        session, _crew(session, args.name), phone=args.phone, areas=areas, active=args.active
    )
    return f"Crew {crew.name} changed{'' if crew.active else ' (inactive)'}."


def _member(session: Session, args: argparse.Namespace) -> str:
    if args.none == bool(args.crew):
        raise CrewError("name a crew, or --none to take the member out of every crew")
    user = staff.get_by_username(session, args.username)
    if user is None:
        raise CrewError(f"no staff user {args.username!r}")
    crew = None if args.none else _crew(session, args.crew)
    crews.set_member(session, user, crew)
    return f"{user.username} is now in {crew.name}." if crew else f"{user.username}: no crew."


def run(url: str, args: argparse.Namespace) -> int:
    def work(session: Session) -> str | None:
        if args.crews_command == "list":
            _list(session)
            return None
        return _member(session, args) if args.crews_command == "member" else _change(session, args)

    return run_refusable(url, CrewError, work)

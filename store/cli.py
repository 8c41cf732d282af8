"""Command line of the stores: `python -m store {migrate,seed,sync-areas,advance-ticket,
advance-application,create-user,demo-users,import,crews,team,report,outage,history,
quality-refresh}` (import: store/import_cli.py; crews: store/crew_cli.py; team: store/team_cli.py;
report: store/report_cli.py; outage: store/outage_cli.py; history: store/history_cli.py;
quality-refresh: store/quality_cli.py).
The database is $DATABASE_URL (or --url), configuration $CONF_DIR."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from store import (
    crew_cli,
    demo,
    demo_staff,
    history_cli,
    import_cli,
    outage_cli,
    quality_cli,
    report_cli,
    team_cli,
)
from store.config import ConfigError, Settings, load_settings
from store.db import database_url, make_engine, make_session_factory, migrate, unit_of_work
from store.demo_staff import DEMO_PASSWORD_ENV
from store.demodata.history import seed_history
from store.logmask import RecordMasking
from store.services import applications, areas, staff, tickets
from store.workflow import IllegalTransition

log = logging.getLogger("store")


def _now(text: str | None) -> datetime:
    """--now as ISO 8601 (aware; naive means UTC), else the current hour (so two seeds in the
    same hour give the same rows)."""
    if text is None:
        return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m store", description=__doc__)
    parser.add_argument("--url", help="database URL (default: $DATABASE_URL or var/assistant.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database schema to the latest revision")
    seed = sub.add_parser("seed", help="migrate, then load the demo data set")
    seed.add_argument("--reset", action="store_true", help="delete all rows first")
    seed.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="random seed")
    seed.add_argument("--now", help="pretend it is this time (ISO 8601)")
    seed.add_argument(
        "--no-history",
        dest="history",
        action="store_false",
        help="leave out the thirteen months of service history (docs/demo-data.md)",
    )
    sub.add_parser("sync-areas", help="create/update service areas from conf/areas.yml")
    for name, number in (("advance-ticket", "ticket"), ("advance-application", "application")):
        cmd = sub.add_parser(name, help=f"move a {number} to its next status (staff/demo)")
        cmd.add_argument("number", help=f"{number} number, e.g. T2611230001 / A2611230001")
        cmd.add_argument("status", help="new status or stage")
        cmd.add_argument("--note")
        cmd.add_argument("--actor", default="staff")
        cmd.add_argument("--now", help="pretend it is this time (ISO 8601)")
    user = sub.add_parser("create-user", help="add a staff user of the agent console")
    user.add_argument("username")
    user.add_argument("--display-name", help="name customers see (default: the username)")
    user.add_argument("--role", choices=staff.ROLES, default="agent")
    user.add_argument("--max-chats", type=int, default=3, help="chats at once (default 3)")
    user.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (default: ask twice)",
    )
    demo_users = sub.add_parser(
        "demo-users",
        help="create agent1, agent2, supervisor and operator if missing, each with a password"
        f" of its own, printed once (or all with ${DEMO_PASSWORD_ENV})",
    )
    demo_users.add_argument(
        "--env-file",
        type=Path,
        help="keep the new passwords in this file (0600, username=password) instead of"
        " printing them",
    )
    import_cli.add_parser(sub)
    crew_cli.add_parser(sub)
    team_cli.add_parser(sub)
    history_cli.add_parser(sub)
    report_cli.add_parser(sub)
    outage_cli.add_parser(sub)
    quality_cli.add_parser(sub)
    return parser


def _read_password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n") or None
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        print("The passwords differ.", file=sys.stderr)
        return None
    return first or None


def _create_user(url: str, args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    if password is None:
        print("No password given; nothing done.", file=sys.stderr)
        return 1
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            user = staff.create_user(
                session,
                username=args.username,
                display_name=args.display_name or args.username,
                password=password,
                role=args.role,
                max_chats=args.max_chats,
                now=datetime.now(UTC),
            )
            print(f"Created {user.role} {user.username} (id {user.id}).")
    except staff.StaffError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def _demo_users(url: str, env_file: Path | None) -> int:
    """Idempotent: existing users keep their passwords (not shown again), except those still
    on the shared password of an earlier version's env file (store/demo_staff.py)."""
    fixed = os.environ.get(DEMO_PASSWORD_ENV) or None
    kept = demo_staff.read_passwords(env_file) if env_file else {}
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            users = list(demo_staff.ensure(session, fixed=fixed, kept=kept, now=datetime.now(UTC)))
            new = {u.username: u.password for u in users if u.password}
            if env_file and not fixed and (new or DEMO_PASSWORD_ENV in kept):
                # written before the commit: a password is never lost while its user exists
                kept.pop(DEMO_PASSWORD_ENV, None)
                demo_staff.write_passwords(env_file, {**kept, **new})
    finally:
        engine.dispose()
    for user in users:
        if user.outcome == "exists":
            print(f"{user.username}: exists (password unchanged)")
            continue
        shown = f"${DEMO_PASSWORD_ENV}" if fixed else user.password
        if env_file and not fixed:
            shown = f"in {env_file}"
        print(f"{user.username}: {user.outcome} ({user.role}), password {shown}")
    if new and not env_file:
        print("Passwords are shown only now: note them.")
    return 0


def _seed(url: str, settings: Settings, args: argparse.Namespace) -> int:
    migrate(url)
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            now = _now(args.now)
            if demo.has_data(session):
                if not args.reset:
                    return _history_only(session, settings, args, now)
                demo.reset(session)
            summary = demo.seed(session, settings, now=now, seed=args.seed)
            past = (
                seed_history(session, settings, now=now, seed=args.seed) if args.history else None
            )
    finally:
        engine.dispose()
    print(
        f"Seeded {summary.areas} areas, {summary.accounts} accounts, {summary.bills} bills, "
        f"{summary.outages} outages, {summary.tickets} tickets, "
        f"{summary.applications} applications."
    )
    if past is not None:
        print(history_cli.report(past))
    return 0


def _history_only(
    session: Session, settings: Settings, args: argparse.Namespace, now: datetime
) -> int:
    """A database seeded before the demo had a history gets it (once)."""
    past = seed_history(session, settings, now=now, seed=args.seed) if args.history else None
    if past is None:
        print("The database already has data; nothing done (use --reset to replace).")
    else:
        print(history_cli.report(past))
    return 0


def _advance(url: str, settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(url)
    now = _now(args.now) if args.now else datetime.now(UTC)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            if args.command == "advance-ticket":
                ticket = tickets.get_by_no(session, args.number)
                if ticket is None:
                    print(f"No ticket {args.number}.", file=sys.stderr)
                    return 1
                tickets.advance(
                    session, ticket, args.status, actor=args.actor, now=now, note=args.note
                )
                print(f"{ticket.ticket_no}: {ticket.status}")
            else:
                app = applications.get_by_no(session, args.number)
                if app is None:
                    print(f"No application {args.number}.", file=sys.stderr)
                    return 1
                applications.advance(
                    session, settings, app, args.status, actor=args.actor, now=now, note=args.note
                )
                print(f"{app.application_no}: {app.stage}")
    except IllegalTransition as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.addFilter(RecordMasking())
    logging.basicConfig(
        level=logging.WARNING, handlers=[handler], format="%(levelname)s %(message)s"
    )
    url = args.url or database_url()
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 3
    if args.command == "migrate":
        migrate(url)
        print("Database is at the latest revision.")
        return 0
    if args.command == "seed":
        return _seed(url, settings, args)
    if args.command == "sync-areas":
        engine = make_engine(url)
        try:
            with unit_of_work(make_session_factory(engine)) as session:
                count = len(areas.sync_areas(session, settings))
        finally:
            engine.dispose()
        print(f"{count} service areas.")
        return 0
    if args.command == "create-user":
        return _create_user(url, args)
    if args.command == "demo-users":
        return _demo_users(url, args.env_file)
    if args.command == "import":
        return import_cli.run(url, settings, args)
    if args.command == "crews":
        return crew_cli.run(url, args)
    if args.command == "team":
        return team_cli.run(url, args)
    if args.command == "history":
        return history_cli.run(url, settings, args, now=_now(args.now))
    if args.command == "outage":
        return outage_cli.run(url, settings, args)
    if args.command == "report":
        return report_cli.run(url, settings, args)
    if args.command == "quality-refresh":
        return quality_cli.run(url, args)
    return _advance(url, settings, args)

"""Command line of the stores: `python -m store {migrate,seed,sync-areas,advance-ticket,
advance-application}`. The database is $DATABASE_URL (or --url), configuration $CONF_DIR."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from store import demo
from store.config import ConfigError, Settings, load_settings
from store.db import database_url, make_engine, make_session_factory, migrate, unit_of_work
from store.ids import MaskingFilter
from store.services import applications, areas, tickets
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
    sub.add_parser("sync-areas", help="create/update service areas from conf/areas.yml")
    for name, number in (("advance-ticket", "ticket"), ("advance-application", "application")):
        cmd = sub.add_parser(name, help=f"move a {number} to its next status (staff/demo)")
        cmd.add_argument("number", help=f"{number} number, e.g. T2611230001 / A2611230001")
        cmd.add_argument("status", help="new status or stage")
        cmd.add_argument("--note")
        cmd.add_argument("--actor", default="staff")
        cmd.add_argument("--now", help="pretend it is this time (ISO 8601)")
    return parser


def _seed(url: str, settings: Settings, args: argparse.Namespace) -> int:
    migrate(url)
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            if demo.has_data(session):
                if not args.reset:
                    print("The database already has data; nothing done (use --reset to replace).")
                    return 0
                demo.reset(session)
            summary = demo.seed(session, settings, now=_now(args.now), seed=args.seed)
    finally:
        engine.dispose()
    print(
        f"Seeded {summary.areas} areas, {summary.accounts} accounts, {summary.bills} bills, "
        f"{summary.outages} outages, {summary.tickets} tickets, "
        f"{summary.applications} applications."
    )
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
    handler.addFilter(MaskingFilter())
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
    return _advance(url, settings, args)

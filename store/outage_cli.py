"""`python -m store outage ...`: dispatch staff publish and manage outages from the command line
(docs/outages.md), exactly as on the console's /console/outages page.

    outage list
    outage publish --kind planned|temporary|fault --area 东山村 [--area 西河村2组] [--feeder F03]
                   --start "2026-12-01 08:00" [--end "2026-12-01 17:00"] --reason 线路检修
                   [--advice 请提前储水] [--reason-en ...] [--advice-en ...]
    outage edit TD... [--area ...] [--feeder ...] [--reason ...] [--advice ...] [--start ...]
                      [--end ...] [--note ...]
    outage postpone TD... --start ... --end ... [--note ...]
    outage cancel TD... [--note ...]
    outage progress TD... [--cause ...] [--end ...] [--note ...]   (a fault's cause, its new ETA)
    outage safety TD... --note "线路断落，请远离"
    outage restore TD... [--at ...]
    outage suspected                                 (clustered fault reports)
    outage confirm KEY --reason ... [--end ...]      (publish a suspect as a fault outage)

Times are station time ("YYYY-MM-DD HH:MM") unless they carry an offset. The command writes the
outage and its notice; the running gateway delivers the notice (its outage worker). A planned
outage announced later than the commitment is published with a warning (exit status 0). Exit
status 1: refused (the reason on stderr), 2: no such outage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from store.config import Settings
from store.configuration.outages import OUTAGE_KINDS, OutageConfig, load_outages
from store.db import make_engine, make_session_factory, unit_of_work
from store.outages import publishing, suspected, views
from store.outages.publishing import Changes, Desk, Draft, OutageError, Outcome, parse_time
from store.outages.targets import TargetError

Parser = argparse.ArgumentParser
_NUMBERED = ("edit", "postpone", "cancel", "progress", "safety", "restore")


def _time_option(parser: Parser, name: str, text: str) -> None:
    parser.add_argument(name, help=f"{text} (station time YYYY-MM-DD HH:MM)")


def _publish_parser(actions: argparse._SubParsersAction[Parser]) -> None:
    cmd = actions.add_parser("publish", help="publish a new outage and notify its areas")
    cmd.add_argument("--kind", choices=OUTAGE_KINDS, required=True)
    cmd.add_argument("--area", action="append", default=[], help="村/社区 (code, name, 3组)")
    cmd.add_argument("--feeder", help="a feeder of conf/outages.yml: every area it supplies")
    _time_option(cmd, "--start", "when power goes off")
    _time_option(cmd, "--end", "when it is expected back")
    cmd.add_argument("--reason", required=True)
    for name in ("--advice", "--reason-en", "--advice-en"):
        cmd.add_argument(name)


def _change_parsers(actions: argparse._SubParsersAction[Parser]) -> None:
    helps = {
        "edit": "change areas, times, reason or advice (the areas are told)",
        "postpone": "move announced work to a later time",
        "cancel": "call announced work off",
        "progress": "a fault's cause found or its new expected restoration",
        "safety": "a safety warning, sent at once even at night",
        "restore": "power is back",
    }
    for name in _NUMBERED:
        cmd = actions.add_parser(name, help=helps[name])
        cmd.add_argument("number", help="the outage's number, e.g. TD26112301")
        if name in ("edit", "postpone"):
            _time_option(cmd, "--start", "the new start")
        if name in ("edit", "postpone", "progress"):
            _time_option(cmd, "--end", "the new expected end")
        if name == "edit":
            cmd.add_argument("--area", action="append")
            cmd.add_argument("--feeder")
            for option in ("--reason", "--reason-en", "--advice", "--advice-en"):
                cmd.add_argument(option)
        if name == "progress":
            cmd.add_argument("--cause")
            cmd.add_argument("--cause-en")
        if name == "restore":
            _time_option(cmd, "--at", "when power came back (default now)")
        if name != "restore":
            cmd.add_argument("--note", required=name == "safety")


def add_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    cmd = sub.add_parser("outage", help="publish and manage outages and their notices")
    cmd.add_argument("--actor", default="staff", help="who acts (recorded with the notices)")
    actions = cmd.add_subparsers(dest="outage_command", required=True)
    actions.add_parser("list", help="current, upcoming and recent outages with their notices")
    _publish_parser(actions)
    _change_parsers(actions)
    actions.add_parser("suspected", help="fault reports clustering like an unknown outage")
    confirm = actions.add_parser("confirm", help="publish a suspect as a fault outage")
    confirm.add_argument("key", help="as `outage suspected` shows it, e.g. area:QX03")
    confirm.add_argument("--reason", required=True)
    _time_option(confirm, "--end", "expected restoration")
    confirm.add_argument("--advice")


def _draft(args: argparse.Namespace, tz: ZoneInfo) -> Draft:
    start = parse_time(args.start, tz)
    if start is None:
        raise OutageError("--start is required")
    return Draft(
        kind=args.kind,
        areas=tuple(args.area),
        feeder=args.feeder,
        starts_at=start,
        expected_restore_at=parse_time(args.end, tz),
        reason=args.reason,
        advice=args.advice,
        reason_en=args.reason_en,
        advice_en=args.advice_en,
    )


def _change(desk: Desk, args: argparse.Namespace) -> Outcome:
    tz = desk.settings.tz
    outage = publishing.get(desk.session, args.number)
    command = args.outage_command
    if command == "edit":
        changes = Changes(
            areas=tuple(args.area) if args.area else None,
            feeder=args.feeder,
            reason=args.reason,
            reason_en=args.reason_en,
            advice=args.advice,
            advice_en=args.advice_en,
            starts_at=parse_time(args.start, tz),
            expected_restore_at=parse_time(args.end, tz),
            note=args.note,
        )
        return publishing.edit(desk, outage, changes)
    if command == "postpone":
        start, end = parse_time(args.start, tz), parse_time(args.end, tz)
        if start is None or end is None:
            raise OutageError("--start and --end are required")
        return publishing.postpone(desk, outage, start, end, args.note)
    if command == "cancel":
        return publishing.cancel(desk, outage, args.note)
    if command == "progress":
        end = parse_time(args.end, tz)
        return publishing.progress(
            desk, outage, cause=args.cause, cause_en=args.cause_en, expected=end, note=args.note
        )
    if command == "safety":
        return publishing.safety(desk, outage, args.note)
    return publishing.restore(desk, outage, parse_time(args.at, tz))


def _report(outcome: Outcome, tz: ZoneInfo) -> None:
    outage = outcome.outage
    print(f"{outage.outage_no}: {outage.kind}, {outage.starts_at.astimezone(tz):%Y-%m-%d %H:%M}")
    if outcome.notice is not None:
        print(f"  notice {outcome.notice.kind} queued: the gateway sends it")
        print(f"  {outcome.notice.text_zh}")
    if outcome.attached:
        print(f"  attached reports: {', '.join(outcome.attached)}")
    if outcome.warning is not None:
        print(f"  警告 warning: {outcome.warning.zh}", file=sys.stderr)


def _list(session: Session, settings: Settings, config: OutageConfig, now: datetime) -> None:
    rows = views.outages_json(session, settings, config, now=now)
    if not rows:
        print("No outages.")
    for row in rows:
        late = "  [通知未达承诺 notice late]" if row["notice_missed"] else ""
        print(f"{row['outage_no']}  {row['kind_label']}  {row['status']}  {row['areas']}{late}")
        print(f"  {row['starts_at']} → {row['expected_restore_at'] or '-'}  {row['reason']}")
        for notice in row["notices"]:
            done = notice["progress"]
            print(
                f"  - {notice['kind']} {notice['created_at']}: {notice['recipients']} customers,"
                f" {done['sent'] + done['stored']} told, {done['waiting']} waiting"
                + (f", {done['held']} held" if done["held"] else "")
                + (f", {done['undeliverable']} undeliverable" if done["undeliverable"] else "")
            )
            for why in notice["undeliverable_reasons"]:
                print(f"      undeliverable {why['count']}: {why['reason']}")


def _suspects(session: Session, config: OutageConfig, now: datetime) -> None:
    found = suspected.find(session, config, now=now)
    if not found:
        print("No suspected outage.")
    for suspect in found:
        where = suspect.feeder.name if suspect.feeder else suspect.areas[0].name
        print(f"{suspect.key}  {where}: {len(suspect.reports)} reports")
        for ticket in suspect.reports:
            print(f"  {ticket.ticket_no}  {ticket.address or '-'}  {ticket.description}")


def _work(
    args: argparse.Namespace, settings: Settings, config: OutageConfig
) -> Callable[[Session], int]:
    now = datetime.now(UTC)

    def work(session: Session) -> int:
        desk = Desk(session, settings, config, args.actor, "dispatcher", now)
        command = args.outage_command
        if command == "list":
            _list(session, settings, config, now)
            return 0
        if command == "suspected":
            _suspects(session, config, now)
            return 0
        if command == "publish":
            outcome = publishing.publish(desk, _draft(args, settings.tz))
        elif command == "confirm":
            confirmation = suspected.Confirmation(
                args.key, args.reason, parse_time(args.end, settings.tz), args.advice
            )
            outcome = suspected.publish(desk, confirmation)
        else:
            outcome = _change(desk, args)
        _report(outcome, settings.tz)
        return 0

    return work


def run(url: str, settings: Settings, args: argparse.Namespace) -> int:
    config = load_outages(settings.conf_dir, [a.code for a in settings.areas])
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            return _work(args, settings, config)(session)
    except LookupError as exc:
        print(f"No outage {exc}.", file=sys.stderr)
        return 2
    except (OutageError, TargetError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        engine.dispose()

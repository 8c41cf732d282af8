"""`python -m store history [--scale county|township|FRACTION] [--seed N] [--now ISO]`: a year
of generated service history for the benchmark (store/demodata/history/).

`--scale county` (the default) writes a county's year: about 240,000 tickets, 100,000
conversations and 2,000,000 messages, with the station's areas and crews, 54,000 generated
customers and the agents who answered; a fraction such as `0.01` writes that part of it
(tests), `township` what the demo has. On PostgreSQL the rows go in by COPY. Into an empty
database (migrated first) or one without the history; a second run adds nothing (exit 0).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

from store.config import Settings
from store.db import make_engine, make_session_factory, migrate, unit_of_work
from store.demodata.history import DEFAULT_SEED, HistorySummary, parse_scale, seed_history

SHOWN = (
    "tickets", "ticket_events", "applications", "conversations", "messages", "handoffs",
    "ratings", "nlu_inbox_items", "accounts",
)  # fmt: skip


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "history", help="write a year of generated service history (benchmark: --scale county)"
    )
    cmd.add_argument(
        "--scale",
        default="county",
        help="county (default), township, or a fraction of the county such as 0.01",
    )
    cmd.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    cmd.add_argument("--now", help="pretend it is this time (ISO 8601)")


def report(summary: HistorySummary) -> str:
    counts = ", ".join(f"{summary.count(t):,} {t}" for t in SHOWN if summary.count(t))
    return f"History written in {summary.seconds:.1f} s: {counts}."


def run(url: str, settings: Settings, args: argparse.Namespace, *, now: datetime) -> int:
    try:
        scale = parse_scale(args.scale)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    started = time.monotonic()
    migrate(url)
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            summary = seed_history(
                session, settings, now=now, seed=args.seed, scale=scale, copy=True
            )
    finally:
        engine.dispose()
    if summary is None:
        print("The database has the history already; nothing done.")
        return 0
    print(report(summary))
    print(f"Done in {time.monotonic() - started:.1f} s (with the migration and the commit).")
    return 0

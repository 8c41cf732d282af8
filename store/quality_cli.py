"""`python -m store quality-refresh [--rescan] [--full]`: bring the service-quality facts up to
date with the stores (store/quality/facts/). The dashboard and the reports do it themselves
before every view; run it after loading a large history (a county's year takes minutes the
first time, committed batch by batch), from cron with `--rescan` to catch rows committed late,
and with `--full` after changing what the facts depend on when you want it done now (a changed
configuration is noticed and measured again by the next refresh anyway).

Exit status 0 on success.
"""

from __future__ import annotations

import argparse
import time

from sqlalchemy.orm import Session

from store import quality
from store.db import make_engine, make_session_factory, unit_of_work


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "quality-refresh", help="bring the service-quality figures' facts up to date"
    )
    cmd.add_argument("--rescan", action="store_true", help="look again at the latest rows")
    cmd.add_argument("--full", action="store_true", help="measure everything again")


def _batches(session: Session) -> None:
    session.commit()
    session.expunge_all()


def run(url: str, args: argparse.Namespace) -> int:
    engine = make_engine(url)
    started = time.monotonic()
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            result = quality.refresh(
                session, rescan=args.rescan, full=args.full, on_batch=lambda: _batches(session)
            )
    finally:
        engine.dispose()
    print(
        f"{'rebuilt' if result.rebuilt else 'updated'} in {time.monotonic() - started:.1f} s:"
        f" {result.tickets} tickets, {result.applications} application facts,"
        f" {result.handoffs} handoffs, {result.conversations} conversation-days"
    )
    return 0

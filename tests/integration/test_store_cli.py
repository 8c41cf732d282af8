"""`python -m store ...` end to end on a real database (both backends)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from store.config import PROJECT_ROOT
from store.db import unit_of_work
from store.demo import DemoSummary
from store.models import Account, Ticket
from store.services import accounts, applications, tickets

NOW = "2026-11-23T10:00+08:00"


def run(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "store", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_seed_refuses_to_overwrite_without_reset(
    db_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    first = run(db_url, "seed", "--now", NOW)
    assert first.returncode == 0, first.stderr
    assert "306 accounts" in first.stdout
    again = run(db_url, "seed", "--now", NOW)
    assert again.returncode == 0
    assert "nothing done" in again.stdout
    reset = run(db_url, "seed", "--reset", "--seed", "2026", "--now", NOW)
    assert reset.returncode == 0, reset.stderr
    with unit_of_work(session_factory) as session:
        assert accounts.get_by_no(session, "3301000001") is not None


def _chen_ticket(session: Session) -> Ticket:
    account = accounts.get_by_no(session, "3301000005")
    assert isinstance(account, Account)
    return tickets.open_for_account(session, account.id)[0]


def test_advance_commands(
    seeded: DemoSummary, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        number = _chen_ticket(session).ticket_no
        zhao = accounts.get_by_no(session, "3303301000004")
        assert zhao is not None
        app_no = applications.open_for_account(session, zhao.id)[0].application_no
    done = run(db_url, "advance-ticket", number.lower(), "repairing", "--note", "换进户线")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{number}: repairing"
    refused = run(db_url, "advance-ticket", number, "received")
    assert refused.returncode == 2
    assert "cannot go from 'repairing' to 'received'" in refused.stderr
    assert run(db_url, "advance-ticket", "T0000000000", "closed").returncode == 1
    stage = run(db_url, "advance-application", app_no, "need_more_docs", "--now", NOW)
    assert stage.returncode == 0, stage.stderr
    with unit_of_work(session_factory) as session:
        ticket = _chen_ticket(session)
        assert ticket.status == "repairing"
        assert ticket.events[-1].note == "换进户线"
        app = applications.get_by_no(session, app_no)
        assert app is not None
        assert app.stage == "need_more_docs"

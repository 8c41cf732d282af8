"""Verification: correct pairs pass, failures lock per conversation and per account, unknown
numbers look exactly like wrong phones (no enumeration), and locks expire."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.demo import DemoSummary
from store.models import VerificationAttempt
from store.services import verification
from store.services.verification import VerifyOutcome


def attempt(
    factory: sessionmaker[Session],
    settings: Settings,
    at: datetime,
    account_no: str,
    last4: str,
    sender: str = "tg-1",
) -> VerifyOutcome:
    with unit_of_work(factory) as session:
        return verification.verify(
            session, settings, sender_id=sender, account_no=account_no, phone_last4=last4, now=at
        )


def test_correct_pair_verifies(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    outcome = attempt(session_factory, settings, now, "３３０１０００００１", "０００１")
    assert outcome == VerifyOutcome("ok", "3301000001", 5, None)


def test_wrong_phone_counts_down(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    outcomes = [attempt(session_factory, settings, now, "3301000001", "9999") for _ in range(4)]
    assert [o.status for o in outcomes] == ["mismatch"] * 4
    assert [o.attempts_left for o in outcomes] == [4, 3, 2, 1]
    assert all(o.account_no is None for o in outcomes)


def test_unknown_account_is_recorded_and_counts_like_a_mismatch(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    unknown = attempt(session_factory, settings, now, "3301999999", "0001", sender="a")
    wrong = attempt(session_factory, settings, now, "3301000001", "9999", sender="b")
    assert unknown.status == "unknown_account"
    assert wrong.status == "mismatch"
    # the caller gets nothing else that tells an existing number from an unknown one
    assert (unknown.attempts_left, unknown.account_no, unknown.locked_until) == (
        wrong.attempts_left,
        wrong.account_no,
        wrong.locked_until,
    )
    with unit_of_work(session_factory) as session:
        rows = session.scalars(select(VerificationAttempt).order_by(VerificationAttempt.id)).all()
        assert [(r.account_no, r.success) for r in rows] == [
            ("3301999999", False),
            ("3301000001", False),
        ]


def test_five_failures_lock_until_the_window_passes(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    times = [now + timedelta(minutes=m) for m in (0, 1, 2, 3, 4)]
    outcomes = [attempt(session_factory, settings, t, "3301000002", "1234") for t in times]
    assert outcomes[-1].status == "locked"
    assert outcomes[-1].locked_until == now + timedelta(minutes=60)  # oldest failure + 60 min
    # even the right answer is refused while locked, and is not recorded
    refused = attempt(session_factory, settings, now + timedelta(minutes=30), "3301000002", "0002")
    assert refused.status == "locked"
    assert refused.attempts_left == 0
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(VerificationAttempt)) == 5
        until = verification.locked_until(
            session, settings, sender_id="tg-1", account_no=None, now=now + timedelta(minutes=59)
        )
        assert until == now + timedelta(minutes=60)
    later = now + timedelta(minutes=60, seconds=1)
    assert attempt(session_factory, settings, later, "3301000002", "0002").status == "ok"


def test_lock_per_account_across_conversations(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    for n in range(5):  # an attacker rotating conversations
        attempt(session_factory, settings, now, "3301000003", f"9{n:03d}", sender=f"bot-{n}")
    owner = attempt(session_factory, settings, now, "3301000003", "0003", sender="owner")
    assert owner.status == "locked"
    other = attempt(session_factory, settings, now, "3301000001", "0001", sender="owner")
    assert other.status == "ok"


def test_lock_per_conversation_across_accounts(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    for n in range(5):  # one conversation guessing many numbers
        attempt(session_factory, settings, now, f"33019{n:05d}", "0000", sender="guesser")
    assert (
        attempt(session_factory, settings, now, "3301000001", "0001", "guesser").status == "locked"
    )
    with unit_of_work(session_factory) as session:
        assert (
            verification.locked_until(
                session, settings, sender_id="someone-else", account_no="3301000001", now=now
            )
            is None
        )

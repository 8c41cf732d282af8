"""Verification: correct pairs pass and are recorded as the verified conversation; unknown
numbers look exactly like wrong phones (no enumeration); failures slow guessing down per
conversation, client address, account and station with a doubling, capped back-off, never a
lasting lock; refused attempts are recorded but never counted."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.config import Settings
from store.db import unit_of_work
from store.demo import DemoSummary
from store.models import VerificationAttempt, VerifiedConversation
from store.services import verification
from store.services.verification import Claimant, VerifyOutcome


def attempt(
    factory: sessionmaker[Session],
    settings: Settings,
    at: datetime,
    account_no: str,
    last4: str,
    sender: str = "tg-1",
    client: str | None = None,
) -> VerifyOutcome:
    with unit_of_work(factory) as session:
        return verification.verify(
            session,
            settings,
            claimant=Claimant(sender, client),
            account_no=account_no,
            phone_last4=last4,
            now=at,
        )


def with_policy(settings: Settings, **changes: Any) -> Settings:
    """The settings with a changed verification policy (e.g. other failure limits)."""
    policy = replace(settings.commitments.verification, **changes)
    return replace(settings, commitments=replace(settings.commitments, verification=policy))


def count(factory: sessionmaker[Session], **where: Any) -> int:
    with unit_of_work(factory) as session:
        return int(
            session.scalar(select(func.count()).select_from(VerificationAttempt).filter_by(**where))
            or 0
        )


def test_correct_pair_verifies_and_records_the_conversation(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    outcome = attempt(
        session_factory, settings, now, "３３０１０００００１", "０００１", client="10.0.0.7"
    )
    assert (outcome.status, outcome.account_no, outcome.locked_until) == ("ok", "3301000001", None)
    with unit_of_work(session_factory) as session:
        row = session.get(VerifiedConversation, outcome.verification_id)
        assert row is not None
        assert (row.sender_id, row.account_no, row.method) == (
            "tg-1",
            "3301000001",
            "account_phone_last4",
        )
        assert (row.verified_at, row.last_used_at, row.client_address) == (now, now, "10.0.0.7")
        assert row.expires_at == now + timedelta(minutes=30)
        assert row.ended_at is None


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


def test_back_off_starts_at_the_limit_and_doubles_with_each_further_failure(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    times = [now + timedelta(minutes=m) for m in range(5)]
    outcomes = [attempt(session_factory, settings, t, "3301000002", "1234") for t in times]
    assert [o.status for o in outcomes] == ["mismatch"] * 4 + ["locked"]
    fifth = times[-1]
    assert outcomes[-1].locked_until == fifth + timedelta(seconds=60)  # backoff.first_seconds
    # even the right answer is refused during the wait: recorded as throttled, not counted
    refused = attempt(
        session_factory, settings, fifth + timedelta(seconds=30), "3301000002", "0002"
    )
    assert (refused.status, refused.attempts_left) == ("locked", 0)
    assert count(session_factory, throttled=True) == 1
    with unit_of_work(session_factory) as session:
        until = verification.locked_until(
            session, settings, claimant=Claimant("tg-1"), account_no=None, now=fifth
        )
        assert until == fifth + timedelta(seconds=60)
    # the wait is over: one more failure, and the next wait is twice as long
    sixth = fifth + timedelta(seconds=61)
    assert attempt(session_factory, settings, sixth, "3301000002", "4321").locked_until == (
        sixth + timedelta(seconds=120)
    )
    # and after it the real customer gets in
    later = sixth + timedelta(seconds=121)
    assert attempt(session_factory, settings, later, "3301000002", "0002").status == "ok"


def test_the_wait_never_exceeds_the_cap_and_failures_leave_the_window(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    policy = settings.commitments.verification
    at, waits = now, []
    for _ in range(9):  # each failure right after the previous wait
        outcome = attempt(session_factory, settings, at, "3301000002", "1234")
        wait = (outcome.locked_until - at) if outcome.locked_until else timedelta(0)
        waits.append(int(wait.total_seconds()))
        at += wait + timedelta(seconds=1)
    assert waits == [0, 0, 0, 0, 60, 120, 240, 480, policy.backoff_max_seconds]
    # a window (an hour) after the last failure, the slate is clean
    fresh = at + timedelta(minutes=policy.window_minutes)
    assert attempt(session_factory, settings, fresh, "3301000002", "1234").attempts_left == 4


def test_account_back_off_across_conversations_is_bounded_for_the_owner(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    for n in range(5):  # an attacker rotating conversations and addresses
        attempt(
            session_factory, settings, now, "3301000003", f"9{n:03d}", f"bot-{n}", f"10.1.0.{n}"
        )
    owner = attempt(session_factory, settings, now, "3301000003", "0003", "owner", "10.9.9.9")
    assert (owner.status, owner.locked_until) == ("locked", now + timedelta(seconds=60))
    other = attempt(session_factory, settings, now, "3301000001", "0001", "owner", "10.9.9.9")
    assert other.status == "ok"  # only that account waits
    later = now + timedelta(seconds=61)
    assert attempt(session_factory, settings, later, "3301000003", "0003", "owner").status == "ok"


def test_back_off_per_conversation_across_accounts(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    for n in range(5):  # one conversation guessing many numbers
        attempt(session_factory, settings, now, f"33019{n:05d}", "0000", sender="guesser")
    assert attempt(session_factory, settings, now, "3301000001", "0001", "guesser").status == (
        "locked"
    )
    with unit_of_work(session_factory) as session:
        elsewhere = Claimant("someone-else")
        assert (
            verification.locked_until(
                session, settings, claimant=elsewhere, account_no="3301000001", now=now
            )
            is None
        )


def test_back_off_per_client_address_across_fresh_conversations(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    limit = settings.commitments.verification.failures["client"]
    for n in range(limit):  # a new web chat for every guess, one account each
        attempt(session_factory, settings, now, f"33017{n:05d}", "0000", f"web:{n}", "10.2.3.4")
    fresh = attempt(session_factory, settings, now, "3301000001", "0001", "web:new", "10.2.3.4")
    assert fresh.status == "locked"
    elsewhere = attempt(session_factory, settings, now, "3301000001", "0001", "web:x", "10.2.3.5")
    assert elsewhere.status == "ok"


def test_station_wide_back_off(
    seeded: DemoSummary, session_factory: sessionmaker[Session], settings: Settings, now: datetime
) -> None:
    policy = settings.commitments.verification
    small = with_policy(settings, failures={**policy.failures, "station": 3})
    for n in range(3):  # three strangers, three addresses, three accounts
        attempt(session_factory, small, now, f"33016{n:05d}", "0000", f"web:{n}", f"10.3.0.{n}")
    anyone = attempt(session_factory, small, now, "3301000001", "0001", "web:owner", "10.4.0.1")
    assert (anyone.status, anyone.locked_until) == ("locked", now + timedelta(seconds=60))
    assert count(session_factory, throttled=True) == 1
    later = now + timedelta(seconds=61)
    assert attempt(session_factory, small, later, "3301000001", "0001", "web:owner").status == "ok"

"""Identity verification: account number + last 4 digits of the registered phone.

Every failure is recorded, including numbers that do not exist, and the answer for an unknown
account looks like a wrong phone to the customer, so account numbers cannot be enumerated.
`max_failures` failures within `lock_minutes`, counted per conversation OR per account number,
lock verification until the oldest counted failure leaves the window.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from store.config import Settings
from store.ids import normalise_account_no
from store.models import Account, VerificationAttempt
from store.sla import require_aware

VerifyStatus = Literal["ok", "mismatch", "unknown_account", "locked"]


@dataclass(frozen=True)
class VerifyOutcome:
    status: VerifyStatus
    account_no: str | None
    """The normalised account number when verified, else None."""
    attempts_left: int
    locked_until: datetime | None


def _key(account_no: str | None) -> str:
    """What is recorded for an attempt: the normalised number, else the digits typed."""
    if account_no is None:
        return ""
    normal = normalise_account_no(account_no)
    if normal is not None:
        return normal
    text = unicodedata.normalize("NFKC", account_no)
    return "".join(ch for ch in text if ch.isdigit())[:32]


def _failures(
    session: Session, column: InstrumentedAttribute[str], value: str, since: datetime
) -> list[datetime]:
    rows = session.scalars(
        select(VerificationAttempt.at)
        .where(
            column == value,
            VerificationAttempt.success.is_(False),
            VerificationAttempt.at > since,
        )
        .order_by(VerificationAttempt.at.desc())
    )
    return list(rows)


def _status(
    session: Session, settings: Settings, sender_id: str | None, account_key: str, now: datetime
) -> tuple[int, datetime | None]:
    """(failures counted against the busiest key, lock end or None)."""
    policy = settings.commitments.verification
    window = timedelta(minutes=policy.lock_minutes)
    since = now - window
    lists = []
    if sender_id:
        lists.append(_failures(session, VerificationAttempt.sender_id, sender_id, since))
    if account_key:
        lists.append(_failures(session, VerificationAttempt.account_no, account_key, since))
    count = max((len(times) for times in lists), default=0)
    ends = [
        times[policy.max_failures - 1] + window
        for times in lists
        if len(times) >= policy.max_failures
    ]
    until = max(ends, default=None)
    return count, until if until is not None and until > now else None


def locked_until(
    session: Session,
    settings: Settings,
    *,
    sender_id: str | None,
    account_no: str | None,
    now: datetime,
) -> datetime | None:
    """When verification unlocks for this conversation / account number; None if not locked."""
    require_aware(now)
    return _status(session, settings, sender_id, _key(account_no), now)[1]


def verify(
    session: Session,
    settings: Settings,
    *,
    sender_id: str,
    account_no: str,
    phone_last4: str,
    now: datetime,
) -> VerifyOutcome:
    """Check the pair, record the attempt, and report what the conversation may do next."""
    require_aware(now)
    max_failures = settings.commitments.verification.max_failures
    key = _key(account_no)
    _, until = _status(session, settings, sender_id, key, now)
    if until is not None:
        return VerifyOutcome("locked", None, 0, until)
    account = None
    if normalise_account_no(account_no) is not None:
        account = session.scalars(select(Account).where(Account.account_no == key)).one_or_none()
    last4 = "".join(ch for ch in unicodedata.normalize("NFKC", phone_last4 or "") if ch.isdigit())
    success = account is not None and len(last4) == 4 and account.phone.endswith(last4)
    session.add(VerificationAttempt(sender_id=sender_id, account_no=key, success=success, at=now))
    session.flush()
    if success and account is not None:
        return VerifyOutcome("ok", account.account_no, max_failures, None)
    count, until = _status(session, settings, sender_id, key, now)
    if until is not None:
        return VerifyOutcome("locked", None, 0, until)
    status: VerifyStatus = "mismatch" if account is not None else "unknown_account"
    return VerifyOutcome(status, None, max(0, max_failures - count), None)

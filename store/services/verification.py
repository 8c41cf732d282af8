"""Identity verification: account number + last 4 digits of the registered phone.

Every attempt is recorded, including numbers that do not exist, and the answer for an unknown
account looks like a wrong phone to the customer, so account numbers cannot be enumerated.

Guessing is slowed down, never locked out for good (conf/commitments.yml `verification`):
failures are counted within a window in four scopes: the conversation, the client address
(a web chat is a fresh conversation per browser session, so one client has many), the account
number (across all conversations) and the whole station. A scope at its limit waits; every
further failure doubles the wait, up to a cap. While a wait runs, attempts are refused without
being checked or counted, so a stranger guessing at a real customer's account delays that
customer by at most the cap. A success records the verified conversation
(store/services/identity.py): that record, not the tracker, is what the actions trust.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from store.config import Settings
from store.configuration.commitments import VerificationPolicy
from store.ids import normalise_account_no
from store.models import Account, VerificationAttempt
from store.services import identity
from store.sla import require_aware


class VerifyStatus(StrEnum):
    """How a check ended: verified, wrong digits, no such account, or refused unchecked while a
    back-off runs."""

    OK = "ok"
    MISMATCH = "mismatch"
    UNKNOWN_ACCOUNT = "unknown_account"
    LOCKED = "locked"


@dataclass(frozen=True)
class Claimant:
    """Who is trying: the conversation, where it writes from, and its Rasa session."""

    sender_id: str
    client_address: str | None = None
    rasa_session: str = ""


@dataclass(frozen=True)
class VerifyOutcome:
    status: VerifyStatus
    account_no: str | None
    """The normalised account number when verified, else None."""
    attempts_left: int
    """Failures the busiest scope still allows before a wait."""
    locked_until: datetime | None
    verification_id: int | None = None
    """The recorded verified conversation (store.models.VerifiedConversation) when ok."""


@dataclass(frozen=True)
class Throttle:
    attempts_left: int
    until: datetime | None
    """When the longest running wait ends; None when no scope waits."""


def _key(account_no: str | None) -> str:
    """What is recorded for an attempt: the normalised number, else the digits typed."""
    if account_no is None:
        return ""
    normal = normalise_account_no(account_no)
    if normal is not None:
        return normal
    text = unicodedata.normalize("NFKC", account_no)
    return "".join(ch for ch in text if ch.isdigit())[:32]


def _scopes(claimant: Claimant, account_key: str) -> dict[str, ColumnElement[bool] | None]:
    """Each scope that applies, with its filter on the attempts (None: every attempt)."""
    scopes: dict[str, ColumnElement[bool] | None] = {
        "conversation": VerificationAttempt.sender_id == claimant.sender_id,
        "station": None,
    }
    if claimant.client_address:
        scopes["client"] = VerificationAttempt.client_address == claimant.client_address
    if account_key:
        scopes["account"] = VerificationAttempt.account_no == account_key
    return scopes


def _failures(
    session: Session, where: ColumnElement[bool] | None, since: datetime
) -> tuple[int, datetime | None]:
    """(failures within the window, the latest one's time)."""
    conditions: list[Any] = [
        VerificationAttempt.success.is_(False),
        VerificationAttempt.throttled.is_(False),
        VerificationAttempt.at > since,
    ]
    if where is not None:
        conditions.append(where)
    count, latest = session.execute(
        select(func.count(), func.max(VerificationAttempt.at)).where(*conditions)
    ).one()
    return int(count), latest


def throttle(
    session: Session,
    policy: VerificationPolicy,
    claimant: Claimant,
    account_key: str,
    now: datetime,
) -> Throttle:
    """How many failures are still allowed, and the end of the longest running wait."""
    since = now - timedelta(minutes=policy.window_minutes)
    left: list[int] = []
    ends: list[datetime] = []
    for scope, where in _scopes(claimant, account_key).items():
        count, latest = _failures(session, where, since)
        left.append(max(0, policy.failures[scope] - count))
        wait = policy.wait_seconds(count, scope)
        if wait and latest is not None and latest + timedelta(seconds=wait) > now:
            ends.append(latest + timedelta(seconds=wait))
    return Throttle(min(left), max(ends, default=None))


def locked_until(
    session: Session,
    settings: Settings,
    *,
    claimant: Claimant,
    account_no: str | None,
    now: datetime,
) -> datetime | None:
    """When this conversation (from its address, for this account number if given) may try
    again; None when it may now."""
    require_aware(now)
    policy = settings.commitments.verification
    return throttle(session, policy, claimant, _key(account_no), now).until


def _record(session: Session, claimant: Claimant, key: str, now: datetime, **outcome: bool) -> None:
    session.add(
        VerificationAttempt(
            sender_id=claimant.sender_id,
            account_no=key,
            client_address=claimant.client_address,
            at=now,
            **outcome,
        )
    )
    session.flush()


def _matches(account: Account | None, phone_last4: str) -> bool:
    last4 = "".join(ch for ch in unicodedata.normalize("NFKC", phone_last4 or "") if ch.isdigit())
    return account is not None and len(last4) == 4 and account.phone.endswith(last4)


def verify(
    session: Session,
    settings: Settings,
    *,
    claimant: Claimant,
    account_no: str,
    phone_last4: str,
    now: datetime,
) -> VerifyOutcome:
    """Check the pair, record the attempt (and a success as the verified conversation), and
    report what the conversation may do next."""
    require_aware(now)
    policy = settings.commitments.verification
    key = _key(account_no)
    before = throttle(session, policy, claimant, key, now)
    if before.until is not None:
        _record(session, claimant, key, now, success=False, throttled=True)
        return VerifyOutcome(VerifyStatus.LOCKED, None, 0, before.until)
    account = None
    if normalise_account_no(account_no) is not None:
        account = session.scalars(select(Account).where(Account.account_no == key)).one_or_none()
    success = _matches(account, phone_last4)
    _record(session, claimant, key, now, success=success, throttled=False)
    if success and account is not None:
        verified = identity.record(
            session,
            settings,
            sender_id=claimant.sender_id,
            account_no=account.account_no,
            client_address=claimant.client_address,
            rasa_session=claimant.rasa_session,
            now=now,
        )
        return VerifyOutcome(
            VerifyStatus.OK, account.account_no, before.attempts_left, None, verified.id
        )
    after = throttle(session, policy, claimant, key, now)
    if after.until is not None:
        return VerifyOutcome(VerifyStatus.LOCKED, None, 0, after.until)
    status = VerifyStatus.MISMATCH if account is not None else VerifyStatus.UNKNOWN_ACCOUNT
    return VerifyOutcome(status, None, after.attempts_left, None)

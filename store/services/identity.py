"""Verified conversations: the proof of identity the actions trust (never the tracker's slots).

A successful identity check (store/services/verification.py) records which conversation
proved which account, how, when, from where and in which Rasa session. The record is active
while it has not ended, the customer keeps writing (every message moves `expires_at` to now +
the idle time of conf/commitments.yml) and Rasa is still in the session it was made in;
checking a record that went idle or belongs to an earlier session ends it for good.

Disclosures: the customer messages that answered the identity check, and those whose turn used
the verified identity (their replies may show a bill, a balance, a name). The web chat's
history replay hides them (`history_masks`) once the verification they belong to is no longer
active, so whoever holds the chat's id later reads no account data.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.config import Settings
from store.models import (
    DisclosureKind,
    IdentityDisclosure,
    VerificationEndReason,
    VerificationMethod,
    VerifiedConversation,
)
from store.sla import require_aware

METHOD = VerificationMethod.ACCOUNT_PHONE_LAST4


def _open(session: Session, sender_id: str) -> list[VerifiedConversation]:
    return list(
        session.scalars(
            select(VerifiedConversation)
            .where(
                VerifiedConversation.sender_id == sender_id,
                VerifiedConversation.ended_at.is_(None),
            )
            .order_by(VerifiedConversation.id.desc())
        )
    )


def _end(row: VerifiedConversation, reason: str, now: datetime) -> None:
    row.ended_at = now
    row.end_reason = reason


def record(
    session: Session,
    settings: Settings,
    *,
    sender_id: str,
    account_no: str,
    client_address: str | None,
    rasa_session: str,
    now: datetime,
) -> VerifiedConversation:
    """A conversation just verified: its earlier verification (if any) ends."""
    require_aware(now)
    for row in _open(session, sender_id):
        _end(row, VerificationEndReason.REPLACED, now)
    idle = timedelta(minutes=settings.commitments.verification.idle_minutes)
    row = VerifiedConversation(
        sender_id=sender_id,
        account_no=account_no,
        method=METHOD,
        verified_at=now,
        last_used_at=now,
        expires_at=now + idle,
        rasa_session=rasa_session,
        client_address=client_address,
    )
    session.add(row)
    session.flush()
    return row


def active(
    session: Session, *, sender_id: str, rasa_session: str, now: datetime
) -> VerifiedConversation | None:
    """The conversation's verification if it is still good; one that went idle or was made in
    an earlier Rasa session is ended here (and None returned)."""
    require_aware(now)
    found = None
    for row in _open(session, sender_id):
        if found is None and row.expires_at > now and row.rasa_session == rasa_session:
            found = row
        else:
            reason = (
                VerificationEndReason.IDLE
                if row.expires_at <= now
                else VerificationEndReason.NEW_SESSION
            )
            _end(row, reason, now)
    return found


def touch(session: Session, settings: Settings, row: VerifiedConversation, now: datetime) -> None:
    """The customer is still there: the idle time starts again."""
    require_aware(now)
    row.last_used_at = now
    row.expires_at = now + timedelta(minutes=settings.commitments.verification.idle_minutes)


def _note(
    session: Session,
    *,
    sender_id: str,
    message_key: str,
    kind: str,
    verification_id: int | None,
    now: datetime,
) -> None:
    exists = session.scalar(
        select(IdentityDisclosure.id).where(
            IdentityDisclosure.sender_id == sender_id,
            IdentityDisclosure.message_key == message_key,
            IdentityDisclosure.kind == kind,
        )
    )
    if exists is None:
        session.add(
            IdentityDisclosure(
                sender_id=sender_id,
                message_key=message_key,
                kind=kind,
                verification_id=verification_id,
                at=now,
            )
        )
        session.flush()


def note_answer(session: Session, *, sender_id: str, message_key: str, now: datetime) -> None:
    """This customer message answered the identity check (an account number, phone digits)."""
    require_aware(now)
    _note(
        session,
        sender_id=sender_id,
        message_key=message_key,
        kind=DisclosureKind.ANSWER,
        verification_id=None,
        now=now,
    )


def note_use(
    session: Session, row: VerifiedConversation, *, message_key: str, now: datetime
) -> None:
    """The turn of this customer message used the verified identity: its replies may show
    account data."""
    require_aware(now)
    _note(
        session,
        sender_id=row.sender_id,
        message_key=message_key,
        kind=DisclosureKind.DATA,
        verification_id=row.id,
        now=now,
    )


@dataclass(frozen=True)
class HistoryMasks:
    """Keys (`gateway_message_id`) of customer messages whose history must be masked."""

    answers: frozenset[str]
    """The customer's own answers to the identity check: always shown masked."""
    data: frozenset[str]
    """Messages whose replies showed account data under a verification that is not active."""


def history_masks(
    session: Session, *, sender_id: str, message_keys: Collection[str], now: datetime
) -> HistoryMasks:
    """What a replay of these messages of the conversation must hide now."""
    require_aware(now)
    if not message_keys:
        return HistoryMasks(frozenset(), frozenset())
    rows = session.execute(
        select(
            IdentityDisclosure.message_key,
            IdentityDisclosure.kind,
            IdentityDisclosure.verification_id,
        ).where(
            IdentityDisclosure.sender_id == sender_id,
            IdentityDisclosure.message_key.in_(list(message_keys)),
        )
    ).all()
    live = set(
        session.scalars(
            select(VerifiedConversation.id).where(
                VerifiedConversation.sender_id == sender_id,
                VerifiedConversation.ended_at.is_(None),
                VerifiedConversation.expires_at > now,
            )
        )
    )
    answers = frozenset(key for key, kind, _ in rows if kind == DisclosureKind.ANSWER)
    data = frozenset(
        key for key, kind, vid in rows if kind == DisclosureKind.DATA and vid not in live
    )
    return HistoryMasks(answers, data)

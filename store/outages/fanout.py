"""Fanning a notice out: one delivery per customer, written in one transaction.

Who is told: the subscribers of every area the notice targets (a subscriber of another group of
the village is not; one who never said their group is), and every customer whose fault report
is attached to the outage. One customer may be several candidates: the same verified account or
phone on Telegram and in the web chat. Candidates sharing an account or a phone are one
customer (`recipient`), told once, on one conversation: a subscribed one first (they chose it for
notices, and its unsubscribe button works there), else the one they used last.

The recipients are worked out first (`plan`, reading only); then the notice is claimed
(`queued` → `fanned_out`, one UPDATE) and the deliveries written in the same transaction
(`write`): of two gateways fanning out at once one writes the deliveries and the other finds
nothing to do, and a crash in between rolls both back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from store.models import (
    Account,
    Conversation,
    DeliveryState,
    NoticeState,
    OutageDelivery,
    OutageNotice,
    OutageSubscription,
    Ticket,
)
from store.outages import targets as target_rules
from store.outages.subscriptions import reachable
from store.sla import require_aware

_CHUNK = 500


@dataclass(frozen=True)
class Candidate:
    conversation_id: str
    account_id: int | None
    phone: str | None
    subscribed: bool


@dataclass(frozen=True)
class Recipient:
    key: str
    conversation_id: str
    subscribed: bool


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def _identities(candidate: Candidate) -> list[str]:
    """The keys one customer may be known by, most telling first (no phone kept in clear)."""
    keys = []
    if candidate.account_id is not None:
        keys.append(f"account:{candidate.account_id}")
    if candidate.phone:
        keys.append(f"phone:{_digest(candidate.phone)}")
    keys.append(f"chat:{_digest(candidate.conversation_id)}")
    return keys


class _Groups:
    """Union-find over identity keys."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, keys: Sequence[str]) -> None:
        root = self.find(keys[0])
        for key in keys[1:]:
            other = self.find(key)
            if other != root:
                self.parent[other] = root


def _rank(key: str) -> tuple[int, str]:
    return (("account:", "phone:", "chat:").index(key.split(":", 1)[0] + ":"), key)


def group(candidates: Iterable[Candidate], activity: dict[str, datetime]) -> list[Recipient]:
    """One recipient per customer (see the module's docstring); `activity`: each
    conversation's last activity."""
    merged: dict[str, Candidate] = {}
    for candidate in candidates:
        known = merged.get(candidate.conversation_id)
        if known is not None:
            candidate = Candidate(
                candidate.conversation_id,
                known.account_id or candidate.account_id,
                known.phone or candidate.phone,
                known.subscribed or candidate.subscribed,
            )
        merged[candidate.conversation_id] = candidate
    groups = _Groups()
    for candidate in merged.values():
        groups.join(_identities(candidate))
    members: dict[str, list[Candidate]] = {}
    for candidate in merged.values():
        members.setdefault(groups.find(_identities(candidate)[0]), []).append(candidate)
    recipients = []
    floor = datetime.min.replace(tzinfo=UTC)
    for found in members.values():
        keys = sorted({k for c in found for k in _identities(c)}, key=_rank)
        best = max(
            found,
            key=lambda c: (c.subscribed, activity.get(c.conversation_id, floor), c.conversation_id),
        )
        subscribed = any(c.subscribed for c in found)
        recipients.append(Recipient(keys[0], best.conversation_id, subscribed))
    return sorted(recipients, key=lambda r: r.key)


def _subscribers(session: Session, notice: OutageNotice) -> list[Candidate]:
    told = target_rules.from_json(session, notice.targets)
    area_ids = {t.area.id for t in told}
    if not area_ids:
        return []
    stmt = (
        select(OutageSubscription, Account.phone)
        .outerjoin(Account, Account.id == OutageSubscription.account_id)
        .where(OutageSubscription.area_id.in_(area_ids), OutageSubscription.ended_at.is_(None))
    )
    found = []
    for row, phone in session.execute(stmt):
        if any(t.covers(row.area_id, row.group_no) for t in told):
            found.append(Candidate(row.conversation_id, row.account_id, phone, True))
    return found


def _reporters(session: Session, notice: OutageNotice) -> list[Candidate]:
    """Who reported a fault attached to the outage before the notice was written (a later
    reporter was told of the outage in their own conversation)."""
    stmt = select(Ticket.sender_id, Ticket.account_id, Ticket.contact_phone).where(
        Ticket.outage_id == notice.outage_id,
        Ticket.sender_id.is_not(None),
        Ticket.created_at <= notice.created_at,
    )
    return [
        Candidate(sender, account_id, phone, False)
        for sender, account_id, phone in session.execute(stmt)
        if sender
    ]


def _conversations(session: Session, ids: Sequence[str]) -> dict[str, tuple[str | None, datetime]]:
    """Language and last activity of the conversations the gateway has seen."""
    found: dict[str, tuple[str | None, datetime]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        stmt = select(
            Conversation.conversation_id, Conversation.language, Conversation.last_activity_at
        ).where(Conversation.conversation_id.in_(chunk))
        for conversation_id, language, last in session.execute(stmt):
            found[conversation_id] = (language, last)
    return found


def recipients(session: Session, notice: OutageNotice) -> tuple[list[Recipient], dict[str, str]]:
    """Everybody the notice is for, each customer once; the language of each conversation
    the gateway has seen."""
    candidates = [
        c
        for c in (*_subscribers(session, notice), *_reporters(session, notice))
        if reachable(c.conversation_id)
    ]
    known = _conversations(session, sorted({c.conversation_id for c in candidates}))
    activity = {cid: last for cid, (_, last) in known.items()}
    languages = {cid: language for cid, (language, _) in known.items() if language}
    return group(candidates, activity), languages


def next_queued(session: Session) -> int | None:
    """The oldest notice waiting to be fanned out."""
    stmt = (
        select(OutageNotice.id)
        .where(OutageNotice.state == NoticeState.QUEUED)
        .order_by(OutageNotice.id)
        .limit(1)
    )
    return session.scalars(stmt).first()


@dataclass(frozen=True)
class Plan:
    """Who a notice goes to, worked out before anything is written."""

    notice_id: int
    urgent: bool
    recipients: tuple[Recipient, ...]
    languages: dict[str, str]


def plan(session: Session, notice_id: int) -> Plan | None:
    """The notice's recipients (reading only); None when it is not waiting any more."""
    notice = session.get(OutageNotice, notice_id)
    if notice is None or notice.state != NoticeState.QUEUED:
        return None
    found, languages = recipients(session, notice)
    return Plan(notice.id, notice.urgent, tuple(found), languages)


def write(session: Session, planned: Plan, *, now: datetime) -> int | None:
    """Claim the notice and write the planned deliveries: how many, or None when another
    gateway has it (or had it). The write lock is held only for this (SQLite has one)."""
    require_aware(now)
    claim = (
        update(OutageNotice)
        .where(OutageNotice.id == planned.notice_id, OutageNotice.state == NoticeState.QUEUED)
        .values(state=NoticeState.FANNED_OUT, fanned_out_at=now, recipients=len(planned.recipients))
    )
    result = session.execute(claim.execution_options(synchronize_session=False))
    if not getattr(result, "rowcount", 0):
        return None
    rows = [
        {
            "notice_id": planned.notice_id,
            "recipient": r.key,
            "conversation_id": r.conversation_id,
            "channel": r.conversation_id.partition(":")[0],
            "language": planned.languages.get(r.conversation_id, "zh"),
            "subscribed": r.subscribed,
            "urgent": planned.urgent,
            "state": DeliveryState.QUEUED.value,
            "not_before": now,
            "attempts": 0,
        }
        for r in planned.recipients
    ]
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(OutageDelivery), rows[start : start + _CHUNK])
    return len(rows)


def fan_out(session: Session, notice_id: int, *, now: datetime) -> int | None:
    """`plan` and `write` in one unit of work (the worker runs them as two, so that working
    out 20,000 recipients never holds SQLite's write lock)."""
    planned = plan(session, notice_id)
    return write(session, planned, now=now) if planned is not None else None

"""The delivery queue: every gateway claims a few due deliveries of a channel, sends them in
the slots the channel's shared pace gives, and marks each one.

- A claim is one transaction that first moves the channel's pace row (`outage_channel_pace`):
  the first statement is a write, so claims of one channel are serialised on both backends
  (PostgreSQL's row lock, SQLite's write lock), and the slots handed out keep the channel's
  rate for all gateways together.
- A claimed delivery carries a random token; only its holder marks it. A delivery left
  claimed by a gateway that died is queued again once its lease runs out (`release_expired`);
  a gateway that stops gracefully gives its unsent claims back at once (`release`).
- During the quiet hours only urgent deliveries are claimed; the others wait in the queue.
- A delivery whose outage was restored or cancelled after its notice was written is not sent
  (`superseded`): the customer hears the outcome, not the stale news before it.
- A delivery the channel cannot take for its one customer now (`bot.channels.base.NotNow`) is
  `held`: due again at its `not_before` like a queued one, or at once when the customer writes
  (`wake_held`); the channel's pace is not touched, the other customers are sent as usual.
  Still not deliverable once its notice is `give_up` old, it is `undeliverable`, the reason
  in `error` (`hold`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Update, and_, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from store.configuration.outages import ChannelPace
from store.models import (
    FINAL_NOTICE_KINDS,
    DeliveryState,
    Outage,
    OutageChannelPace,
    OutageDelivery,
    OutageNotice,
)
from store.services.upserts import insert_ignore
from store.sla import require_aware


@dataclass(frozen=True)
class Claimed:
    """A delivery to send now, at `slot`."""

    id: int
    conversation_id: str
    channel: str
    language: str
    text: str
    subscribed: bool
    urgent: bool
    attempts: int
    slot: datetime
    written_at: datetime
    """When its notice was written (a held delivery is given up that long after)."""


def _quick(session: Session, stmt: Update) -> int:
    """Run a bulk UPDATE; the rows it changed."""
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def release_expired(session: Session, *, now: datetime, lease: timedelta) -> int:
    """Deliveries claimed longer ago than the lease (their gateway died): queued again."""
    require_aware(now)
    stmt = (
        update(OutageDelivery)
        .where(
            OutageDelivery.state == DeliveryState.CLAIMED,
            OutageDelivery.claimed_at < now - lease,
        )
        .values(state=DeliveryState.QUEUED, claim_token=None)
    )
    return _quick(session, stmt)


def release(session: Session, token: str) -> int:
    """A stopping gateway's claims not sent yet: queued again at once."""
    stmt = (
        update(OutageDelivery)
        .where(OutageDelivery.claim_token == token, OutageDelivery.state == DeliveryState.CLAIMED)
        .values(state=DeliveryState.QUEUED, claim_token=None)
    )
    return _quick(session, stmt)


_CLAIMABLE = (DeliveryState.QUEUED, DeliveryState.HELD)


def _due(now: datetime, quiet: bool) -> ColumnElement[bool]:
    condition = and_(OutageDelivery.state.in_(_CLAIMABLE), OutageDelivery.not_before <= now)
    return and_(condition, OutageDelivery.urgent.is_(True)) if quiet else condition


def channels_due(session: Session, *, now: datetime, quiet: bool) -> list[str]:
    """The channels with deliveries to send now."""
    stmt = select(OutageDelivery.channel).where(_due(now, quiet)).distinct()
    return sorted(session.scalars(stmt))


def _take_slots(session: Session, channel: str, now: datetime) -> datetime:
    """Lock the channel's pace row (a write first) and return its next free slot (not before
    now)."""
    insert_ignore(
        session,
        OutageChannelPace,
        {"channel": channel, "next_free_at": now},
        [OutageChannelPace.channel],
    )
    at_now = literal(now, OutageChannelPace.next_free_at.type)  # typed: stored as UTC
    later = case(
        (OutageChannelPace.next_free_at < now, at_now), else_=OutageChannelPace.next_free_at
    )
    _quick(
        session,
        update(OutageChannelPace)
        .where(OutageChannelPace.channel == channel)
        .values(next_free_at=later),
    )
    return session.scalars(
        select(OutageChannelPace.next_free_at).where(OutageChannelPace.channel == channel)
    ).one()


def _stale(notice: OutageNotice, outage: Outage) -> bool:
    """Written before its outage ended, and not the news of that end."""
    ended = outage.restored_at or outage.cancelled_at
    return (
        ended is not None and notice.kind not in FINAL_NOTICE_KINDS and notice.created_at <= ended
    )


def _due_rows(
    session: Session, channel: str, now: datetime, quiet: bool, limit: int
) -> list[tuple[OutageDelivery, OutageNotice, Outage]]:
    stmt = (
        select(OutageDelivery, OutageNotice, Outage)
        .join(OutageNotice, OutageNotice.id == OutageDelivery.notice_id)
        .join(Outage, Outage.id == OutageNotice.outage_id)
        .where(_due(now, quiet), OutageDelivery.channel == channel)
        .order_by(OutageDelivery.urgent.desc(), OutageDelivery.id)
        .limit(limit)
    )
    return [(d, n, o) for d, n, o in session.execute(stmt)]


def _claimed(delivery: OutageDelivery, notice: OutageNotice, slot: datetime) -> Claimed:
    return Claimed(
        id=delivery.id,
        conversation_id=delivery.conversation_id,
        channel=delivery.channel,
        language=delivery.language,
        text=notice.text_en if delivery.language == "en" else notice.text_zh,
        subscribed=delivery.subscribed,
        urgent=delivery.urgent,
        attempts=delivery.attempts + 1,
        slot=slot,
        written_at=notice.created_at,
    )


def claim(
    session: Session,
    channel: str,
    *,
    token: str,
    now: datetime,
    limit: int,
    pace: ChannelPace,
    quiet: bool,
    horizon: timedelta = timedelta(seconds=2),
) -> list[Claimed]:
    """Claim up to `limit` due deliveries of `channel` with their sending slots, the first no
    sooner than the channel's next free slot. Nothing when that slot is more than `horizon`
    away (other gateways have the next seconds)."""
    require_aware(now)
    start = _take_slots(session, channel, now)
    room = int((now + horizon - start).total_seconds() * pace.per_second) + 1
    if room <= 0:
        return []
    rows = _due_rows(session, channel, now, quiet, min(limit, room))
    stale = [d.id for d, notice, outage in rows if _stale(notice, outage)]
    if stale:
        _finish_many(session, stale, DeliveryState.SUPERSEDED, now)
    fresh = [(d, notice) for d, notice, outage in rows if not _stale(notice, outage)]
    claimed = _claim_rows(session, [d.id for d, _ in fresh], token, now)
    step = timedelta(seconds=1 / pace.per_second)
    out: list[Claimed] = []
    for delivery, notice in fresh:
        if delivery.id in claimed:
            out.append(_claimed(delivery, notice, start + step * len(out)))
    _quick(
        session,
        update(OutageChannelPace)
        .where(OutageChannelPace.channel == channel)
        .values(next_free_at=start + step * len(out)),
    )
    return out


def _claim_rows(session: Session, ids: Sequence[int], token: str, now: datetime) -> set[int]:
    if not ids:
        return set()
    _quick(
        session,
        update(OutageDelivery)
        .where(OutageDelivery.id.in_(ids), OutageDelivery.state.in_(_CLAIMABLE))
        .values(
            state=DeliveryState.CLAIMED,
            claim_token=token,
            claimed_at=now,
            attempts=OutageDelivery.attempts + 1,
        ),
    )
    mine = select(OutageDelivery.id).where(
        OutageDelivery.id.in_(ids), OutageDelivery.claim_token == token
    )
    return set(session.scalars(mine))


def _finish_many(session: Session, ids: Sequence[int], state: str, now: datetime) -> None:
    _quick(
        session,
        update(OutageDelivery)
        .where(OutageDelivery.id.in_(ids))
        .values(state=state, done_at=now, claim_token=None),
    )


def finish(
    session: Session,
    delivery_id: int,
    token: str,
    state: str,
    *,
    now: datetime,
    error: str | None = None,
) -> bool:
    """How a claimed delivery ended (sent, stored, failed, blocked); False when the claim was
    lost meanwhile (its lease ran out and another gateway has it)."""
    require_aware(now)
    stmt = (
        update(OutageDelivery)
        .where(OutageDelivery.id == delivery_id, OutageDelivery.claim_token == token)
        .values(state=state, done_at=now, claim_token=None, error=(error or None) and error[:200])
    )
    return _quick(session, stmt) == 1


def later(
    session: Session,
    delivery_id: int,
    token: str,
    *,
    now: datetime,
    wait: timedelta,
    channel: str,
    give_up_after: int,
    error: str,
) -> str:
    """The channel asked to wait (a rate limit) or could not take it now: queued again after
    `wait`, and the channel's pace pushed back as far; failed after `give_up_after` attempts.
    The state it is left in."""
    require_aware(now)
    delivery = session.get(OutageDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.claim_token != token:
        return ""
    if delivery.attempts >= give_up_after:
        finish(session, delivery_id, token, DeliveryState.FAILED, now=now, error=error)
        return DeliveryState.FAILED
    delivery.state = DeliveryState.QUEUED
    delivery.claim_token = None
    delivery.not_before = now + wait
    delivery.error = error[:200]
    resume = now + wait
    _quick(
        session,
        update(OutageChannelPace)
        .where(OutageChannelPace.channel == channel, OutageChannelPace.next_free_at < resume)
        .values(next_free_at=resume),
    )
    return DeliveryState.QUEUED


def hold(
    session: Session,
    delivery_id: int,
    token: str,
    *,
    now: datetime,
    retry_at: datetime,
    give_up_at: datetime,
    reason: str,
) -> str:
    """The channel cannot reach this one customer now (`NotNow`): held until `retry_at` (at
    the latest `give_up_at`, for a last try), the channel's pace untouched and the attempt not
    counted against `max_attempts`; at or after `give_up_at`, undeliverable with `reason`. The
    state it is left in ("" when the claim was lost meanwhile)."""
    require_aware(now)
    delivery = session.get(OutageDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.claim_token != token:
        return ""
    if now >= give_up_at:
        finish(session, delivery_id, token, DeliveryState.UNDELIVERABLE, now=now, error=reason)
        return DeliveryState.UNDELIVERABLE
    delivery.state = DeliveryState.HELD
    delivery.claim_token = None
    delivery.attempts = max(0, delivery.attempts - 1)
    delivery.not_before = min(retry_at, give_up_at)
    delivery.error = reason[:200]
    return DeliveryState.HELD


def wake_held(session: Session, conversation_id: str, *, now: datetime) -> int:
    """The customer of `conversation_id` wrote: their held deliveries are due now (WeChat's
    window is open again, its count of messages starts afresh). How many. Cheap when there
    are none: a read, no write."""
    require_aware(now)
    mine = and_(
        OutageDelivery.state == DeliveryState.HELD,
        OutageDelivery.conversation_id == conversation_id,
        OutageDelivery.not_before > now,
    )
    if session.scalar(select(OutageDelivery.id).where(mine).limit(1)) is None:
        return 0
    return _quick(session, update(OutageDelivery).where(mine).values(not_before=now))


@dataclass(frozen=True)
class Progress:
    total: int
    by_state: dict[str, int]
    undeliverable: dict[str, int]
    """Why notices were given up as undeliverable: reason → how many."""

    @property
    def waiting(self) -> int:
        return self.by_state.get(DeliveryState.QUEUED, 0) + self.by_state.get(
            DeliveryState.CLAIMED, 0
        )


def progress(session: Session, notice_ids: Sequence[int]) -> dict[int, Progress]:
    """Per notice: its deliveries by state (the console's progress)."""
    if not notice_ids:
        return {}
    stmt = (
        select(OutageDelivery.notice_id, OutageDelivery.state, func.count())
        .where(OutageDelivery.notice_id.in_(notice_ids))
        .group_by(OutageDelivery.notice_id, OutageDelivery.state)
    )
    found: dict[int, dict[str, int]] = {}
    for notice_id, state, count in session.execute(stmt):
        found.setdefault(int(notice_id), {})[str(state)] = int(count)
    why: dict[int, dict[str, int]] = {}
    if any(DeliveryState.UNDELIVERABLE in states for states in found.values()):
        reasons = (
            select(OutageDelivery.notice_id, OutageDelivery.error, func.count())
            .where(
                OutageDelivery.notice_id.in_(notice_ids),
                OutageDelivery.state == DeliveryState.UNDELIVERABLE,
            )
            .group_by(OutageDelivery.notice_id, OutageDelivery.error)
        )
        for notice_id, error, count in session.execute(reasons):
            why.setdefault(int(notice_id), {})[str(error or "")] = int(count)
    return {
        nid: Progress(sum(states.values()), states, why.get(nid, {}))
        for nid, states in found.items()
    }


def waiting(session: Session) -> int:
    """Deliveries not sent yet (health, the bench)."""
    stmt = select(func.count()).where(
        or_(
            OutageDelivery.state == DeliveryState.QUEUED,
            OutageDelivery.state == DeliveryState.CLAIMED,
        )
    )
    return int(session.scalar(stmt) or 0)

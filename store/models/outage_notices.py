"""Outage notices: the areas an outage covers, customers' subscriptions, the notices staff
publish and the persistent queue that delivers them (store/outages/, docs/outages.md).

A notice (`outage_notices`) is one thing said about one outage (published, postponed,
restored, ...), its text written once in both languages. Fanning it out writes one delivery
(`outage_deliveries`) per customer, unique per notice and customer, in one transaction: however
many gateways work the queue and however often they restart, a customer gets each notice once.
`outage_channel_pace` is each channel's next free sending slot, shared by every gateway, so the
channel's rate limit holds for all of them together.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.accounts import ServiceArea
from store.models.base import Base, check_in, values
from store.models.tickets import Outage


class OutageNoticeKind(StrEnum):
    PUBLISHED = "published"
    UPDATED = "updated"
    """Areas, times, reason or advice changed."""
    POSTPONED = "postponed"
    CANCELLED = "cancelled"
    REMINDER = "reminder"
    """The day before a planned or temporary outage."""
    CAUSE_FOUND = "cause_found"
    ETA_CHANGED = "eta_changed"
    RESTORED = "restored"
    SAFETY = "safety"


URGENT_NOTICE_KINDS = frozenset({OutageNoticeKind.RESTORED, OutageNoticeKind.SAFETY})
"""Never held by the quiet hours."""
FINAL_NOTICE_KINDS = frozenset({OutageNoticeKind.RESTORED, OutageNoticeKind.CANCELLED})
"""After one of these, an older notice of the outage still waiting is not sent any more."""


class NoticeState(StrEnum):
    QUEUED = "queued"
    """Written, not fanned out yet (or, for a reminder, not due yet)."""
    FANNED_OUT = "fanned_out"
    """Its deliveries are written."""


class DeliveryState(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    """Taken by a gateway to send now; back to queued when its lease runs out."""
    SENT = "sent"
    STORED = "stored"
    """No push channel (the JSON API): kept in the transcript."""
    FAILED = "failed"
    BLOCKED = "blocked"
    """The customer blocked the bot: their subscriptions ended."""
    SUPERSEDED = "superseded"
    """Not sent: the outage was restored or cancelled before it could go."""
    HELD = "held"
    """The channel cannot reach this customer now (`bot.channels.base.NotNow`, e.g. WeChat's
    48-hour window): tried again at `not_before`, or as soon as the customer writes."""
    UNDELIVERABLE = "undeliverable"
    """Held until conf/outages.yml `delivery.held.give_up_hours` after the notice was written
    and still not deliverable: given up, `error` says why."""


class SubscriptionEnd(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    BLOCKED = "blocked"
    """The channel said the customer blocked the bot (Telegram 403)."""


NOTICE_KINDS = values(OutageNoticeKind)
DELIVERY_STATES = values(DeliveryState)
DELIVERY_DONE = (
    DeliveryState.SENT,
    DeliveryState.STORED,
    DeliveryState.FAILED,
    DeliveryState.BLOCKED,
    DeliveryState.SUPERSEDED,
    DeliveryState.UNDELIVERABLE,
)


class OutageArea(Base):
    """One area an outage covers: a whole village (group None) or one of its groups (组)."""

    __tablename__ = "outage_areas"
    __table_args__ = (Index("ix_outage_areas_area", "area_id", "outage_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"))
    group_no: Mapped[int | None]

    outage: Mapped[Outage] = relationship()
    area: Mapped[ServiceArea] = relationship()


class OutageSubscription(Base):
    """A channel identity (a conversation) asking for its area's outage notices. Seen by
    nobody but the delivery: staff only ever see counts."""

    __tablename__ = "outage_subscriptions"
    __table_args__ = (
        UniqueConstraint("conversation_id", "area_id"),
        CheckConstraint(check_in("end_reason", SubscriptionEnd), name="end_reason"),
        Index("ix_outage_subscriptions_area_ended", "area_id", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255))
    """`<channel>:<chat_id>`: the channel identity told."""
    channel: Mapped[str] = mapped_column(String(32))
    area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"))
    group_no: Mapped[int | None]
    """The customer's group (组) when known: notices of other groups' outages are not sent."""
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    """The verified account whose address was subscribed: one customer on several channels."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(16))

    area: Mapped[ServiceArea] = relationship()


class OutageNotice(Base):
    """One thing said about an outage, in both languages, to the customers of `targets`."""

    __tablename__ = "outage_notices"
    __table_args__ = (
        CheckConstraint(check_in("kind", OutageNoticeKind), name="kind"),
        CheckConstraint(check_in("state", NoticeState), name="state"),
        Index("ix_outage_notices_state", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool]
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    targets: Mapped[list[Any]] = mapped_column(JSON)
    """[[area_id, group_no or null], ...]: whose subscribers are told (an edit also tells the
    areas it removed)."""
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    """Set for notices the service writes by itself (a reminder): written once."""
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    fanned_out_at: Mapped[datetime | None]
    recipients: Mapped[int] = mapped_column(default=0)

    outage: Mapped[Outage] = relationship()


class OutageDelivery(Base):
    """One customer's copy of one notice: the queue's row."""

    __tablename__ = "outage_deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "recipient"),
        CheckConstraint(check_in("state", DeliveryState), name="state"),
        Index("ix_outage_deliveries_due", "state", "channel", "not_before"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("outage_notices.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(80))
    """The customer: `account:<id>`, `phone:<number>` or `chat:<conversation>` (hashed), the
    same for all their channels."""
    conversation_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    subscribed: Mapped[bool]
    """A subscriber (offered the unsubscribe button), not only a reporter of the outage."""
    urgent: Mapped[bool]
    state: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))

    notice: Mapped[OutageNotice] = relationship()


class OutageChannelPace(Base):
    """A channel's next free sending slot, shared by every gateway (the overall rate limit)."""

    __tablename__ = "outage_channel_pace"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_free_at: Mapped[datetime]

"""Tables of the stores (SQLAlchemy 2.0 typed declarative models).

Status and kind values are short codes; what customers read for them is in conf/labels.yml.
Every datetime is an aware UTC instant (`UTCDateTime`); money is Numeric(12, 2).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from store.roles import STAFF_ROLES
from store.sqltypes import UTCDateTime, make_metadata

Money = Numeric(12, 2)


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        Decimal: Money,
        date: Date(),
    }


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ServiceArea(Base):
    __tablename__ = "service_areas"
    __table_args__ = (CheckConstraint(_in("kind", ("urban", "rural", "remote")), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(_in("category", ("residential", "non_residential")), name="category"),
        CheckConstraint(_in("supply_status", ("normal", "disconnected")), name="supply_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_no: Mapped[str] = mapped_column(String(16), unique=True)
    holder_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(16), index=True)
    address: Mapped[str] = mapped_column(Text)
    area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"), index=True)
    category: Mapped[str] = mapped_column(String(16), default="residential")
    household_size: Mapped[int] = mapped_column(Integer, default=3)
    prepaid: Mapped[bool] = mapped_column(default=False)
    balance: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    supply_status: Mapped[str] = mapped_column(String(16), default="normal")
    id_card_on_file: Mapped[bool] = mapped_column(default=False)
    property_proof_on_file: Mapped[bool] = mapped_column(default=False)
    meter_no: Mapped[str] = mapped_column(String(32), unique=True)
    """The meter's barcode, which customers often mistake for the account number."""

    area: Mapped[ServiceArea] = relationship()
    bills: Mapped[list[Bill]] = relationship(
        back_populates="account", order_by="Bill.period", viewonly=True
    )


class Bill(Base):
    __tablename__ = "bills"
    __table_args__ = (Index("ix_bills_account_period", "account_id", "period", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    period: Mapped[str] = mapped_column(String(7))
    """'YYYY-MM'."""
    last_reading: Mapped[int]
    this_reading: Mapped[int]
    multiplier: Mapped[int] = mapped_column(default=1)
    kwh: Mapped[int]
    ytd_kwh_before: Mapped[int]
    """Usage since the start of the tier year, before this period."""
    tier1_kwh: Mapped[int]
    tier2_kwh: Mapped[int]
    tier3_kwh: Mapped[int]
    peak_kwh: Mapped[int | None]
    """None when the account is not on time-of-use pricing."""
    valley_kwh: Mapped[int | None]
    energy_amount: Mapped[Decimal]
    """Tier slices plus the time-of-use adjustment."""
    late_fee: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    adjustment: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    total: Mapped[Decimal]
    estimated_reading: Mapped[bool] = mapped_column(default=False)
    paid: Mapped[bool] = mapped_column(default=False)
    paid_at: Mapped[datetime | None]
    due_date: Mapped[date]

    account: Mapped[Account] = relationship(back_populates="bills")


class Outage(Base):
    __tablename__ = "outages"
    __table_args__ = (
        CheckConstraint(_in("kind", ("planned", "fault")), name="kind"),
        Index("ix_outages_area_starts", "area_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outage_no: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"))
    cause: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    expected_restore_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]
    notice_at: Mapped[datetime | None]
    """When customers were told (planned outages: the commitment is days ahead)."""

    area: Mapped[ServiceArea] = relationship()


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_in("priority", ("urgent", "high", "normal", "low")), name="priority"),
        Index("ix_tickets_area_type_created", "area_id", "type", "created_at"),
        Index("ix_tickets_account_closed", "account_id", "closed_at"),
        Index("ix_tickets_sender_closed", "sender_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(16), unique=True)
    type: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(24))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("service_areas.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    sender_id: Mapped[str | None] = mapped_column(String(255))
    """The conversation that opened it; None for anonymous reports."""
    channel: Mapped[str | None] = mapped_column(String(32))
    contact_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id"), index=True)
    crew: Mapped[str | None] = mapped_column(String(64))
    respond_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    escalated: Mapped[bool] = mapped_column(default=False)

    area: Mapped[ServiceArea | None] = relationship()
    account: Mapped[Account | None] = relationship()
    outage: Mapped[Outage | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket",
        order_by="(TicketEvent.at, TicketEvent.id)",
        cascade="all, delete-orphan",
    )


class TicketEvent(Base):
    """One entry of a ticket's status history (also notes without a status change)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint(_in("voltage", ("low", "high")), name="voltage"),
        Index("ix_applications_account_closed", "account_id", "closed_at"),
        Index("ix_applications_sender_closed", "sender_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_no: Mapped[str] = mapped_column(String(16), unique=True)
    type: Mapped[str] = mapped_column(String(24))
    business_type: Mapped[str | None] = mapped_column(String(32))
    voltage: Mapped[str] = mapped_column(String(8), default="low")
    dual_supply: Mapped[bool] = mapped_column(default=False)
    category: Mapped[str] = mapped_column(String(16), default="residential")
    stage: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    applicant_name: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(Text)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("service_areas.id"))
    sender_id: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(32))
    documents_received: Mapped[list[str]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    area: Mapped[ServiceArea | None] = relationship()
    account: Mapped[Account | None] = relationship()
    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application",
        order_by="(ApplicationEvent.at, ApplicationEvent.id)",
        cascade="all, delete-orphan",
    )


class ApplicationEvent(Base):
    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    stage_due_at: Mapped[datetime | None]

    application: Mapped[Application] = relationship(back_populates="events")


class VerificationAttempt(Base):
    """Every identity check, kept to slow guessing down: failures are counted per conversation,
    per client address, per account number and station-wide (store/services/verification.py)."""

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_attempts_sender_at", "sender_id", "at"),
        Index("ix_verification_attempts_account_at", "account_no", "at"),
        Index("ix_verification_attempts_client_address_at", "client_address", "at"),
        Index("ix_verification_attempts_success_at", "success", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    account_no: Mapped[str] = mapped_column(String(32))
    success: Mapped[bool]
    at: Mapped[datetime]
    client_address: Mapped[str | None] = mapped_column(String(64))
    """The customer's address as the gateway saw it; None when unknown (Telegram, a retry)."""
    throttled: Mapped[bool] = mapped_column(default=False)
    """Refused unchecked while a back-off ran (visible to supervisors; never counted as a
    failure, so hammering during a wait does not lengthen it)."""


VERIFICATION_METHODS = ("account_phone_last4",)
"""How a conversation proved identity: the account number and the registered phone's last 4
digits (the only method so far)."""
VERIFICATION_END_REASONS = ("idle", "new_session", "replaced")
"""Why a verification ended: the customer was silent too long, Rasa started a new session, or
the conversation verified again (perhaps another account)."""
DISCLOSURE_KINDS = ("answer", "data")
"""'answer': the customer's message answered the identity check (account number, digits);
'data': the turn of that message used the verified identity (its replies may show account
data)."""


class VerifiedConversation(Base):
    """Proof that one conversation verified one account. The actions trust this row, never the
    tracker's slots (a forged tracker proves nothing): it is active while not ended, used within
    the configured idle time (`expires_at`) and in the Rasa session it was made in."""

    __tablename__ = "verified_conversations"
    __table_args__ = (
        CheckConstraint(_in("method", VERIFICATION_METHODS), name="method"),
        CheckConstraint(_in("end_reason", VERIFICATION_END_REASONS), name="end_reason"),
        Index("ix_verified_conversations_sender_id_id", "sender_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    """The conversation (Rasa's sender id, `<channel>:<chat_id>`)."""
    account_no: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(32))
    verified_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    """last_used_at + the idle time: the gateway's history replay needs no configuration."""
    rasa_session: Mapped[str] = mapped_column(String(32))
    """The start of the Rasa session it was made in ('' when the tracker did not say)."""
    client_address: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(16))


class IdentityDisclosure(Base):
    """A customer message that answered the identity check or whose turn used the verified
    identity: the web chat's history hides it (or its replies) once that is no longer active."""

    __tablename__ = "identity_disclosures"
    __table_args__ = (
        CheckConstraint(_in("kind", DISCLOSURE_KINDS), name="kind"),
        UniqueConstraint("sender_id", "message_key", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    message_key: Mapped[str] = mapped_column(String(64))
    """The gateway's key of the customer message (`<messages.id>@<timestamp>`, its metadata
    `gateway_message_id` in Rasa)."""
    kind: Mapped[str] = mapped_column(String(8))
    verification_id: Mapped[int | None] = mapped_column(
        ForeignKey("verified_conversations.id", ondelete="CASCADE")
    )
    """'data': the verification whose identity was used; 'answer': None."""
    at: Mapped[datetime]


class HandoffRequest(Base):
    __tablename__ = "handoff_requests"
    __table_args__ = (Index("ix_handoff_requests_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    created_at: Mapped[datetime]


class Rating(Base):
    """A customer's 1-5 satisfaction rating of a conversation (CSAT)."""

    __tablename__ = "ratings"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str | None] = mapped_column(String(32))
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    handoff_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoffs.id", ondelete="SET NULL"), index=True
    )
    """The handoff rated (the survey after an agent resolved or handed back); None for bot-only
    conversations."""
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    """The agent who served the customer (None for bot-only conversations)."""


class NumberSequence(Base):
    """Last number handed out per prefix and day; one row per (prefix, day).

    Incremented with a single upsert inside the caller's transaction, so two concurrent
    creations serialise on the row instead of both reading the same count.
    """

    __tablename__ = "number_sequences"

    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    day: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_value: Mapped[int]


# --- the gateway's transcript and proactive notifications -------------------------------------

MESSAGE_DIRECTIONS = ("in", "out")
MESSAGE_SENDERS = ("customer", "bot", "agent", "system")
MESSAGE_STATUSES = ("received", "processed", "pending", "failed")
"""Inbound: 'received' (stored, being handled), 'processed' (answered), 'pending' (Rasa was
down, or its gateway died mid-turn: answered later by the retry worker), 'failed' (Rasa refused
it). Outbound: 'processed' (handed to the channel) or 'failed' (the channel could not deliver
it); a reply the router sends itself (Telegram, bot/outbox.py) is 'pending' until then and
'received' while being sent."""
NOTIFICATION_SOURCES = ("ticket", "application", "ticket_overdue", "application_overdue")
"""'ticket'/'application': event_id is a TicketEvent/ApplicationEvent id; the '*_overdue'
sources: event_id is the ticket/application id (one overdue notice each)."""
NOTIFICATION_STATUSES = ("claimed", "sent", "stored", "failed", "skipped")


class Conversation(Base):
    """A customer conversation as the gateway sees it, keyed by Rasa's sender id."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(255), unique=True)
    """`<channel>:<chat_id>`, e.g. 'telegram:12345': the Rasa sender id and tickets' sender_id."""
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8))
    """Language of the customer's last message ('zh'/'en'); notifications use it."""
    created_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]


class Message(Base):
    """One message of a transcript, in either direction.

    (conversation_pk, external_id) is unique: a message redelivered by its channel (same
    Telegram update, same API message_id) cannot be stored, hence not processed, twice, even
    by two gateway processes at once. NULL external ids never collide.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_pk", "external_id"),
        CheckConstraint(_in("direction", MESSAGE_DIRECTIONS), name="direction"),
        CheckConstraint(_in("sender", MESSAGE_SENDERS), name="sender"),
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
        Index("ix_messages_conversation_pk_id", "conversation_pk", "id"),
        Index("ix_messages_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_pk: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    """conversations.id (the row), not the `<channel>:<chat_id>` string."""
    direction: Mapped[str] = mapped_column(String(3))
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    image: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    intent: Mapped[str | None] = mapped_column(String(128))
    intent_confidence: Mapped[float | None]
    in_reply_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    """Outbound: the customer message this answers (None for notifications)."""
    created_at: Mapped[datetime]

    conversation: Mapped[Conversation] = relationship()


class NotificationDelivery(Base):
    """The claim on one proactive notification: inserted before sending, unique per event, so
    two notifier passes or two gateway processes never tell the customer twice."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("source", "event_id"),
        CheckConstraint(_in("source", NOTIFICATION_SOURCES), name="source"),
        CheckConstraint(_in("status", NOTIFICATION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(24))
    event_id: Mapped[int]
    conversation_id: Mapped[str] = mapped_column(String(255), index=True)
    """The `<channel>:<chat_id>` string (the ticket's sender_id); the conversation row may not
    exist yet."""
    status: Mapped[str] = mapped_column(String(16))
    claimed_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class NotificationCursor(Base):
    """How far the notifier has read each event table, and where it started.

    `baseline_event_id` is the newest event when the gateway first ran: nothing at or below it
    is ever notified (history the customers already know).
    """

    __tablename__ = "notification_cursors"

    source: Mapped[str] = mapped_column(String(24), primary_key=True)
    baseline_event_id: Mapped[int]
    last_event_id: Mapped[int]
    since: Mapped[datetime]
    """When the cursor was created: only deadlines passing after it raise overdue notices."""


# --- human handoff: staff, their console sessions, handoffs and their history ----------------

STAFF_AVAILABILITY = ("available", "away", "offline")
HANDOFF_STATES = (
    "bot",
    "queued",
    "assigned",
    "resolved",
    "returned_to_bot",
    "abandoned",
    "expired",
)
"""See store/services/handoffs.py for the transitions and docs/state-machines.md for the
diagram. 'bot' only appears as the from_state of a handoff's first event."""
HANDOFF_OPEN_STATES = ("queued", "assigned")
HANDOFF_PRIORITIES = ("urgent", "high", "normal")


class StaffUser(Base):
    """A person at the station who works in the agent console."""

    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint(_in("role", STAFF_ROLES), name="role"),
        CheckConstraint(_in("availability", STAFF_AVAILABILITY), name="availability"),
        CheckConstraint("max_chats >= 0", name="max_chats"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(Text)
    """argon2id (argon2-cffi's PasswordHasher)."""
    role: Mapped[str] = mapped_column(String(16))
    availability: Mapped[str] = mapped_column(String(16), default="offline")
    max_chats: Mapped[int] = mapped_column(Integer, default=3)
    created_at: Mapped[datetime]


class StaffSession(Base):
    """A console login: only the SHA-256 of the session token is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

    user: Mapped[StaffUser] = relationship()


class Handoff(Base):
    """One stay of a conversation with people: from the bot's escalation until an agent
    resolves it or hands it back, or the customer leaves/takes a callback instead."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(_in("state", HANDOFF_STATES), name="state"),
        CheckConstraint(_in("priority", HANDOFF_PRIORITIES), name="priority"),
        Index("ix_handoffs_conversation_pk_state", "conversation_pk", "state"),
        Index("ix_handoffs_state_queued_at", "state", "queued_at"),
        Index("ix_handoffs_agent_id_state", "agent_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_pk: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    """conversations.id (the row), not the `<channel>:<chat_id>` string."""
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    """request_human, fallback, complaint, action_failure, rasa_timeout, safety_hazard, ..."""
    detail: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    queued_at: Mapped[datetime]
    assigned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    callback_ticket_no: Mapped[str | None] = mapped_column(String(16))
    customer_notice: Mapped[str | None] = mapped_column(String(16))
    """The one 'nobody can answer now' notice sent ('no_agent', 'out_of_hours', 'wait_limit'),
    so the customer is told once; None until then."""
    notice_at: Mapped[datetime | None]
    last_customer_at: Mapped[datetime | None]
    """The customer's last message while open (the abandon timer)."""

    conversation: Mapped[Conversation] = relationship()
    agent: Mapped[StaffUser | None] = relationship()
    events: Mapped[list[HandoffEvent]] = relationship(
        back_populates="handoff",
        order_by="(HandoffEvent.at, HandoffEvent.id)",
        cascade="all, delete-orphan",
    )


class HandoffEvent(Base):
    """One state change of a handoff: who (username, 'bot', 'system', 'customer') and why."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    why: Mapped[str | None] = mapped_column(Text)

    handoff: Mapped[Handoff] = relationship(back_populates="events")


class AgentNote(Base):
    """An agent's private note on a handoff (never shown to the customer)."""

    __tablename__ = "agent_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


ACCESS_KINDS = ("transcript", "customer", "inbox_context")
"""What a staff member opened: a conversation's transcript, its customer panel (the verified
account, tickets, applications), or the messages around an NLU inbox item (operators)."""


class AccessAudit(Base):
    """One opening of a customer's data by a staff member (who, what, when, from where), or a
    refused attempt (`allowed` false). Written in the same transaction that reads the data:
    no record, no data. Kept when the staff user or the conversation is deleted."""

    __tablename__ = "access_audit"
    __table_args__ = (
        CheckConstraint(_in("kind", ACCESS_KINDS), name="kind"),
        Index("ix_access_audit_at", "at"),
        Index("ix_access_audit_staff_user_id_at", "staff_user_id", "at"),
        Index("ix_access_audit_conversation_pk_at", "conversation_pk", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    conversation_pk: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    conversation_label: Mapped[str] = mapped_column(String(64))
    """The masked conversation id (never the full `web:<uuid>`)."""
    account_no: Mapped[str | None] = mapped_column(String(32))
    """The verified account the customer panel showed, if any."""
    client_address: Mapped[str] = mapped_column(String(64))
    allowed: Mapped[bool]


class CannedReply(Base):
    """A ready-made answer agents insert in the console."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)


# --- the operators' retraining loop: NLU inbox, model registry, training jobs ----------------

NLU_INBOX_REASONS = ("low_confidence", "fallback", "handoff", "flagged")
"""Why a customer message landed in the inbox: its best intent scored below
conf/nlu.yml inbox.confidence_below, NLU fell back, it preceded a handoff, or an agent flagged
the bot's reply to it as wrong."""
NLU_INBOX_STATUSES = ("open", "labelled", "out_of_scope", "ignored", "new_intent")
NLU_MODEL_STATUSES = ("training", "candidate", "refused", "live", "retired", "failed")
NLU_MODEL_ACTIONS = (
    "train",
    "candidate",
    "refuse",
    "override",
    "deploy",
    "rollback",
    "retire",
    "fail",
    "delete",
    "note",
)
"""nlu_model_events.action: what happened to a registry model (deploy, rollback, refusal by
the regression guard, an operator's override, ...)."""
NLU_JOB_KINDS = ("train", "cross_validation")
NLU_JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
NLU_JOB_ACTIVE_STATUSES = ("queued", "running")
NLU_JOB_ACTIVE_WHERE = _in("status", NLU_JOB_ACTIVE_STATUSES)
"""The partial unique index's predicate: at most one job queued or running."""
NLU_INBOX_OPEN_WHERE = "status = 'open'"
"""The partial unique index's predicate: at most one open inbox item per group_key."""


def _partial_unique(name: str, column: str, where: str) -> Index:
    """A unique index over the rows matching `where` only (SQLite and PostgreSQL)."""
    predicate = sql_text(where)
    return Index(name, column, unique=True, sqlite_where=predicate, postgresql_where=predicate)


class NluModel(Base):
    """One trained model in the registry: who trained it on what, how it scored, its fate."""

    __tablename__ = "nlu_models"
    __table_args__ = (
        CheckConstraint(_in("status", NLU_MODEL_STATUSES), name="status"),
        Index("ix_nlu_models_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255), unique=True)
    """The model file's name in the registry folder (models/registry/<file_name>)."""
    sha256: Mapped[str | None] = mapped_column(String(64))
    """Of the model file; None while training."""
    data_hash: Mapped[str] = mapped_column(String(64))
    """Fingerprint of the training inputs (data/, domain.yml, the config, the dictionary)."""
    config_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="training")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_by_name: Mapped[str] = mapped_column(String(64))
    """The console user's name, or the CLI's actor."""
    created_at: Mapped[datetime]
    train_seconds: Mapped[float | None]
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """{"macro_f1", "accuracy", "per_intent": {intent: {"precision", "recall", "f1",
    "support"}}} on the held-out set."""
    comparison: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The comparison with the live model of its time (the guard's input)."""
    guard_passed: Mapped[bool | None]
    guard_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by_name: Mapped[str | None] = mapped_column(String(64))
    deployed_at: Mapped[datetime | None]
    deployed_by_name: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nlu_models.id", ondelete="SET NULL"))
    """The live model when this one was trained."""
    notes: Mapped[str | None] = mapped_column(Text)


class NluModelEvent(Base):
    """One entry of a registry model's history: deploy, rollback, refusal, override, ..."""

    __tablename__ = "nlu_model_events"
    __table_args__ = (CheckConstraint(_in("action", NLU_MODEL_ACTIONS), name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(
        ForeignKey("nlu_models.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    actor_name: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class NluTrainingJob(Base):
    """A background training (or cross-validation) with its visible progress.

    At most one job is queued or running at a time: the service refuses to start another, and
    a partial unique index on `status` (SQLite and PostgreSQL) stops two concurrent starts
    from both inserting a queued job.
    """

    __tablename__ = "nlu_training_jobs"
    __table_args__ = (
        CheckConstraint(_in("kind", NLU_JOB_KINDS), name="kind"),
        CheckConstraint(_in("status", NLU_JOB_STATUSES), name="status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        _partial_unique("uq_nlu_training_jobs_active", "status", NLU_JOB_ACTIVE_WHERE),
        Index("ix_nlu_training_jobs_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    stage: Mapped[str] = mapped_column(String(64), default="")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    log_tail: Mapped[str] = mapped_column(Text, default="")
    """The last few KB of the job's output."""
    requested_by_name: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[int | None] = mapped_column(ForeignKey("nlu_models.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class NluInboxItem(Base):
    """A group of near-identical customer messages the bot may have misunderstood.

    At most one *open* item per `group_key` (a partial unique index): concurrent captures of
    the same text meet in one item.

    `reasons` is stored as a sorted comma-separated string of NLU_INBOX_REASONS and read as a
    tuple (`reasons`); `label_entities` is a list of {"entity", "value", "start", "end"} with
    offsets into `text`.
    """

    __tablename__ = "nlu_inbox_items"
    __table_args__ = (
        CheckConstraint(_in("status", NLU_INBOX_STATUSES), name="status"),
        CheckConstraint("count >= 0", name="count"),
        Index("ix_nlu_inbox_items_status_last_seen_at", "status", "last_seen_at"),
        Index("ix_nlu_inbox_items_status_count", "status", "count"),
        _partial_unique("uq_nlu_inbox_items_open_group_key", "group_key", NLU_INBOX_OPEN_WHERE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_key: Mapped[str] = mapped_column(String(255), index=True)
    """The normalised text (store.services.nlu_inbox.normalise)."""
    text: Mapped[str] = mapped_column(String(1000))
    """A representative example (the first message of the group, cut to 1000 characters)."""
    count: Mapped[int] = mapped_column(Integer, default=0)
    predicted_intent: Mapped[str | None] = mapped_column(String(128))
    confidence: Mapped[float | None]
    """Of the latest hit."""
    reasons_text: Mapped[str] = mapped_column("reasons", String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    label_intent: Mapped[str | None] = mapped_column(String(128))
    label_entities: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    labelled_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    labelled_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    """The flagging agent's note."""
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    trained_model_id: Mapped[int | None] = mapped_column(
        ForeignKey("nlu_models.id", ondelete="SET NULL")
    )
    """The first registry model trained with this item's label."""

    hits: Mapped[list[NluInboxHit]] = relationship(
        back_populates="item", order_by="NluInboxHit.id", cascade="all, delete-orphan"
    )

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r for r in (self.reasons_text or "").split(",") if r)

    @reasons.setter
    def reasons(self, values: Iterable[str]) -> None:
        self.reasons_text = ",".join(sorted(set(values)))


class NluInboxHit(Base):
    """One customer message counted in an inbox item (a message counts once per item)."""

    __tablename__ = "nlu_inbox_hits"
    __table_args__ = (
        UniqueConstraint("item_id", "message_id"),
        CheckConstraint(_in("reason", NLU_INBOX_REASONS), name="reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("nlu_inbox_items.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[str | None] = mapped_column(String(255))
    """The `<channel>:<chat_id>` string."""
    reason: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float | None]
    predicted_intent: Mapped[str | None] = mapped_column(String(128))
    flagged_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]

    item: Mapped[NluInboxItem] = relationship(back_populates="hits")


class RasaServing(Base):
    """Which Rasa server answers customers, when a standby server is configured
    (RASA_STANDBY_URL): a deployment loads the new model into the server that is not serving,
    then points this row at it, and every gateway process follows the row. One row ('nlu')."""

    __tablename__ = "rasa_serving"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    url: Mapped[str] = mapped_column(String(255))
    model_file: Mapped[str | None] = mapped_column(String(255))
    switched_at: Mapped[datetime]
    switched_by: Mapped[str] = mapped_column(String(64))

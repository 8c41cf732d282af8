"""People at the station: their console accounts and logins, the record of their openings of
customers' data, and the ready-made replies they insert."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import Base, check_in, values
from store.roles import STAFF_ROLES


class StaffAvailability(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class AccessKind(StrEnum):
    """What a staff member opened: a conversation's transcript, its customer panel (the
    verified account, tickets, applications), or the messages around an NLU inbox item
    (operators)."""

    TRANSCRIPT = "transcript"
    CUSTOMER = "customer"
    INBOX_CONTEXT = "inbox_context"
    CUSTOMER_RECORD = "customer_record"
    """A customer's page in the back office (account, bills, contact history); no conversation."""


STAFF_AVAILABILITY = values(StaffAvailability)
ACCESS_KINDS = values(AccessKind)


class Team(Base):
    """A team (班组) at the station: the agents on the chat desk, clerks, or repair crews a
    supervisor leads. Staff users and crews belong to at most one team; a supervisor sees the
    service-quality figures of their own team (store/quality)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class StaffUser(Base):
    """A person at the station who works in the agent console."""

    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint(check_in("role", STAFF_ROLES), name="role"),
        CheckConstraint(check_in("availability", StaffAvailability), name="availability"),
        CheckConstraint("max_chats >= 0", name="max_chats"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(Text)
    """argon2id (argon2-cffi's PasswordHasher)."""
    role: Mapped[str] = mapped_column(String(16))
    availability: Mapped[str] = mapped_column(String(16), default=StaffAvailability.OFFLINE)
    max_chats: Mapped[int] = mapped_column(Integer, default=3)
    created_at: Mapped[datetime]
    crew_id: Mapped[int | None] = mapped_column(ForeignKey("crews.id", ondelete="SET NULL"))
    """The crew (store/models/crews.py) of a `crew` member: the only tickets they see."""
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    """The team (Team) this person works in; a supervisor leads the team they are in."""


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


class AccessAudit(Base):
    """One opening of a customer's data by a staff member (who, what, when, from where), or a
    refused attempt (`allowed` false). Written in the same transaction that reads the data:
    no record, no data. Kept when the staff user or the conversation is deleted."""

    __tablename__ = "access_audit"
    __table_args__ = (
        CheckConstraint(check_in("kind", AccessKind), name="kind"),
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

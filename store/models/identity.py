"""Identity checks: every attempt, the proof a conversation verified an account, and the
messages that disclosed or used that identity."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, check_in, values


class VerificationMethod(StrEnum):
    """How a conversation proved identity: the account number and the registered phone's last
    4 digits (the only method so far)."""

    ACCOUNT_PHONE_LAST4 = "account_phone_last4"


class VerificationEndReason(StrEnum):
    """Why a verification ended: the customer was silent too long, Rasa started a new session,
    or the conversation verified again (perhaps another account)."""

    IDLE = "idle"
    NEW_SESSION = "new_session"
    REPLACED = "replaced"


class DisclosureKind(StrEnum):
    """'answer': the customer's message answered the identity check (account number, digits);
    'data': the turn of that message used the verified identity (its replies may show account
    data)."""

    ANSWER = "answer"
    DATA = "data"


VERIFICATION_METHODS = values(VerificationMethod)
VERIFICATION_END_REASONS = values(VerificationEndReason)
DISCLOSURE_KINDS = values(DisclosureKind)


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


class VerifiedConversation(Base):
    """Proof that one conversation verified one account. The actions trust this row, never the
    tracker's slots (a forged tracker proves nothing): it is active while not ended, used within
    the configured idle time (`expires_at`) and in the Rasa session it was made in."""

    __tablename__ = "verified_conversations"
    __table_args__ = (
        CheckConstraint(check_in("method", VerificationMethod), name="method"),
        CheckConstraint(check_in("end_reason", VerificationEndReason), name="end_reason"),
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
        CheckConstraint(check_in("kind", DisclosureKind), name="kind"),
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

"""Business applications (new connections, capacity changes, ...) and their stage history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.accounts import Account, AccountCategory, ServiceArea
from store.models.base import Base, check_in


class Voltage(StrEnum):
    LOW = "low"
    HIGH = "high"


class ApplicationStage(StrEnum):
    """The stages the code itself relies on. The others (their order, limits and side stages)
    are configuration: conf/applications.yml."""

    RECEIVED = "received"
    """The first stage of every type: the application was just made."""
    CANCELLED = "cancelled"
    """Entered from any unfinished stage; ends the application (withdrawn by the customer)."""
    NEED_MORE_DOCS = "need_more_docs"
    """The side stage of a send-back for missing documents (conf/back_office.yml: its clock)."""
    REJECTED = "rejected"
    """Ends the application: the station turned it down, with a reason (the back office)."""


class ApplicationDecision(StrEnum):
    """The back office's decision on an application (store/services/case_applications.py)."""

    APPROVED = "approved"
    REJECTED = "rejected"


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint(check_in("voltage", Voltage), name="voltage"),
        Index("ix_applications_account_closed", "account_id", "closed_at"),
        Index("ix_applications_sender_closed", "sender_id", "closed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_no: Mapped[str] = mapped_column(String(16), unique=True)
    type: Mapped[str] = mapped_column(String(24))
    business_type: Mapped[str | None] = mapped_column(String(32))
    voltage: Mapped[str] = mapped_column(String(8), default=Voltage.LOW)
    dual_supply: Mapped[bool] = mapped_column(default=False)
    category: Mapped[str] = mapped_column(String(16), default=AccountCategory.RESIDENTIAL)
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
    documents_requested: Mapped[list[str] | None] = mapped_column(JSON)
    """The documents the last send-back asked for (codes of applications.yml)."""
    decision: Mapped[str | None] = mapped_column(String(16))
    """ApplicationDecision, checked by the service; None until decided."""
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]

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

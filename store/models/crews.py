"""Repair crews (抢修班组): who the dispatcher sends, the areas each covers, and the photos crews
take on site.

A crew's members are staff users with the `crew` role and `staff_users.crew_id` set; a ticket's
crew is `tickets.crew_id`. A crew is never deleted while tickets name it: it is made inactive
(no new assignments), so the history keeps its name.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.accounts import ServiceArea
from store.models.base import Base, values


class CallbackResult(StrEnum):
    """The answer of the follow-up call (回访) after a repair."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    UNREACHABLE = "unreachable"
    """Nobody answered: the ticket waits for another try (it is not closed)."""


CALLBACK_RESULTS = values(CallbackResult)

crew_areas = Table(
    "crew_areas",
    Base.metadata,
    Column("crew_id", Integer, ForeignKey("crews.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", Integer, ForeignKey("service_areas.id"), primary_key=True),
)
"""Which service areas a crew covers (a crew may cover several, an area may have several)."""


class Crew(Base):
    __tablename__ = "crews"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    """The team (store/models/staff.py Team) whose supervisor oversees this crew."""

    areas: Mapped[list[ServiceArea]] = relationship(secondary=crew_areas, order_by="ServiceArea.id")


class TicketPhoto(Base):
    """A photo a crew or dispatcher attached to a ticket; the file is under var/ (conf/
    dispatch.yml), named by `stored_name`, never by anything the uploader chose."""

    __tablename__ = "ticket_photos"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="size_bytes"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


__all__ = ["CALLBACK_RESULTS", "CallbackResult", "Crew", "TicketPhoto", "crew_areas"]

"""The counters behind the numbers customers quote (tickets, applications, ...)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base


class NumberSequence(Base):
    """Last number handed out per prefix and day; one row per (prefix, day).

    Incremented with a single upsert inside the caller's transaction, so two concurrent
    creations serialise on the row instead of both reading the same count.
    """

    __tablename__ = "number_sequences"

    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    day: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_value: Mapped[int]

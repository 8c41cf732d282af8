"""The record of imports from the billing system: who loaded which file, when, and what it did
(a station must be able to say where a customer's record came from)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, check_in, values


class ImportKind(StrEnum):
    """What a file holds; the order is the order a station loads them in (areas before the
    accounts that name them, accounts before their meters and bills)."""

    AREAS = "areas"
    ACCOUNTS = "accounts"
    METERS = "meters"
    BILLS = "bills"


IMPORT_KINDS = values(ImportKind)


class ImportRun(Base):
    """One applied import (dry runs and refused files change nothing, so they leave no row)."""

    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint(check_in("kind", ImportKind), name="kind"),
        Index("ix_import_runs_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(64))
    """A console user's username, or `cli:<login>` for the command line."""
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    """Non-zero only when partial acceptance was asked for (the CLI's --accept-partial)."""

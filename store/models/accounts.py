"""Service areas, customer accounts and their monthly bills."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models.base import Base, check_in


class AreaKind(StrEnum):
    URBAN = "urban"
    RURAL = "rural"
    REMOTE = "remote"


class AccountCategory(StrEnum):
    RESIDENTIAL = "residential"
    NON_RESIDENTIAL = "non_residential"


class SupplyStatus(StrEnum):
    NORMAL = "normal"
    DISCONNECTED = "disconnected"


class ServiceArea(Base):
    __tablename__ = "service_areas"
    __table_args__ = (CheckConstraint(check_in("kind", AreaKind), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(check_in("category", AccountCategory), name="category"),
        CheckConstraint(check_in("supply_status", SupplyStatus), name="supply_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_no: Mapped[str] = mapped_column(String(16), unique=True)
    holder_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(16), index=True)
    address: Mapped[str] = mapped_column(Text)
    area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"), index=True)
    category: Mapped[str] = mapped_column(String(16), default=AccountCategory.RESIDENTIAL)
    household_size: Mapped[int] = mapped_column(Integer, default=3)
    prepaid: Mapped[bool] = mapped_column(default=False)
    balance: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    supply_status: Mapped[str] = mapped_column(String(16), default=SupplyStatus.NORMAL)
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

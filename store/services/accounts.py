"""Customer accounts (户号). Lookups normalise what the customer typed first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.ids import normalise_account_no
from store.models import Account


def get_by_no(session: Session, account_no: str) -> Account | None:
    """The account with this number (10 or 13 digits, full-width or spaced is fine)."""
    value = normalise_account_no(account_no or "")
    if value is None:
        return None
    return session.scalars(select(Account).where(Account.account_no == value)).one_or_none()


def get_by_meter_no(session: Session, meter_no: str) -> Account | None:
    """Customers often read the meter barcode as their account number: find it that way too,
    so the assistant can say "that is your meter number" instead of "not found"."""
    value = "".join((meter_no or "").split())
    if not value:
        return None
    return session.scalars(select(Account).where(Account.meter_no == value)).one_or_none()

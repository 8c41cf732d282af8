"""Customer records for the back office: search by account number, name, phone or address, and
one customer's page (account, meter, recent bills, the whole contact history across channels),
so every member of staff sees the same picture.

Opening a customer's page writes an `access_audit` row (kind `customer_record`, the account
number, no conversation) in the same unit of work that reads it: the data is never shown
without its record. Phones are masked in search results; conversations appear as handle and
masked label, never their id. Violation reports are anonymous and never linked to a customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from store.config import Settings
from store.configuration.back_office import BackOffice
from store.conversation_refs import mask
from store.models import (
    AccessAudit,
    AccessKind,
    Account,
    Application,
    Bill,
    Conversation,
    Rating,
    Ticket,
    TicketType,
    VerificationAttempt,
)
from store.services import bills
from store.services.access_audit import ADDRESS_MAX, Opening
from store.services.customer_refs import iso, mask_phone
from store.sla import require_aware

__all__ = ["QUERY_MAX", "Opening", "customer_page", "get_account", "record_opening", "search"]

QUERY_MAX: Final = 64
FEEDBACK: Final = (TicketType.COMPLAINT, TicketType.SUGGESTION, TicketType.PRAISE)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(query: str) -> list[ColumnElement[bool]]:
    """Digits: account number, meter number or phone (whole or its end); anything else: name
    or address."""
    digits = query.replace(" ", "")
    if digits.isdigit():
        found = [Account.account_no.startswith(digits, autoescape=True)]
        found.append(Account.meter_no == digits)
        found.append(Account.phone.endswith(digits, autoescape=True))
        return found
    pattern = _like(query)
    return [
        Account.holder_name.like(pattern, escape="\\"),
        Account.address.like(pattern, escape="\\"),
    ]


def search(session: Session, office: BackOffice, query: str) -> list[dict[str, Any]]:
    """The accounts matching `query` (at most the configured number), phones masked."""
    text = (query or "").strip()[:QUERY_MAX]
    if not text:
        return []
    if text.isdigit() and len(text) < 4:
        raise ValueError("type at least 4 digits of an account number or phone")
    stmt = (
        select(Account)
        .where(or_(*_conditions(text)))
        .order_by(Account.account_no)
        .limit(office.search_limit)
    )
    return [
        {
            "account_no": a.account_no,
            "holder_name": a.holder_name,
            "phone": mask_phone(a.phone),
            "address": a.address,
            "area": a.area.name if a.area else None,
            "supply_status": a.supply_status,
        }
        for a in session.scalars(stmt)
    ]


def get_account(session: Session, account_no: str) -> Account | None:
    value = (account_no or "").strip()
    if not value.isdigit() or len(value) > 16:
        return None
    return session.scalars(select(Account).where(Account.account_no == value)).one_or_none()


def record_opening(session: Session, opening: Opening, account: Account) -> AccessAudit:
    """The access-log row of a customer page (kind customer_record, no conversation)."""
    require_aware(opening.at)
    row = AccessAudit(
        at=opening.at,
        staff_user_id=opening.who.user_id,
        username=opening.who.username,
        role=opening.who.role,
        kind=AccessKind.CUSTOMER_RECORD,
        conversation_pk=None,
        conversation_label="",
        account_no=account.account_no,
        client_address=opening.address[:ADDRESS_MAX],
        allowed=True,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class _Rows:
    tickets: list[Ticket]
    applications: list[Application]
    conversations: list[Conversation]
    ratings: list[Rating]


def _rows(session: Session, account: Account, limit: int) -> _Rows:
    ticket_rows = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.account_id == account.id, Ticket.type != TicketType.VIOLATION)
            .order_by(Ticket.created_at.desc())
            .limit(limit)
        )
    )
    app_rows = list(
        session.scalars(
            select(Application)
            .where(Application.account_id == account.id)
            .order_by(Application.created_at.desc())
            .limit(limit)
        )
    )
    verified = select(VerificationAttempt.sender_id).where(
        VerificationAttempt.account_no == account.account_no,
        VerificationAttempt.success.is_(True),
    )
    senders = {s for s in session.scalars(verified)}
    senders |= {t.sender_id for t in ticket_rows if t.sender_id}
    senders |= {a.sender_id for a in app_rows if a.sender_id}
    conversations = list(
        session.scalars(
            select(Conversation)
            .where(Conversation.conversation_id.in_(sorted(senders)))
            .order_by(Conversation.last_activity_at.desc())
            .limit(limit)
        )
    )
    ratings = list(
        session.scalars(
            select(Rating)
            .where(Rating.sender_id.in_(sorted(senders)))
            .order_by(Rating.created_at.desc())
            .limit(limit)
        )
    )
    return _Rows(ticket_rows, app_rows, conversations, ratings)


def _history(settings: Settings, rows: _Rows, limit: int) -> list[dict[str, Any]]:
    """Every contact, newest first: conversations, tickets, applications, feedback, ratings."""
    labels = settings.labels
    entries: list[dict[str, Any]] = []
    for c in rows.conversations:
        entries.append(
            {"kind": "conversation", "at": iso(c.last_activity_at), "ref": str(c.id),
             "title": mask(c.conversation_id), "channel": c.channel,
             "status": f"首次 {iso(c.created_at)}"}
        )  # fmt: skip
    for t in rows.tickets:
        entries.append(
            {"kind": "complaint" if t.type in FEEDBACK else "ticket", "at": iso(t.created_at),
             "ref": t.ticket_no, "title": labels.ticket_type(t.type).zh, "channel": t.channel,
             "status": labels.ticket_status(t.status).zh}
        )  # fmt: skip
    for a in rows.applications:
        entries.append(
            {"kind": "application", "at": iso(a.created_at), "ref": a.application_no,
             "title": settings.applications.types[a.type].name_zh, "channel": a.channel,
             "status": labels.application_stage(a.stage).zh}
        )  # fmt: skip
    for r in rows.ratings:
        entries.append(
            {"kind": "rating", "at": iso(r.created_at), "ref": str(r.id),
             "title": f"评价 {r.rating} 星", "channel": r.channel, "status": r.comment or ""}
        )  # fmt: skip
    entries.sort(key=lambda e: e["at"] or "", reverse=True)
    return entries[:limit]


def _bill(bill: Bill) -> dict[str, Any]:
    return {
        "period": bill.period,
        "kwh": bill.kwh,
        "total": str(bill.total),
        "paid": bill.paid,
        "due_date": bill.due_date.isoformat(),
        "estimated": bill.estimated_reading,
    }


def customer_page(
    session: Session,
    settings: Settings,
    office: BackOffice,
    account: Account,
    opening: Opening,
) -> dict[str, Any]:
    """One customer's whole picture; the opening is recorded in the same transaction."""
    record_opening(session, opening, account)
    rows = _rows(session, account, office.history_limit)
    return {
        "account": {
            "account_no": account.account_no,
            "holder_name": account.holder_name,
            "phone": account.phone,
            "address": account.address,
            "area": account.area.name if account.area else None,
            "category": account.category,
            "household_size": account.household_size,
            "prepaid": account.prepaid,
            "balance": str(account.balance),
            "supply_status": account.supply_status,
            "id_card_on_file": account.id_card_on_file,
            "property_proof_on_file": account.property_proof_on_file,
        },
        "meters": [{"meter_no": account.meter_no}],
        "bills": [_bill(b) for b in bills.recent(session, account.id, office.recent_bills)],
        "history": _history(settings, rows, office.history_limit),
        "counts": {
            "conversations": len(rows.conversations),
            "tickets": sum(t.type not in FEEDBACK for t in rows.tickets),
            "complaints": sum(t.type == TicketType.COMPLAINT for t in rows.tickets),
            "applications": len(rows.applications),
            "ratings": len(rows.ratings),
        },
    }

"""The record of staff opening customers' data (`access_audit`): who, what, when, from where.

The console writes a row in the same unit of work that reads the transcript, the customer
panel or an NLU inbox item's conversation context (operators), so data is never shown without
its record; a refused attempt (another agent's chat) is recorded too, with `allowed` false.
Supervisors and managers list it (store/roles.py READS_ACCESS_LOG). Rows keep the username and
the masked conversation id, so they outlive the staff user and the conversation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.conversation_refs import mask
from store.models import ACCESS_KINDS, AccessAudit, Conversation
from store.services.console_sessions import StaffIdentity
from store.sla import require_aware

__all__ = [
    "ACCESS_KINDS",
    "LIST_MAX",
    "Opening",
    "as_json",
    "recent",
    "record",
    "record_conversations",
]

LIST_MAX: Final = 200
ADDRESS_MAX: Final = 64


@dataclass(frozen=True, slots=True)
class Opening:
    """One request for a customer's data, as the console saw it."""

    who: StaffIdentity
    kind: str
    address: str
    at: datetime


def record(
    session: Session,
    opening: Opening,
    conversation: Conversation,
    *,
    allowed: bool,
    account_no: str | None = None,
) -> AccessAudit:
    """Add the row (flushed, in the caller's transaction)."""
    require_aware(opening.at)
    if opening.kind not in ACCESS_KINDS:
        raise ValueError(f"unknown access kind {opening.kind!r}")
    row = AccessAudit(
        at=opening.at,
        staff_user_id=opening.who.user_id,
        username=opening.who.username,
        role=opening.who.role,
        kind=opening.kind,
        conversation_pk=conversation.id,
        conversation_label=mask(conversation.conversation_id),
        account_no=account_no,
        client_address=opening.address[:ADDRESS_MAX],
        allowed=allowed,
    )
    session.add(row)
    session.flush()
    return row


def record_conversations(
    session: Session, opening: Opening, conversation_ids: Iterable[str | None]
) -> None:
    """One allowed opening per distinct conversation shown (by id; unknown ones are skipped:
    their messages are gone, so nothing of them was shown)."""
    wanted = sorted({cid for cid in conversation_ids if cid})
    if not wanted:
        return
    query = select(Conversation).where(Conversation.conversation_id.in_(wanted))
    for conversation in session.scalars(query.order_by(Conversation.id)):
        record(session, opening, conversation, allowed=True)


def recent(
    session: Session,
    *,
    limit: int = 50,
    before_id: int | None = None,
    username: str | None = None,
    conversation_pk: int | None = None,
) -> list[AccessAudit]:
    """Newest first; `before_id` pages on (the last id of the previous page)."""
    stmt = select(AccessAudit).order_by(AccessAudit.id.desc()).limit(min(limit, LIST_MAX))
    if before_id is not None:
        stmt = stmt.where(AccessAudit.id < before_id)
    if username is not None:
        stmt = stmt.where(AccessAudit.username == username)
    if conversation_pk is not None:
        stmt = stmt.where(AccessAudit.conversation_pk == conversation_pk)
    return list(session.scalars(stmt))


def as_json(row: AccessAudit) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "staff_user_id": row.staff_user_id,
        "username": row.username,
        "role": row.role,
        "kind": row.kind,
        "conversation": row.conversation_pk,
        "conversation_label": row.conversation_label,
        "account_no": row.account_no,
        "client_address": row.client_address,
        "allowed": row.allowed,
    }

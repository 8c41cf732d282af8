"""Read-only views the agent console needs, as plain dicts ready for JSON.

Kept apart from store/services/handoffs.py (the state machine): these only read, and shape
rows for the console's panels (queue, transcript with intents, customer, supervisor).
Conversations appear as `conversation` (the handle the routes take: the database id) and
`conversation_label` (the masked id, store/conversation_refs.py), never as the id itself.
Who may see which conversation is store/services/console_access.py's business.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store.conversation_refs import mask
from store.models import (
    Account,
    AgentNote,
    Application,
    CannedReply,
    Conversation,
    Handoff,
    HandoffState,
    Message,
    MessageDirection,
    StaffAvailability,
    StaffUser,
    Ticket,
    VerificationAttempt,
)
from store.roles import WORKS_CHATS
from store.services import handoffs

TRANSCRIPT_LIMIT = 500
HISTORY_LIMIT = 20


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def conversation_ref(conversation: Conversation) -> dict[str, Any]:
    """How staff-facing JSON names a conversation: its handle and its masked id."""
    return {
        "conversation": conversation.id,
        "conversation_label": mask(conversation.conversation_id),
        "channel": conversation.channel,
    }


def handoff_json(session: Session, handoff: Handoff, now: datetime) -> dict[str, Any]:
    conversation = session.get(Conversation, handoff.conversation_pk)
    agent = session.get(StaffUser, handoff.agent_id) if handoff.agent_id else None
    last_text = session.scalars(
        select(Message.text)
        .where(
            Message.conversation_pk == handoff.conversation_pk,
            Message.direction == MessageDirection.IN,
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    return {
        "id": handoff.id,
        **_ref_or_none(conversation),
        "state": handoff.state,
        "reason": handoff.reason,
        "detail": handoff.detail,
        "priority": handoff.priority,
        "queued_at": _iso(handoff.queued_at),
        "assigned_at": _iso(handoff.assigned_at),
        "closed_at": _iso(handoff.closed_at),
        "waiting_seconds": max(0, int((now - handoff.queued_at).total_seconds())),
        "agent": (
            {"id": agent.id, "username": agent.username, "display_name": agent.display_name}
            if agent
            else None
        ),
        "last_customer_text": last_text,
    }


def _ref_or_none(conversation: Conversation | None) -> dict[str, Any]:
    if conversation is None:
        return {"conversation": None, "conversation_label": None, "channel": None}
    return conversation_ref(conversation)


def queue_view(session: Session, now: datetime) -> list[dict[str, Any]]:
    """The queue, longest waiting first (urgent ones ahead: handoffs.queue's order)."""
    return [handoff_json(session, h, now) for h in handoffs.queue(session)]


def my_chats(session: Session, agent_id: int, now: datetime) -> list[dict[str, Any]]:
    return [handoff_json(session, h, now) for h in handoffs.assigned_to(session, agent_id)]


def assigned_count(session: Session, agent_id: int) -> int:
    return int(
        session.scalar(
            select(func.count(Handoff.id)).where(
                Handoff.state == HandoffState.ASSIGNED, Handoff.agent_id == agent_id
            )
        )
        or 0
    )


def transcript_view(session: Session, conversation: Conversation) -> dict[str, Any]:
    """The whole conversation (the bot's part too), with NLU's intent and confidence on each
    customer message, plus the open handoff and its private notes."""
    rows = list(
        session.scalars(
            select(Message)
            .where(Message.conversation_pk == conversation.id)
            .order_by(Message.id.desc())
            .limit(TRANSCRIPT_LIMIT)
        )
    )
    rows.reverse()
    open_handoff = handoffs.open_for(session, conversation.id)
    notes: list[dict[str, Any]] = []
    if open_handoff is not None:
        for note in handoffs.notes(session, open_handoff.id):
            author = session.get(StaffUser, note.agent_id) if note.agent_id else None
            notes.append(_note_json(note, author))
    return {
        **conversation_ref(conversation),
        "language": conversation.language,
        "handoff_id": open_handoff.id if open_handoff else None,
        "agent_id": open_handoff.agent_id if open_handoff else None,
        "messages": [
            {
                "id": m.id,
                "direction": m.direction,
                "sender": m.sender,
                "text": m.text,
                "buttons": [str(b.get("title", "")) for b in m.buttons],
                "at": _iso(m.created_at),
                "intent": m.intent,
                "confidence": m.intent_confidence,
                "status": m.status,
            }
            for m in rows
        ],
        "notes": notes,
    }


def _note_json(note: AgentNote, author: StaffUser | None) -> dict[str, Any]:
    return {
        "id": note.id,
        "text": note.text,
        "at": _iso(note.at),
        "author": author.display_name if author else None,
    }


def note_json(session: Session, note: AgentNote) -> dict[str, Any]:
    author = session.get(StaffUser, note.agent_id) if note.agent_id else None
    return _note_json(note, author)


def verified_account(session: Session, sender_id: str) -> Account | None:
    """The account this conversation last verified (户号 + phone digits), if any."""
    account_no = session.scalars(
        select(VerificationAttempt.account_no)
        .where(VerificationAttempt.sender_id == sender_id, VerificationAttempt.success.is_(True))
        .order_by(VerificationAttempt.at.desc(), VerificationAttempt.id.desc())
        .limit(1)
    ).first()
    if account_no is None:
        return None
    return session.scalars(select(Account).where(Account.account_no == account_no)).one_or_none()


def customer_view(session: Session, conversation: Conversation) -> dict[str, Any]:
    """The customer panel: verified account, tickets and applications of this conversation
    (or of its verified account), earlier handoffs and the account's other conversations."""
    conversation_id = conversation.conversation_id
    account = verified_account(session, conversation_id)
    ticket_filter = [Ticket.sender_id == conversation_id]
    application_filter = [Application.sender_id == conversation_id]
    if account is not None:
        ticket_filter.append(Ticket.account_id == account.id)
        application_filter.append(Application.account_id == account.id)
    tickets = session.scalars(
        select(Ticket).where(or_(*ticket_filter)).order_by(Ticket.created_at.desc()).limit(20)
    )
    applications = session.scalars(
        select(Application)
        .where(or_(*application_filter))
        .order_by(Application.created_at.desc())
        .limit(20)
    )
    earlier = session.scalars(
        select(Handoff)
        .where(
            Handoff.conversation_pk == conversation.id,
            Handoff.state.in_(handoffs.CLOSED_STATES),
        )
        .order_by(Handoff.id.desc())
        .limit(HISTORY_LIMIT)
    )
    others: list[dict[str, Any]] = []
    if account is not None:
        senders = select(VerificationAttempt.sender_id).where(
            VerificationAttempt.account_no == account.account_no,
            VerificationAttempt.success.is_(True),
            VerificationAttempt.sender_id != conversation_id,
        )
        for other in session.scalars(
            select(Conversation)
            .where(Conversation.conversation_id.in_(senders))
            .order_by(Conversation.last_activity_at.desc())
            .limit(HISTORY_LIMIT)
        ):
            others.append(
                {**conversation_ref(other), "last_activity_at": _iso(other.last_activity_at)}
            )
    return {
        **conversation_ref(conversation),
        "language": conversation.language,
        "first_seen_at": _iso(conversation.created_at),
        "last_activity_at": _iso(conversation.last_activity_at),
        "account": (
            {
                "account_no": account.account_no,
                "holder_name": account.holder_name,
                "phone": account.phone,
                "address": account.address,
                "area": account.area.name if account.area else None,
                "supply_status": account.supply_status,
                "prepaid": account.prepaid,
                "balance": str(account.balance),
            }
            if account is not None
            else None
        ),
        "tickets": [
            {
                "ticket_no": t.ticket_no,
                "type": t.type,
                "status": t.status,
                "priority": t.priority,
                "created_at": _iso(t.created_at),
                "closed_at": _iso(t.closed_at),
            }
            for t in tickets
        ],
        "applications": [
            {
                "application_no": a.application_no,
                "type": a.type,
                "stage": a.stage,
                "created_at": _iso(a.created_at),
                "closed_at": _iso(a.closed_at),
            }
            for a in applications
        ],
        "earlier_handoffs": [
            {
                "id": h.id,
                "reason": h.reason,
                "state": h.state,
                "queued_at": _iso(h.queued_at),
                "closed_at": _iso(h.closed_at),
            }
            for h in earlier
        ],
        "other_conversations": others,
    }


def canned_replies(session: Session) -> list[dict[str, Any]]:
    return [
        {"id": c.id, "title": c.title, "text_zh": c.text_zh, "text_en": c.text_en}
        for c in session.scalars(select(CannedReply).order_by(CannedReply.id))
    ]


def staff_list(session: Session) -> list[dict[str, Any]]:
    """Everyone who can take a chat (transfer targets), with their load."""
    return [
        {
            "id": load.agent_id,
            "username": load.username,
            "display_name": _display_name(session, load.agent_id),
            "availability": load.availability,
            "assigned": load.assigned,
            "max_chats": load.max_chats,
        }
        for load in handoffs.agent_load(session)
        if _role(session, load.agent_id) in WORKS_CHATS
    ]


def _display_name(session: Session, user_id: int) -> str:
    user = session.get(StaffUser, user_id)
    return user.display_name if user else ""


def _role(session: Session, user_id: int) -> str:
    user = session.get(StaffUser, user_id)
    return user.role if user else ""


OVERVIEW_QUEUE_KEYS = (
    "id",
    "conversation",
    "conversation_label",
    "channel",
    "state",
    "reason",
    "priority",
    "queued_at",
    "waiting_seconds",
)
"""What the overview shows of a queued chat: no customer's words (operators see it too)."""


def overview(session: Session, now: datetime) -> dict[str, Any]:
    """The supervisor's numbers: queue length, longest wait, agents online and their load."""
    queue = handoffs.queue(session)
    longest = max((int((now - h.queued_at).total_seconds()) for h in queue), default=0)
    agents = staff_list(session)
    return {
        "queue_length": len(queue),
        "longest_wait_seconds": max(0, longest),
        "assigned_chats": sum(a["assigned"] for a in agents),
        "agents_online": sum(1 for a in agents if a["availability"] != StaffAvailability.OFFLINE),
        "agents": agents,
        "queue": [
            {key: entry[key] for key in OVERVIEW_QUEUE_KEYS}
            for entry in (handoff_json(session, h, now) for h in queue)
        ],
    }

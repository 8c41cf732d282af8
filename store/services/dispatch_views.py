"""Repair work orders as the back office's pages and API show them (plain JSON values).

Times are ISO 8601 in the station's time zone. A ticket's conversation is named only by its
console handle and masked label (store/conversation_refs.py), and only to those who may open
it in the agent console (store/services/console_access.py); the others see its channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store import conversation_refs
from store.config import Label, Settings
from store.configuration.dispatch import DispatchConfig
from store.models import Conversation, Crew, Outage, ServiceArea, Ticket
from store.services import ticket_photos
from store.services.dispatch import (
    CALLBACK_FROM,
    REASSIGNABLE,
    Actor,
    allowed_steps,
)
from store.workflow import allowed_next

__all__ = ["crew_json", "label_json", "merge_candidates", "ticket_detail", "ticket_row"]

Json = dict[str, Any]


def label_json(label: Label | None) -> Json | None:
    return {"zh": label.zh, "en": label.en} if label is not None else None


def _time(value: datetime | None, settings: Settings) -> str | None:
    return value.astimezone(settings.tz).isoformat(timespec="minutes") if value else None


def crew_json(crew: Crew | None) -> Json | None:
    return {"id": crew.id, "name": crew.name, "phone": crew.phone} if crew is not None else None


def _area(area: ServiceArea | None) -> Json | None:
    return {"id": area.id, "name": area.name, "kind": area.kind} if area is not None else None


def ticket_row(
    ticket: Ticket,
    deadline: datetime | None,
    settings: Settings,
    *,
    now: datetime,
    due_soon: timedelta,
) -> Json:
    """One line of the list: what a dispatcher scans (no customer's words, no phone)."""
    labels = settings.labels
    return {
        "ticket_no": ticket.ticket_no,
        "type": ticket.type,
        "type_label": label_json(labels.ticket_type(ticket.type)),
        "status": ticket.status,
        "status_label": label_json(labels.ticket_status(ticket.status)),
        "priority": ticket.priority,
        "area": _area(ticket.area),
        "address": ticket.address,
        "crew": crew_json(ticket.crew),
        "created_at": _time(ticket.created_at, settings),
        "deadline": _time(deadline, settings),
        "overdue": deadline is not None and deadline < now,
        "due_soon": deadline is not None and now <= deadline < now + due_soon,
        "merged": ticket.outage_id is not None,
        "finished": ticket.closed_at is not None,
    }


def _timeline(ticket: Ticket, settings: Settings) -> list[Json]:
    labels = settings.labels
    return [
        {
            "status": e.status,
            "label": label_json(labels.ticket_status(e.status)),
            "at": _time(e.at, settings),
            "actor": e.actor,
            "note": e.note,
        }
        for e in ticket.events
    ]


def _conversation(session: Session, ticket: Ticket, may_open: bool) -> Json | None:
    if not ticket.sender_id:
        return None
    row = session.scalars(
        select(Conversation).where(Conversation.conversation_id == ticket.sender_id)
    ).one_or_none()
    if row is None or not may_open:
        return {"channel": ticket.channel}
    return {
        "channel": row.channel,
        "handle": row.id,
        "label": conversation_refs.mask(row.conversation_id),
    }


def merge_candidates(session: Session, ticket: Ticket, now: datetime) -> list[Outage]:
    """Known outages a ticket may be merged into: started and not restored, its area first."""
    stmt = (
        select(Outage)
        .where(Outage.restored_at.is_(None), Outage.starts_at <= now)
        .order_by(Outage.starts_at.desc(), Outage.id)
    )
    found = list(session.scalars(stmt))
    return sorted(found, key=lambda o: o.area_id != ticket.area_id)


def _outages(outages: Iterable[Outage], settings: Settings) -> list[Json]:
    return [
        {
            "outage_no": o.outage_no,
            "kind": o.kind,
            "area": o.area.name,
            "cause": o.cause,
            "expected_restore_at": _time(o.expected_restore_at, settings),
        }
        for o in outages
    ]


def _actions(
    session: Session, ticket: Ticket, actor: Actor, now: datetime, settings: Settings
) -> Json:
    steps = allowed_steps(ticket, actor)
    if not actor.dispatches:
        return {"steps": list(steps)}
    can_merge = "merged" in allowed_next(ticket.type, ticket.status)
    return {
        "steps": list(steps),
        "assign": ticket.status in REASSIGNABLE,
        "merge": can_merge,
        "merge_into": _outages(merge_candidates(session, ticket, now), settings)
        if can_merge
        else [],
        "split": ticket.status == "merged" and ticket.outage_id is not None,
        "callback": ticket.status in CALLBACK_FROM,
    }


def ticket_detail(
    session: Session,
    settings: Settings,
    config: DispatchConfig,
    ticket: Ticket,
    deadline: datetime | None,
    *,
    actor: Actor,
    may_open_conversation: bool,
    now: datetime,
) -> Json:
    """The ticket page: the row, the customer's words and contact, the place, the history,
    the photos and what this actor may do now."""
    labels = settings.labels
    account = ticket.account
    photos = ticket_photos.photos_of(session, ticket.id)
    return {
        **ticket_row(ticket, deadline, settings, now=now, due_soon=config.due_soon),
        "description": ticket.description,
        "contact_phone": ticket.contact_phone,
        "account": {"account_no": account.account_no, "holder_name": account.holder_name}
        if account is not None
        else None,
        "outage": _outages([ticket.outage], settings)[0] if ticket.outage else None,
        "next_step": label_json(labels.ticket_next_step(ticket.type, ticket.status)),
        "respond_due_at": _time(ticket.respond_due_at, settings),
        "resolve_due_at": _time(ticket.resolve_due_at, settings),
        "callback_result": ticket.callback_result,
        "callback_label": label_json(config.callback_results.get(ticket.callback_result or "")),
        "timeline": _timeline(ticket, settings),
        "photos": [
            {
                "id": p.id,
                "content_type": p.content_type,
                "size_bytes": p.size_bytes,
                "uploaded_by": p.uploaded_by,
                "at": _time(p.at, settings),
                "url": f"/api/v1/tickets/{ticket.ticket_no}/photos/{p.id}",
            }
            for p in photos
        ],
        "conversation": _conversation(session, ticket, may_open_conversation),
        "actions": _actions(session, ticket, actor, now, settings),
    }

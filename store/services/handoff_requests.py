"""The action server's requests to talk to a person (handoff_requests), with the conversation so
far for the agent to read.

The assistant's `action_handoff` records a request ('waiting'); the gateway looks for one after
every turn (`newest_waiting`) and, when it queues the conversation for a person
(store/services/handoffs.py, the handoff state machine), marks it 'queued' (`mark_queued`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from store.models import HandoffRequest, HandoffRequestStatus
from store.sla import require_aware

__all__ = ["mark_queued", "newest_waiting", "record_request", "waiting"]


def record_request(
    session: Session,
    *,
    sender_id: str,
    channel: str | None,
    reason: str,
    transcript: list[dict[str, Any]],
    now: datetime,
) -> HandoffRequest:
    """Queue a handoff request (status 'waiting'); its id is the customer's queue reference."""
    require_aware(now)
    request = HandoffRequest(
        sender_id=sender_id,
        channel=channel,
        reason=reason,
        transcript=list(transcript),
        status=HandoffRequestStatus.WAITING,
        created_at=now,
    )
    session.add(request)
    session.flush()
    return request


def waiting(session: Session) -> list[HandoffRequest]:
    """Requests not yet taken by an agent, oldest first (the queue)."""
    stmt = (
        select(HandoffRequest)
        .where(HandoffRequest.status == HandoffRequestStatus.WAITING)
        .order_by(HandoffRequest.created_at, HandoffRequest.id)
    )
    return list(session.scalars(stmt))


def newest_waiting(session: Session, sender_id: str) -> tuple[int, str] | None:
    """(id, reason) of the conversation's newest 'waiting' request, or None. The gateway asks
    after every turn: a Core read of a statement built once."""
    row = session.connection().execute(_NEWEST_WAITING, {"sender": sender_id}).first()
    return (int(row.id), str(row.reason)) if row is not None else None


def mark_queued(session: Session, request_id: int) -> None:
    """The gateway queued the conversation for a person: the request is taken."""
    session.connection().execute(_QUEUED, {"request": request_id})


_REQUESTS = cast(Table, HandoffRequest.__table__)
_NEWEST_WAITING = (
    select(_REQUESTS.c.id, _REQUESTS.c.reason)
    .where(
        _REQUESTS.c.sender_id == bindparam("sender"),
        _REQUESTS.c.status == HandoffRequestStatus.WAITING,
    )
    .order_by(_REQUESTS.c.id.desc())
    .limit(1)
)
_QUEUED = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("request"))
    .values(status=HandoffRequestStatus.QUEUED)
)

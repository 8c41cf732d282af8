"""Requests to talk to a person, with the conversation so far for the agent to read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import HandoffRequest
from store.sla import require_aware


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
        status="waiting",
        created_at=now,
    )
    session.add(request)
    session.flush()
    return request


def waiting(session: Session) -> list[HandoffRequest]:
    """Requests not yet taken by an agent, oldest first (the queue)."""
    stmt = (
        select(HandoffRequest)
        .where(HandoffRequest.status == "waiting")
        .order_by(HandoffRequest.created_at, HandoffRequest.id)
    )
    return list(session.scalars(stmt))

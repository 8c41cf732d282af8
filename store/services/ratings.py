"""Satisfaction ratings (1-5) customers give at the end of a conversation (CSAT)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from store.models import Rating
from store.sla import require_aware


def record(
    session: Session,
    *,
    sender_id: str,
    channel: str | None,
    rating: int,
    comment: str | None,
    now: datetime,
) -> Rating:
    require_aware(now)
    if not 1 <= rating <= 5:
        raise ValueError(f"rating must be 1-5, got {rating}")
    row = Rating(
        sender_id=sender_id, channel=channel, rating=rating, comment=comment, created_at=now
    )
    session.add(row)
    session.flush()
    return row

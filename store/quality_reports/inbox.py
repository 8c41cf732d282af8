"""The customers' words the bot failed to understand in a period: the NLU inbox's items ranked
by how many of their messages came in that period (each message counts once, nlu_inbox_hits),
their text masked like a log line, since a report is kept and passed around for years."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.logmask import mask_log_text
from store.models import NluInboxHit, NluInboxItem
from store.quality import Period
from store.quality_reports.content import InboxItem


def top_not_understood(session: Session, period: Period, limit: int) -> list[InboxItem]:
    """The `limit` items with the most messages in `period`, most first (ties: oldest item)."""
    start, end = period.bounds()
    hits = func.count(NluInboxHit.id).label("hits")
    rows = session.execute(
        select(NluInboxItem.text, NluInboxItem.predicted_intent, NluInboxItem.status, hits)
        .join(NluInboxItem, NluInboxItem.id == NluInboxHit.item_id)
        .where(NluInboxHit.created_at >= start, NluInboxHit.created_at < end)
        .group_by(
            NluInboxItem.id,
            NluInboxItem.text,
            NluInboxItem.predicted_intent,
            NluInboxItem.status,
        )
        .order_by(hits.desc(), NluInboxItem.id)
        .limit(limit)
    ).all()
    return [
        InboxItem(text=mask_log_text(text), hits=int(count), intent=intent, status=status)
        for text, intent, status, count in rows
    ]

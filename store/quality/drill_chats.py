"""The conversations behind each conversation figure: conversation-days, handoffs, ratings and
NLU inbox hits, with the same populations as store/quality/conversations.py. `ref` is the
conversation's id (`<channel>:<chat>`), what the console opens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, literal, null, or_, select

from store.models import Conversation, NluInboxHit, Rating
from store.quality.context import Context
from store.quality.conversations import D, H
from store.quality.drill import Listing, ok_column
from store.quality.figures import Col
from store.quality.names import Names
from store.quality.types import Filters, Period

CONVERSATION_ID: tuple[type[Any], Col, Col] = (
    Conversation, Conversation.conversation_id, Conversation.id,
)  # fmt: skip
"""What `ref` shows of the conversation-days and handoffs: the conversation's id."""
_DAY_KEYS = {
    "conversations.count": ("messages", None),
    "conversations.containment_rate": ("messages", "contained"),
    "conversations.handoff_rate": ("messages", "contained"),
    "conversations.fallback_rate": ("fallbacks", "understood"),
    "conversations.busy_replies": ("busy", None),
}
_HANDOFF_KEYS = {
    "conversations.queue_wait_p50": H.wait_minutes,
    "conversations.queue_wait_p90": H.wait_minutes,
    "conversations.first_response_p50": H.first_response_minutes,
    "conversations.resolution_p50": H.resolution_minutes,
}


def _days(names: Names, key: str, period: Period, filters: Filters) -> Listing:
    value_name, ok_name = _DAY_KEYS[key]
    values: dict[str, Col] = {
        "messages": D.customer_messages,
        "fallbacks": D.fallback_messages,
        "busy": D.busy_replies,
    }
    oks: dict[str, ColumnElement[bool]] = {
        "contained": D.handoffs == 0,
        "understood": D.fallback_messages == 0,
    }
    population = D.busy_replies > 0 if value_name == "busy" else D.customer_messages > 0
    ok = oks[ok_name] if ok_name else None
    stmt = select(
        D.conversation_pk, D.first_at, values[value_name], ok_column(ok), D.channel, D.day,
        D.handoffs,
    ).where(D.day >= period.start, D.day < period.end, population)  # fmt: skip
    if filters.channel is not None:
        stmt = stmt.where(D.channel == filters.channel)

    def detail(row: Any) -> dict[str, str]:
        return {"channel": names.channel(row[4])[0], "day": str(row[5]),
                "handoffs": str(row[6])}  # fmt: skip

    return Listing("conversation", stmt, detail, ok is not None, ref=CONVERSATION_ID)


def _handoff_judgement(
    ctx: Context, key: str
) -> tuple[ColumnElement[bool], Col | None, ColumnElement[bool] | None]:
    assigned = H.assigned_at.is_not(None)
    if key in _HANDOFF_KEYS:
        column = _HANDOFF_KEYS[key]
        target = ctx.conf.spec(key).target
        ok = column <= target if target is not None else None
        return column.is_not(None), column, ok
    if key == "conversations.abandonment_rate":
        left = or_(assigned, H.end_state.in_(("abandoned", "expired")))
        abandoned = and_(H.assigned_at.is_(None), H.end_state == "abandoned")
        return left, H.wait_minutes, ~abandoned
    ended = and_(assigned, H.end_state.in_(("resolved", "returned_to_bot")))
    return ended, H.rating, H.rating.is_not(None)


def _handoffs(ctx: Context, names: Names, key: str, period: Period, filters: Filters) -> Listing:
    population, value, ok = _handoff_judgement(ctx, key)
    stmt = select(
        H.conversation_pk, H.queued_at, value if value is not None else literal(None),
        ok_column(ok), H.channel, H.agent_id, H.end_state,
    ).where(H.day >= period.start, H.day < period.end, population)  # fmt: skip
    if filters.channel is not None:
        stmt = stmt.where(H.channel == filters.channel)
    agents = names.agent_ids(filters)
    if agents is not None:
        stmt = stmt.where(H.agent_id.in_(agents))

    def detail(row: Any) -> dict[str, str]:
        return {"channel": names.channel(row[4])[0], "agent": names.agent(row[5])[0],
                "state": str(row[6])}  # fmt: skip

    return Listing("conversation", stmt, detail, ok is not None, ref=CONVERSATION_ID)


def _ratings(ctx: Context, names: Names, period: Period, filters: Filters) -> Listing:
    start, end = period.bounds()
    ok = Rating.rating >= ctx.quality.satisfied_from
    stmt = select(
        Rating.sender_id, Rating.created_at, Rating.rating, ok_column(ok), Rating.channel,
        Rating.agent_id,
    ).where(Rating.created_at >= start, Rating.created_at < end)  # fmt: skip
    if filters.channel is not None:
        stmt = stmt.where(Rating.channel == filters.channel)
    agents = names.agent_ids(filters)
    if agents is not None:
        stmt = stmt.where(Rating.agent_id.in_(agents))

    def detail(row: Any) -> dict[str, str]:
        return {"channel": names.channel(row[4])[0], "agent": names.agent(row[5])[0]}

    return Listing("conversation", stmt, detail, True)


def _inbox(period: Period, filters: Filters) -> Listing:
    start, end = period.bounds()
    hit = NluInboxHit
    stmt = select(
        hit.conversation_id, hit.created_at, hit.confidence, null(), hit.predicted_intent,
        hit.reason,
    ).where(hit.created_at >= start, hit.created_at < end)  # fmt: skip
    if filters.channel is not None:
        stmt = stmt.where(hit.conversation_id.startswith(f"{filters.channel}:"))

    def detail(row: Any) -> dict[str, str]:
        return {"intent": str(row[4] or "-"), "reason": str(row[5])}

    return Listing("conversation", stmt, detail, False)


def chat_list(
    ctx: Context, names: Names, key: str, period: Period, filters: Filters
) -> Listing | None:
    """The listing behind a conversation figure; None when `key` is not one."""
    if key in _DAY_KEYS:
        return _days(names, key, period, filters)
    if key == "conversations.csat":
        return _ratings(ctx, names, period, filters)
    if key == "conversations.inbox_volume":
        return _inbox(period, filters)
    if key in (*_HANDOFF_KEYS, "conversations.abandonment_rate",
               "conversations.csat_response_rate"):  # fmt: skip
        return _handoffs(ctx, names, key, period, filters)
    return None

"""Customers' subscriptions to their area's outage notices (停电信息订阅).

A subscription belongs to one channel identity (the conversation `<channel>:<chat>`) and one
area; subscribing again to the same area updates it (its group, the verified account) and
revives it after an unsubscribe. Nothing here is shown to staff but counts per area.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store.models import Account, OutageSubscription, ServiceArea, SubscriptionEnd
from store.sla import require_aware

ENTITY = "outage_subscription"
"""The entity of the buttons that subscribe and unsubscribe (domain.yml): `subscribe:<area
code>[:<group>]` or `unsubscribe`, carried by the query_outage_info intent."""
UNSUBSCRIBE = "unsubscribe"
SUBSCRIBE = "subscribe"


def payload(value: str) -> str:
    """A button's payload: the outage question with the subscription entity."""
    return "/query_outage_info" + json.dumps({ENTITY: value}, ensure_ascii=False)


NOTICE_PAYLOADS = frozenset({payload(UNSUBSCRIBE)})
"""The payloads of every button an outage notice carries (the worker adds the unsubscribe
button to a subscriber's notice): they must work however old the notice is (bot/commands.py
`DURABLE`, Telegram's callback data). Constants with no customer data that act only on the
sender's own conversation: a forged one does nothing the customer could not ask for in words."""


def subscribe_value(area_code: str, group_no: int | None) -> str:
    return f"{SUBSCRIBE}:{area_code}" + (f":{group_no}" if group_no else "")


def parse_value(value: str | None) -> tuple[str, str | None, int | None] | None:
    """(action, area code, group) of an entity value; None when it is not one."""
    parts = (value or "").strip().split(":")
    if parts == [UNSUBSCRIBE]:
        return UNSUBSCRIBE, None, None
    if parts[0] != SUBSCRIBE or len(parts) not in (2, 3) or not parts[1]:
        return None
    group = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else None
    return SUBSCRIBE, parts[1], group


@dataclass(frozen=True)
class Subscribed:
    subscription: OutageSubscription
    new: bool
    """False: the conversation already had this area."""


def _channel(conversation_id: str) -> str:
    channel, colon, _ = conversation_id.partition(":")
    return channel if colon else ""


def reachable(conversation_id: str) -> bool:
    """Only conversations the gateway made (`<channel>:<chat_id>`) can be told anything."""
    return bool(_channel(conversation_id))


def subscribe(
    session: Session,
    *,
    conversation_id: str,
    area: ServiceArea,
    group_no: int | None,
    account: Account | None,
    now: datetime,
) -> Subscribed:
    """Subscribe the conversation to the area's notices (idempotent)."""
    require_aware(now)
    if not reachable(conversation_id):
        raise ValueError(f"not a gateway conversation: {conversation_id[:8]}…")
    row = session.scalars(
        select(OutageSubscription).where(
            OutageSubscription.conversation_id == conversation_id,
            OutageSubscription.area_id == area.id,
        )
    ).one_or_none()
    new = row is None or row.ended_at is not None
    if row is None:
        row = OutageSubscription(
            conversation_id=conversation_id,
            channel=_channel(conversation_id),
            area=area,
            created_at=now,
        )
        session.add(row)
    row.group_no = group_no if group_no is not None else (None if new else row.group_no)
    if account is not None:
        row.account_id = account.id
    row.updated_at = now
    row.ended_at = None
    row.end_reason = None
    session.flush()
    return Subscribed(row, new)


def active(session: Session, conversation_id: str) -> list[OutageSubscription]:
    """The conversation's current subscriptions, by area."""
    stmt = (
        select(OutageSubscription)
        .where(
            OutageSubscription.conversation_id == conversation_id,
            OutageSubscription.ended_at.is_(None),
        )
        .order_by(OutageSubscription.area_id)
    )
    return list(session.scalars(stmt))


def unsubscribe(
    session: Session, conversation_id: str, *, now: datetime, area_id: int | None = None
) -> list[ServiceArea]:
    """End the conversation's subscriptions (of one area, or all): the areas ended."""
    require_aware(now)
    ended = [s for s in active(session, conversation_id) if area_id in (None, s.area_id)]
    for row in ended:
        row.ended_at = now
        row.end_reason = SubscriptionEnd.UNSUBSCRIBED
    session.flush()
    return [row.area for row in ended]


def end_for_conversation(
    session: Session, conversation_id: str, reason: SubscriptionEnd, *, now: datetime
) -> int:
    """End every subscription of a conversation the channel can no longer reach (blocked,
    or a WeChat follower who unfollowed): how many ended."""
    require_aware(now)
    stmt = (
        update(OutageSubscription)
        .where(
            OutageSubscription.conversation_id == conversation_id,
            OutageSubscription.ended_at.is_(None),
        )
        .values(ended_at=now, end_reason=reason, updated_at=now)
    )
    result = session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def counts_by_area(session: Session) -> dict[int, int]:
    """Active subscriptions per area id (what staff may see of them)."""
    stmt = (
        select(OutageSubscription.area_id, func.count())
        .where(OutageSubscription.ended_at.is_(None))
        .group_by(OutageSubscription.area_id)
    )
    return {int(area_id): int(count) for area_id, count in session.execute(stmt)}

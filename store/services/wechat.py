"""What the WeChat channel keeps besides the shared token (wechat_tokens.py): who follows the
account (a follower who leaves gets no more outage notices), when a customer last wrote
(WeChat's customer-service window), and the notes staff read in the transcript when a message
could not go out the usual way.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from store.models import (
    Conversation,
    Message,
    MessageDirection,
    MessageSender,
    MessageStatus,
    WeChatFollower,
)
from store.outages import queue, subscriptions
from store.services.upserts import insert_ignore
from store.sla import require_aware
from store.statuses import SubscriptionEnd


def record_subscription(
    session: Session, *, app_id: str, openid: str, subscribed: bool, at: datetime
) -> bool:
    """A subscribe (True) or unsubscribe event of WeChat time `at` (whole seconds); False when
    an event as new or newer was applied before (a redelivery, or one overtaken by a later
    event). Of a subscribe and an unsubscribe in the same second, the unsubscribe wins."""
    require_aware(at)
    inserted = insert_ignore(
        session,
        WeChatFollower,
        {"app_id": app_id, "openid": openid, "subscribed": subscribed, "changed_at": at},
        [WeChatFollower.app_id, WeChatFollower.openid],
    )
    table = WeChatFollower
    values: dict[str, object] = {"subscribed": subscribed, "changed_at": at}
    values["subscribed_at" if subscribed else "unsubscribed_at"] = at
    statement = update(table).where(table.app_id == app_id, table.openid == openid)
    if not inserted:  # a newer event; within the same second, leaving wins (never the reverse)
        later = table.changed_at < at
        statement = statement.where(
            later | ((table.changed_at == at) & table.subscribed) if not subscribed else later
        )
    changed = session.execute(statement.values(values).execution_options(synchronize_session=False))
    return bool(getattr(changed, "rowcount", 0))


def end_outage_notices(session: Session, conversation_id: str, *, now: datetime) -> int:
    """The follower unfollowed the account: WeChat delivers nothing to them any more, so their
    outage-notice subscriptions end (as for a customer who blocked the Telegram bot). How many
    ended."""
    return subscriptions.end_for_conversation(
        session, conversation_id, SubscriptionEnd.BLOCKED, now=now
    )


def wake_held_notices(session: Session, conversation_id: str, *, now: datetime) -> int:
    """The follower wrote: WeChat's window is open again and its count of customer-service
    messages starts afresh, so their outage notices held for it are due now. How many."""
    return queue.wake_held(session, conversation_id, now=now)


def follower(session: Session, *, app_id: str, openid: str) -> WeChatFollower | None:
    return session.scalars(
        select(WeChatFollower).where(
            WeChatFollower.app_id == app_id, WeChatFollower.openid == openid
        )
    ).one_or_none()


def last_customer_message_at(session: Session, conversation_id: str) -> datetime | None:
    """When the customer last wrote in the conversation (a message, a menu click, following
    the account: all stored as customer messages); None when never."""
    return session.scalar(
        select(func.max(Message.created_at))
        .join(Conversation, Message.conversation_pk == Conversation.id)
        .where(
            Conversation.conversation_id == conversation_id,
            Message.direction == MessageDirection.IN,
        )
    )


def add_note(session: Session, conversation_id: str, text: str, *, now: datetime) -> bool:
    """A note for staff in the transcript (a system message that is never sent: it is stored
    'failed', so no delivery picks it up and no count of delivered messages includes it).
    False when the conversation is not known (nothing to note it on)."""
    require_aware(now)
    pk = session.scalar(
        select(Conversation.id).where(Conversation.conversation_id == conversation_id)
    )
    if pk is None:
        return False
    session.add(
        Message(
            conversation_pk=pk,
            direction=MessageDirection.OUT,
            sender=MessageSender.SYSTEM,
            text=text,
            buttons=[],
            attachments=[],
            status=MessageStatus.FAILED,
            created_at=now,
        )
    )
    session.flush()
    return True

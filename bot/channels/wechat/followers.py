"""Following and unfollowing the account, recorded (store/services/wechat.py): the follower's
state by WeChat's event time (a redelivered event changes nothing); when a customer unfollows,
a note in the transcript (staff then know why their messages stop arriving) and the end of
their outage-notice subscriptions (nothing would reach them)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.channels.wechat.config import Notes
from bot.channels.wechat.mapping import CHANNEL_NAME, WeChatMessage
from store.db import in_thread
from store.services import wechat

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


class Followers:
    def __init__(self, app_id: str, notes: Notes) -> None:
        self._app_id = app_id
        self._notes = notes
        self.factory: sessionmaker[Session] | None = None
        """Set while the channel runs."""

    async def record(self, message: WeChatMessage, *, subscribed: bool) -> None:
        """Best effort: a database hiccup must not make WeChat retry the event for ever."""
        if self.factory is None:
            return
        try:
            await in_thread(self.factory, lambda s: self._record(s, message, subscribed))
        except Exception:
            log.exception("WeChat %s: following state not recorded", message.key)

    def _record(self, session: Session, message: WeChatMessage, subscribed: bool) -> None:
        applied = wechat.record_subscription(
            session,
            app_id=self._app_id,
            openid=message.openid,
            subscribed=subscribed,
            at=message.at,
        )
        if applied and not subscribed:
            conversation_id = f"{CHANNEL_NAME}:{message.openid}"
            now = datetime.now(UTC)
            wechat.add_note(session, conversation_id, self._notes.unsubscribed, now=now)
            ended = wechat.end_outage_notices(session, conversation_id, now=now)
            if ended:
                log.info("WeChat follower %s: %d outage subscriptions end", message.openid, ended)
        log.info(
            "WeChat follower %s: %s%s",
            message.openid,
            "subscribed" if subscribed else "unsubscribed",
            "" if applied else " (seen before)",
        )

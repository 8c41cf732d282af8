"""The WeChat channel's outbound side (`Channel.send`): what the router sends to a follower.

In order of preference:

1. the passive reply, when a request of the chat is waiting for its answer (passive.py);
2. a customer-service message (客服消息), while the customer-service window is open (the
   customer wrote within conf/wechat.yml `window_hours`) and WeChat takes it;
3. outside the window, or when WeChat says it is closed (45015) or the chat's quota of
   customer-service messages is used up (45047): the configured template message, or nothing.

Whatever did not go out as written is noted in the transcript for staff (a system note,
`store.services.wechat.add_note`): the template sent instead, or why nothing was sent. Then
`Undelivered` is raised, so the router marks the reply failed and never sends it again. WeChat
out of reach (network, its "system busy") is a `ConnectionError`: the router keeps the reply
and tries again later. As bot/channels/base.py defines them, what only one follower meets
raises `NotNow` (limits.py): their count used up with no template to send instead (45047,
`QuotaSpent`), or the window closed with no template (`WindowClosed`; noted once per message
and interaction of the customer, however often it is tried); the account's quotas (45011 /
45009) raise `SendLater`, and a customer who no longer follows the account (43004)
`RecipientGone`. The outage-notice worker then holds that follower's notice (sent when they
write again: webhook.py wakes it), waits with the whole channel, or ends the customer's
subscriptions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.channels.base import Channel, RecipientGone
from bot.channels.wechat.api import (
    NOT_FOLLOWING,
    TOO_MANY,
    WINDOW_CLOSED,
    WeChatApi,
    WeChatRefused,
)
from bot.channels.wechat.buttons import menu_message, reply_text, split_bytes
from bot.channels.wechat.config import WeChatConfig
from bot.channels.wechat.limits import RATE_LIMITS, QuotaSpent, RateLimits, WindowClosed
from bot.channels.wechat.mapping import CHANNEL_NAME
from bot.channels.wechat.passive import PassiveSlots
from bot.messages import Reply
from store.db import in_thread
from store.services import wechat

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

FALLBACK_CODES = frozenset({WINDOW_CLOSED, TOO_MANY})
"""WeChat's answers after which the template message is sent instead."""


class Undelivered(RuntimeError):
    """WeChat will not take the message now or later; the transcript says why."""


class WeChatChannel(Channel):
    name = CHANNEL_NAME

    def __init__(self, config: WeChatConfig, passive: PassiveSlots) -> None:
        self.config = config
        self.passive = passive
        self.limits = RateLimits(config.retry_after)
        self.api: WeChatApi | None = None
        self.factory: sessionmaker[Session] | None = None
        """Both set while the channel runs (service.py)."""

    def attach(self, api: WeChatApi, factory: sessionmaker[Session]) -> None:
        self.api, self.factory = api, factory

    def detach(self) -> None:
        self.api = self.factory = None

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        for reply in replies:
            text = reply_text(reply, self.config.menu_intro)
            if not text:
                continue
            if await self.passive.offer(chat_id, text):
                continue
            await self.send_out(chat_id, reply, text)

    async def send_out(self, chat_id: str, reply: Reply, text: str) -> None:
        """One reply as a customer-service message, or as the template outside the window."""
        api, factory = self._running()
        conversation_id = f"{CHANNEL_NAME}:{chat_id}"
        last = await in_thread(
            factory, lambda s: wechat.last_customer_message_at(s, conversation_id)
        )
        if not self._window_open(last):
            await self._fallback(conversation_id, chat_id, text, WINDOW_CLOSED, last, "window")
            return
        paused = self.limits.paused()
        if paused is not None:
            raise paused
        if self.limits.spent(chat_id, last):
            raise self._quota_spent()
        asked_at = datetime.now(UTC)
        try:
            if reply.buttons and self.config.buttons == "msgmenu":
                await api.send_custom(chat_id, menu_message(reply))
            else:
                for chunk in split_bytes(text, self.config.max_text_bytes):
                    await api.send_text(chat_id, chunk)
        except WeChatRefused as refused:
            await self._refused(conversation_id, chat_id, text, refused, (asked_at, last))

    async def _refused(
        self,
        conversation_id: str,
        chat_id: str,
        text: str,
        refused: WeChatRefused,
        times: tuple[datetime, datetime | None],
    ) -> None:
        """WeChat refused a customer-service message (asked at `times[0]`, the customer's last
        message at `times[1]`): the template instead (window closed, or too many with a
        template configured), else noted and raised as what it means."""
        code = refused.code
        asked_at, last = times
        if code in FALLBACK_CODES and (code != TOO_MANY or self.config.template.id):
            await self._fallback(conversation_id, chat_id, text, code, last)
            return
        await self._not_sent(conversation_id, code)
        if code in RATE_LIMITS:
            later = self.limits.refused(chat_id, code, asked_at)
            raise (later or self._quota_spent()) from None
        if code == NOT_FOLLOWING:
            raise RecipientGone(str(refused)) from None
        raise Undelivered(str(refused)) from None

    def _running(self) -> tuple[WeChatApi, sessionmaker[Session]]:
        if self.api is None or self.factory is None:
            raise ConnectionError("WeChat channel is not running")
        return self.api, self.factory

    def _staff_reason(self, code: int, *causes: str) -> str:
        """Why a follower is held, for staff (kept with an outage notice given up)."""
        notes, hours = self.config.notes, self.config.window_hours
        said = "，".join(notes.reason(cause, hours) for cause in causes or (str(code),))
        return f"微信：{said}（错误码 {code}）"

    def _quota_spent(self) -> QuotaSpent:
        return QuotaSpent(
            "WeChat 45047: waiting for the customer to write", reason=self._staff_reason(TOO_MANY)
        )

    def _window_open(self, last: datetime | None) -> bool:
        """Whether the customer wrote (`last`) within the window (unknown: let WeChat decide)."""
        window = timedelta(hours=self.config.window_hours)
        return last is None or datetime.now(UTC) - last < window

    async def _fallback(
        self,
        conversation_id: str,
        chat_id: str,
        text: str,
        code: int,
        last: datetime | None,
        cause: str = "",
    ) -> None:
        """The template message instead (noted), or nothing (`WindowClosed`, noted once per
        message and interaction `last` of the customer). `cause`: why, when it was not
        WeChat's answer `code` (the window known closed here)."""
        api, _ = self._running()
        notes, template = self.config.notes, self.config.template
        reason = notes.reason(cause or code, self.config.window_hours)
        if not template.id:
            if self.limits.first_note(chat_id, text, last):
                no_template = notes.reason("no_template", self.config.window_hours)
                said = f"{reason}，{no_template}"
                await self._note(conversation_id, notes.not_sent.format(reason=said, code=code))
            raise WindowClosed(
                f"{conversation_id}: WeChat error {code} and no template message",
                reason=self._staff_reason(code, cause or str(code), "no_template"),
            )
        try:
            await api.send_template(chat_id, template.id, self._template_data(text), template.url)
        except WeChatRefused as refused:
            await self._not_sent(conversation_id, refused.code)
            if refused.code == NOT_FOLLOWING:
                raise RecipientGone(f"template message: {refused}") from None
            raise Undelivered(f"template message: {refused}") from None
        await self._note(conversation_id, notes.template_sent.format(reason=reason))

    def _template_data(self, text: str) -> dict[str, str]:
        now = datetime.now(self.config.timezone).strftime("%Y-%m-%d %H:%M")
        data = {}
        for name, spec in self.config.template.fields.items():
            value = spec.value.format(text=" ".join(text.split()), time=now)
            if spec.max_chars is not None and len(value) > spec.max_chars:
                value = value[: spec.max_chars - 1] + "…"
            data[name] = value
        return data

    async def _not_sent(self, conversation_id: str, code: int) -> None:
        notes = self.config.notes
        reason = notes.reason(code, self.config.window_hours)
        await self._note(conversation_id, notes.not_sent.format(reason=reason, code=code))

    async def _note(self, conversation_id: str, text: str) -> None:
        """A note for staff in the transcript; a failure to write it is logged, not raised."""
        _, factory = self._running()
        log.info("%s: %s", conversation_id, text)
        now = datetime.now(UTC)
        try:
            await in_thread(factory, lambda s: wechat.add_note(s, conversation_id, text, now=now))
        except Exception:
            log.exception("%s: the note could not be stored", conversation_id)

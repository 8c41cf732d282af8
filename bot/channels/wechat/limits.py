"""WeChat's rate limits on customer-service messages, as the channel meets them: the refusal
becomes `SendLater` (bot/channels/base.py), so whoever sends by itself waits and tries again
(the outage-notice worker, the router's retries) instead of giving the message up.

Two kinds, remembered here so that the retries do not ask WeChat again in vain:

- the follower's own count (45047): WeChat takes only a few messages after each interaction
  of the customer (a message, a menu click); held until the customer interacts again;
- the account's quotas (45011 a minute, 45009 a day): every follower waits until the
  configured time has passed.

How long to wait is conf/wechat.yml `retry_after_seconds`. The memory is this process's own:
another replica learns the same from WeChat's first refusal.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from bot.channels.base import SendLater
from bot.channels.wechat.api import DAILY_QUOTA, MINUTE_QUOTA, TOO_MANY

RATE_LIMITS: Final = frozenset({TOO_MANY, MINUTE_QUOTA, DAILY_QUOTA})
"""WeChat's codes after which a later try makes sense."""
_FOLLOWERS_REMEMBERED = 10_000


class RateLimits:
    def __init__(
        self,
        waits: Mapping[int, float],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._waits = waits
        self._clock = clock
        self._paused_until = 0.0
        self._spent: OrderedDict[str, datetime] = OrderedDict()
        """Follower → when the message WeChat refused as one too many (45047) was sent."""

    def held(self, chat_id: str, last_interaction: datetime | None) -> SendLater | None:
        """Why a message to the follower must wait without asking WeChat, or None."""
        left = self._paused_until - self._clock()
        if left > 0:
            return SendLater(f"WeChat's quota of the account: {left:.0f} s left", left)
        spent = self._spent.get(chat_id)
        if spent is None:
            return None
        if last_interaction is not None and last_interaction > spent:
            del self._spent[chat_id]  # the customer wrote since: WeChat counts afresh
            return None
        return SendLater("WeChat 45047: waiting for the customer to write", self._waits[TOO_MANY])

    def refused(self, chat_id: str, code: int, asked_at: datetime) -> SendLater:
        """WeChat refused with one of `RATE_LIMITS` the message sent at `asked_at`: remembered,
        and the SendLater to raise. (A customer's message stored after `asked_at` may have
        reached WeChat after it counted: it lets the next message try.)"""
        wait = self._waits[code]
        if code == TOO_MANY:
            self._spent[chat_id] = asked_at
            self._spent.move_to_end(chat_id)
            while len(self._spent) > _FOLLOWERS_REMEMBERED:
                self._spent.popitem(last=False)
        else:
            self._paused_until = max(self._paused_until, self._clock() + wait)
        return SendLater(f"WeChat error {code}: rate limited", wait)

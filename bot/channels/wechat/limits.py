"""WeChat's limits on customer-service messages, as the channel meets them, remembered here so
that the retries do not ask WeChat again in vain:

- the account's quotas (45011 a minute, 45009 a day): every follower waits the configured time
  (conf/wechat.yml `retry_after_seconds`), the refusal is `SendLater` (bot/channels/base.py),
  which holds the whole channel (the outage-notice worker pauses it);
- the follower's own count (45047): WeChat takes only a few messages after each interaction
  of the customer (a message, a menu click). Only that follower waits (`QuotaSpent`, a
  `NotNow`): until the customer writes again, or `retry_after_seconds` 45047 have passed (then
  WeChat is asked again: an interaction the gateway did not store, such as a menu link, may
  have reset its count). The other followers are sent to as usual.

And, for the staff's notes in the transcript (channel.py), which messages were already noted
as held outside the 48-hour window (`first_note`): a held outage notice tried again says it
once per interaction of the customer, not at every try.

The memory is this process's own: another replica learns the same from WeChat's first refusal.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from bot.channels.base import NotNow, SendLater
from bot.channels.wechat.api import DAILY_QUOTA, MINUTE_QUOTA, TOO_MANY

RATE_LIMITS: Final = frozenset({TOO_MANY, MINUTE_QUOTA, DAILY_QUOTA})
"""WeChat's codes after which a later try makes sense."""
_REMEMBERED = 10_000


class QuotaSpent(NotNow, ConnectionError):
    """45047 with no template to send instead: this follower waits for their next message.
    Also a `ConnectionError` (as `SendLater` is): the router's tracked replies wait for it
    instead of being given up."""


class WindowClosed(NotNow):
    """The follower has not written for longer than the customer-service window and there is
    no template message to send instead: nothing reaches them until they write again."""


def _remember(memory: OrderedDict[str, datetime | None], key: str, value: datetime | None) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > _REMEMBERED:
        memory.popitem(last=False)


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
        self._spent: OrderedDict[str, tuple[datetime, float]] = OrderedDict()
        """Follower → when the message WeChat refused as one too many (45047) was sent, and
        this process's clock then."""
        self._noted: OrderedDict[str, datetime | None] = OrderedDict()
        """Follower and message → the customer's last interaction when it was noted."""

    def paused(self) -> SendLater | None:
        """The account's quota is used up: every follower waits (without asking WeChat)."""
        left = self._paused_until - self._clock()
        if left > 0:
            return SendLater(f"WeChat's quota of the account: {left:.0f} s left", left)
        return None

    def spent(self, chat_id: str, last_interaction: datetime | None) -> bool:
        """Whether the follower's count is known used up (45047) and the customer has not
        written since (nor has `retry_after_seconds` 45047 passed)."""
        spent = self._spent.get(chat_id)
        if spent is None:
            return False
        asked_at, clock = spent
        written = last_interaction is not None and last_interaction > asked_at
        if written or self._clock() - clock >= self._waits[TOO_MANY]:
            del self._spent[chat_id]  # WeChat counts afresh (or may have): ask it again
            return False
        return True

    def refused(self, chat_id: str, code: int, asked_at: datetime) -> SendLater | None:
        """WeChat refused with one of `RATE_LIMITS` the message sent at `asked_at`: remembered.
        The account's quotas: the SendLater to raise; 45047: None (the follower is `spent`).
        (A customer's message stored after `asked_at` may have reached WeChat after it
        counted: it lets the next message try.)"""
        if code == TOO_MANY:
            self._spent[chat_id] = (asked_at, self._clock())
            self._spent.move_to_end(chat_id)
            while len(self._spent) > _REMEMBERED:
                self._spent.popitem(last=False)
            return None
        wait = self._waits[code]
        self._paused_until = max(self._paused_until, self._clock() + wait)
        return SendLater(f"WeChat error {code}: rate limited", wait)

    def first_note(self, chat_id: str, text: str, last_interaction: datetime | None) -> bool:
        """Whether the message `text` to the follower, held outside the window, is noted for
        the first time since the customer's `last_interaction` (remembered as noted)."""
        key = f"{chat_id}\n{text}"
        if key in self._noted and self._noted[key] == last_interaction:
            return False
        _remember(self._noted, key, last_interaction)
        return True

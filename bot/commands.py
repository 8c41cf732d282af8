"""Customers may not speak Rasa's command syntax; only the bot's own buttons may.

Rasa reads a message whose text (stripped) starts with "/" as an intent given directly, with
entities and even a confidence: `/inform{"account_no": "3301000002"}` skips NLU and sets
whatever it names. Buttons use that syntax for their payloads, and the web chat and the JSON
API send a pressed button's payload as the message text. So such a text is passed on as it is
only when it equals the payload of a button the bot sent in the conversation's last
`WINDOW` stored messages (the transcript keeps every reply's buttons), or is one of the few
`DURABLE` payloads, whose buttons work however long ago they were sent (the outage notices'
unsubscribe button: a notice may be weeks old, with many messages after it). Any other text loses
its leading slashes (and the spaces between them) and goes to NLU as the words it is: the
customer who types "/停电了" is still understood, nobody picks an intent or sets a slot.

The decision is made on the text as the router will store and send it (`clean_text`: control
characters removed, trimmed), so "\x00/restart" is a command too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final, Protocol

from bot.inbound import clean_text
from bot.messages import TranscriptEntry
from store.outages.subscriptions import NOTICE_PAYLOADS
from store.statuses import MessageDirection

log = logging.getLogger(__name__)

PREFIX: Final = "/"
WINDOW: Final = 20
"""Stored messages (both directions) whose bot buttons a command may come from: the buttons a
customer can still see and press, not those of long ago."""
DURABLE: Final = NOTICE_PAYLOADS
"""Payloads passed on whenever they come, without looking at the window: constants that carry
no customer data and act only on the sender's own conversation (store/outages/subscriptions.py),
so a forged one does nothing harmful."""


class History(Protocol):
    async def history(self, conversation_id: str, limit: int = 200) -> list[TranscriptEntry]: ...


def is_command(text: str) -> bool:
    """Whether Rasa would try to read `text` as an intent (it strips the text first)."""
    return text.strip().startswith(PREFIX)


def defuse(text: str) -> str:
    """The text without the leading slashes and whitespace that make it a command."""
    while is_command(text):
        text = text.strip().lstrip(PREFIX)
    return text.strip()


def offered(entries: Iterable[TranscriptEntry]) -> frozenset[str]:
    """The payloads of the bot's buttons among `entries` (stripped, as Rasa compares them)."""
    return frozenset(
        button.payload.strip()
        for entry in entries
        if entry.direction == MessageDirection.OUT
        for button in entry.buttons
        if button.payload.strip()
    )


def screen(text: str, payloads: frozenset[str]) -> str:
    """`text` as it may go to Rasa: unchanged unless it is a command no button offered."""
    cleaned = clean_text(text)
    if not is_command(cleaned) or cleaned in payloads or cleaned in DURABLE:
        return text
    return defuse(cleaned)


async def screened(history: History, conversation_id: str, text: str) -> str:
    """`screen` against the conversation's recent buttons (read only for command texts)."""
    cleaned = clean_text(text)
    if not is_command(cleaned) or cleaned in DURABLE:
        return text
    payloads = offered(await history.history(conversation_id, WINDOW))
    result = screen(text, payloads)
    if result != text:
        log.info("%s: command syntax from the customer passed on as plain text", conversation_id)
    return result

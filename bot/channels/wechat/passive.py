"""Passive replies: the answer to a customer's message given in WeChat's own HTTP request,
which WeChat waits 5 seconds for. It costs nothing (customer-service messages are counted and
limited) and needs no access token, so whatever the router sends to a chat while a request of
that chat is waiting goes into its slot, and the request answers with the slot's texts joined
into one message (a passive reply is one message).

A slot is sealed when the request is about to answer (its reply is ready, or the time is up),
or when a text does not fit into one WeChat message any more. Texts sent after that go out as
customer-service messages, but only once the sealed slot's answer is on its way: the customer
reads the replies in the order the router sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field

SEPARATOR = "\n\n"
ANSWER_WAIT = 2.0
"""Seconds a later text waits for a sealed slot's request to answer (never longer: the request
may be gone)."""


@dataclass(eq=False)
class Slot:
    chat_id: str
    limit: int
    texts: list[str] = field(default_factory=list)
    sealed: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    def size(self, extra: str) -> int:
        return len(SEPARATOR.join([*self.texts, extra]).encode("utf-8"))


class PassiveSlots:
    """The waiting requests' slots, per chat, oldest first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: dict[str, list[Slot]] = defaultdict(list)

    def open(self, chat_id: str) -> Slot:
        slot = Slot(chat_id, self._limit)
        self._open[chat_id].append(slot)
        return slot

    async def offer(self, chat_id: str, text: str) -> bool:
        """Put `text` into the chat's oldest waiting request (True), or say it must go out as a
        customer-service message (False: after any sealed slot's request has answered)."""
        slots = self._open.get(chat_id, [])
        for slot in list(slots):
            if slot.sealed.is_set():
                continue
            if slot.size(text) <= slot.limit:
                slot.texts.append(text)
                return True
            slot.sealed.set()  # full: it answers now, this text follows it
        await self._after_answers(chat_id)
        return False

    async def _after_answers(self, chat_id: str) -> None:
        sealed = [s.answered for s in self._open.get(chat_id, []) if s.sealed.is_set()]
        if sealed:
            with contextlib.suppress(TimeoutError):
                waits = (event.wait() for event in sealed)
                await asyncio.wait_for(asyncio.gather(*waits), ANSWER_WAIT)

    def take(self, slot: Slot) -> str:
        """The request answers now: its texts as one message ("" for none, or when taken
        before); no more come in."""
        slot.sealed.set()
        texts, slot.texts = slot.texts, []
        return SEPARATOR.join(texts)

    def close(self, slot: Slot) -> None:
        """The request has answered (or given up): later texts need not wait for it."""
        slot.sealed.set()
        slot.answered.set()
        slots = self._open.get(slot.chat_id)
        if slots is not None and slot in slots:
            slots.remove(slot)
            if not slots:
                del self._open[slot.chat_id]

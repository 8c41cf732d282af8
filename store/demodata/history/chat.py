"""One conversation of the history as the gateway stores it: the `conversations` row and its
`messages` in both directions, each customer message with what NLU understood, each reply
pointing at the message it answers.

Its conversation id is `<channel>:hist-<n>`, so history never meets a live chat. During the
few hours the history's Rasa was down the gateway answers '系统繁忙' (its own words, conf/
gateway.yml) and the bot's answer follows minutes later. Messages NLU fell back on or was
unsure of are collected for the NLU inbox (store/demodata/history/inbox.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any, Final

from store.demodata.history.context import Ctx
from store.demodata.history.sink import Row, table_of
from store.models import Conversation, Message, MessageDirection, MessageSender, MessageStatus

CONVERSATIONS: Final = table_of(Conversation)
MESSAGES: Final = table_of(Message)
CHAT_PREFIX: Final = "hist-"
"""History conversations' chat ids start with it (and nothing live does)."""
CHANNELS: Final = ("web", "telegram", "api")
CHANNEL_WEIGHTS: Final = (6, 3, 1)
LOW_CONFIDENCE: Final = 0.6
"""conf/nlu.yml inbox.confidence_below (its default)."""
FALLBACK_INTENT: Final = "nlu_fallback"
OUTAGES_OF_RASA: Final = 5
IN, OUT = MessageDirection.IN.value, MessageDirection.OUT.value
CUSTOMER, PROCESSED = MessageSender.CUSTOMER.value, MessageStatus.PROCESSED.value
_CHANNEL_CUMULATIVE: Final = tuple(accumulate(CHANNEL_WEIGHTS))
"""Times in the year Rasa was down for an hour or two."""


@dataclass(frozen=True)
class Reservation:
    """A conversation's id handed out before its messages are written (a ticket names it)."""

    pk: int
    conversation_id: str
    channel: str


@dataclass(frozen=True)
class InboxHit:
    message_id: int
    conversation_id: str
    text: str
    reason: str
    predicted_intent: str | None
    confidence: float | None
    at: datetime
    meant: str | None
    """The intent the customer meant (what an operator labels the item with)."""
    flagged_by: int | None = None


class Chats:
    """Everything the history's conversations share: the reserved ids, the hours Rasa was
    down, the messages collected for the NLU inbox."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.hits: list[InboxHit] = []
        days = list(ctx.days())
        self.rasa_down: list[tuple[datetime, datetime]] = []
        for _ in range(OUTAGES_OF_RASA):
            start = ctx.at(ctx.pick(days[:-2]), ctx.rng.uniform(18 * 60, 21 * 60))  # evenings
            self.rasa_down.append((start, start + timedelta(minutes=ctx.rng.uniform(60, 180))))

    def reserve(self) -> Reservation:
        pk = self.ctx.sink.new_id(CONVERSATIONS)
        channel = self.ctx.rng.choices(CHANNELS, cum_weights=_CHANNEL_CUMULATIVE)[0]
        return Reservation(pk, f"{channel}:{CHAT_PREFIX}{pk:07d}", channel)

    def down(self, at: datetime) -> bool:
        return any(start <= at < end for start, end in self.rasa_down)

    def open(self, reservation: Reservation, at: datetime, language: str = "zh") -> Chat:
        return Chat(self, reservation, at, language)


class Chat:
    def __init__(self, chats: Chats, reservation: Reservation, at: datetime, language: str) -> None:
        self.chats = chats
        self.ctx = chats.ctx
        self.ref = reservation
        self.language = language
        self.started = at
        self.t = at
        self.messages: list[Row] = []
        self.answered: list[tuple[int, str, str | None]] = []
        """Customer messages the bot answered: (id, text, intent)."""
        self.later: list[tuple[Any, Row]] = []
        """Rows of other tables written after the conversation's (handoffs, ratings, ...)."""
        self.hits: list[InboxHit] = []
        """Its messages for the NLU inbox (collected when the conversation is written)."""

    @property
    def id(self) -> str:
        return self.ref.conversation_id

    def wait(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)

    def _message(
        self, direction: str, sender: str, text: str, intent: str | None = None,
        confidence: float | None = None, reply_to: int | None = None,
        buttons: Sequence[dict[str, str]] = (),
    ) -> int:  # fmt: skip
        message_id = self.ctx.sink.new_id(MESSAGES)
        self.messages.append({
            "id": message_id, "conversation_pk": self.ref.pk, "direction": direction,
            "sender": sender, "text": text, "buttons": list(buttons), "attachments": [],
            "image": None, "external_id": None, "status": PROCESSED, "intent": intent,
            "intent_confidence": confidence, "in_reply_to_id": reply_to, "created_at": self.t,
        })  # fmt: skip
        return message_id

    def customer(
        self, text: str, intent: str | None = None, confidence: float | None = None
    ) -> int:
        """The customer writes (after reading and typing for a while)."""
        self.wait(self.ctx.rng.uniform(8, 70))
        return self._message(IN, CUSTOMER, text, intent, confidence)

    def say(
        self,
        sender: str,
        text: str,
        reply_to: int | None = None,
        buttons: Sequence[dict[str, str]] = (),
    ) -> int:
        """The bot, an agent or the gateway writes."""
        self.wait(self.ctx.rng.uniform(0.5, 2.5))
        return self._message(OUT, sender, text, reply_to=reply_to, buttons=buttons)

    def turn(
        self,
        text: str,
        intent: str,
        answer: str,
        *,
        confidence: float | None = None,
        meant: str | None = None,
        buttons: Sequence[dict[str, str]] = (),
    ) -> int:
        """A customer message the bot answers; '系统繁忙' first while Rasa is down."""
        confidence = confidence if confidence is not None else self.ctx.rng.uniform(0.82, 0.995)
        asked = self.customer(text, intent, round(confidence, 4))
        if self.chats.down(self.t):
            self.say(MessageSender.SYSTEM, self.ctx.texts["busy"], asked)
            self.wait(self.ctx.rng.uniform(60, 900))
        self.say(MessageSender.BOT, answer, asked, buttons)
        self.answered.append((asked, text, intent))
        reason = "fallback" if intent == FALLBACK_INTENT else None
        if reason is None and confidence < LOW_CONFIDENCE:
            reason = "low_confidence"
        if reason is not None:
            predicted = meant if reason == "low_confidence" else None
            self.inbox(asked, text, reason, predicted, confidence, meant)
        return asked

    def inbox(
        self, message_id: int, text: str, reason: str, predicted: str | None,
        confidence: float | None, meant: str | None, flagged_by: int | None = None,
    ) -> None:  # fmt: skip
        self.hits.append(
            InboxHit(
                message_id, self.id, text, reason, predicted, confidence, self.t, meant, flagged_by
            )
        )

    def close(self) -> None:
        """Write the conversation, its messages and the rows that name them."""
        sink = self.ctx.sink
        sink.add(CONVERSATIONS, {
            "id": self.ref.pk, "conversation_id": self.id, "channel": self.ref.channel,
            "chat_id": self.id.split(":", 1)[1],
            "user_id": self.id.split(":", 1)[1] if self.ref.channel == "telegram" else None,
            "language": self.language, "created_at": self.started, "last_activity_at": self.t,
        })  # fmt: skip
        for row in self.messages:
            sink.add(MESSAGES, row)
        for table, row in self.later:
            sink.add(table, row)
        self.chats.hits.extend(self.hits)
        sink.checkpoint()

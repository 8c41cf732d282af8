"""The router's side of the NLU inbox: a customer message NLU was unsure about or fell back on
is captured (conf/nlu.yml inbox), in a background task, never on the reply's path."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from nlu import inbox as nlu_inbox
from store.db import in_thread

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.rasa_client import IntentGuess
    from bot.transcript import StoredInbound
    from nlu.settings import InboxSettings

log = logging.getLogger(__name__)

Landing = tuple[str, str | None, float | None]
"""Why a message lands in the inbox, with the predicted intent and its confidence."""


def inbox_landing(guess: IntentGuess, inbox: InboxSettings) -> Landing | None:
    """Whether a message goes to the NLU inbox: (reason, predicted intent, confidence), or None.

    A fallback intent (conf/nlu.yml inbox.fallback_intents) lands as 'fallback' with the best
    other intent of the ranking as the prediction (the fallback's own confidence is only its
    threshold); a best intent below inbox.confidence_below lands as 'low_confidence'.
    """
    if guess.name is None:
        return None
    if guess.name in inbox.fallback_intents:
        intent, confidence = guess.best_except(inbox.fallback_intents)
        if intent is None:
            return "fallback", guess.name, guess.confidence
        return "fallback", intent, confidence
    if guess.confidence is not None and guess.confidence < inbox.confidence_below:
        return "low_confidence", guess.name, guess.confidence
    return None


class InboxCapture:
    def __init__(self, factory: sessionmaker[Session], inbox: InboxSettings | None) -> None:
        self._factory = factory
        self._inbox = inbox
        """conf/nlu.yml's inbox settings; None: nothing is captured."""
        self._lock = asyncio.Lock()

    def landing(self, guess: IntentGuess) -> Landing | None:
        """Whether the message goes to the NLU inbox (see `inbox_landing`); None without one."""
        return inbox_landing(guess, self._inbox) if self._inbox is not None else None

    async def capture(self, stored: StoredInbound, landing: Landing) -> None:
        """NLU inbox: a message NLU was unsure about or fell back on (`landing`: reason,
        predicted intent, confidence)."""
        inbox = self._inbox
        assert inbox is not None  # a landing needs the inbox settings
        reason, intent, confidence = landing

        def work(session: Session) -> int | None:
            item = nlu_inbox.add_hit(
                session,
                message_id=stored.id,
                conversation_id=stored.conversation_id,
                text=stored.text,
                reason=reason,
                predicted_intent=intent,
                confidence=confidence,
                settings=inbox,
            )
            return item.id if item is not None else None

        async with self._lock:  # near-duplicates captured at once would miss each other
            item_id = await in_thread(self._factory, work)
        if item_id is not None:
            log.info(
                "%s: message %s in the NLU inbox (item %s, %s)",
                stored.conversation_id, stored.id, item_id, reason,
            )  # fmt: skip

"""The base every store-backed action derives from.

Why a base: every action needs the same things (the runtime, the customer's language, a way to
utter a response from domain.yml) and the same safety net. Database work is synchronous
SQLAlchemy, so `act` runs in a worker thread and never blocks the action server's event loop;
any exception becomes a polite "系统繁忙" reply instead of a silent failure.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.i18n import pick
from actions.runtime import Runtime, get_runtime
from store.config import Settings
from store.models import Account
from store.services import accounts, identity

logger = logging.getLogger(__name__)

Events = list[EventType]

#: metadata the gateway adds to each customer message (bot/rasa_client.py names the same keys)
MESSAGE_KEY = "gateway_message_id"
CLIENT_ADDRESS_KEY = "client_address"
MAX_METADATA_CHARS = 64


@dataclass
class Turn:
    """One action invocation: who is talking, in which language, and how to answer."""

    dispatcher: CollectingDispatcher
    tracker: Tracker
    domain: DomainDict
    runtime: Runtime

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def language(self) -> str:
        return str(self.tracker.get_slot("language") or "zh")

    @property
    def sender_id(self) -> str:
        return str(self.tracker.sender_id)

    @property
    def channel(self) -> str:
        return str(self.tracker.get_latest_input_channel() or "rest")

    @property
    def text(self) -> str:
        return str(self.tracker.latest_message.get("text") or "")

    @property
    def intent(self) -> str | None:
        intent = self.tracker.latest_message.get("intent") or {}
        name = intent.get("name")
        return str(name) if name else None

    def now(self) -> datetime:
        return self.runtime.now()

    def slot(self, name: str) -> Any:
        return self.tracker.get_slot(name)

    def entity(self, name: str) -> str | None:
        value = next(self.tracker.get_latest_entity_values(name), None)
        return str(value) if value is not None else None

    def say(self, response: str, **kwargs: Any) -> None:
        self.dispatcher.utter_message(response=response, **kwargs)

    def label(self, zh: str, en: str) -> str:
        return pick(self.language, zh, en)

    def session(self) -> AbstractContextManager[Session]:
        """A unit of work on the stores (commit on success, rollback on error)."""
        return self.runtime.session()

    def metadata(self, key: str) -> str | None:
        """A value the gateway sent with the customer's message (bot/router.py), if any."""
        metadata = self.tracker.latest_message.get("metadata")
        value = metadata.get(key) if isinstance(metadata, dict) else None
        return str(value)[:MAX_METADATA_CHARS] if isinstance(value, str | int) and value else None

    @property
    def message_key(self) -> str | None:
        """The gateway's key of the message this turn answers (`gateway_message_id`)."""
        return self.metadata(MESSAGE_KEY)

    @property
    def client_address(self) -> str | None:
        """Where the customer writes from, as the gateway saw it (None: not said)."""
        return self.metadata(CLIENT_ADDRESS_KEY)

    @property
    def rasa_session(self) -> str:
        """The start of the tracker's current Rasa session ('' when it has none): a verification
        is good only in the session it was made in."""
        for event in reversed(self.tracker.events or []):
            if isinstance(event, dict) and event.get("event") == "session_started":
                stamp = event.get("timestamp")
                return f"{float(stamp):.6f}" if isinstance(stamp, int | float) else ""
        return ""

    def verified_account_no(self, session: Session | None = None) -> str | None:
        """The account number this conversation proved it owns, or None.

        The database decides (store/services/identity.py), never the slots alone: a tracker that
        says `verified: true, verified_account: X` proves nothing. A verification that went idle
        or belongs to an earlier Rasa session is ended here. Using it restarts the idle time and
        marks this turn's replies as showing account data (the web chat's history hides them
        once the verification is over). Synchronous: call it from `act` (a worker thread),
        with the caller's `session` when it has one open (one transaction).
        """
        if self.slot("verified") is not True:
            return None
        if session is None:
            with self.session() as own:
                return self._verified_account_no(own)
        return self._verified_account_no(session)

    def verified_account(self, session: Session) -> Account | None:
        """The account this conversation proved it owns (`verified_account_no`), or None."""
        account_no = self.verified_account_no(session)
        return accounts.get_by_no(session, account_no) if account_no else None

    def _verified_account_no(self, session: Session) -> str | None:
        now = self.now()
        row = identity.active(
            session, sender_id=self.sender_id, rasa_session=self.rasa_session, now=now
        )
        if row is None:
            return None
        identity.touch(session, self.settings, row, now)
        if self.message_key:
            identity.note_use(session, row, message_key=self.message_key, now=now)
        return row.account_no


def cleared(*slots: str) -> Events:
    """Empty these slots (a request is done: the next one starts afresh)."""
    return [SlotSet(name, None) for name in slots]


class StoreAction(Action, ABC):
    """An action that answers from the stores; subclasses implement `act`."""

    @abstractmethod
    def act(self, turn: Turn) -> Events:
        """Do the work (runs in a worker thread) and return the events to apply."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        try:
            turn = Turn(dispatcher, tracker, domain, get_runtime())
            return await asyncio.to_thread(self.act, turn)
        except Exception:
            # The reason is logged for the developers; the customer is never left in silence.
            logger.exception("action %s failed", self.name())
            dispatcher.utter_message(response="utter_system_error")
            return [SlotSet("action_failed", self.name())]

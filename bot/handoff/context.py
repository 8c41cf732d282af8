"""What every part of the handoff desk shares: its settings, clock, database, event hub and the
way out to customers, and the customer texts it builds from conf/handoff.yml.

One `DeskContext` per desk; the parts (gate, survey, triggers, escalation, agent commands,
watcher) hold it, so a setting replaced on the desk (`HandoffDesk.config`, `.clock`) is what
every part reads next.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from bot.events import EventHub
from bot.handoff.config import HandoffConfig
from bot.handoff.views import HandoffView, Outcome
from bot.messages import Button, Reply
from store.config import Settings
from store.db import in_thread
from store.services import handoffs

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from nlu.settings import InboxSettings
    from store.services.handoffs import Handoff

log = logging.getLogger(__name__)
T = TypeVar("T")

Deliver = Callable[[str, Sequence[Reply], str], Awaitable[str]]
"""How the desk sends customer texts outside a turn: (conversation id, replies, sender) →
'sent' or 'stored' (the router's `deliver`)."""

#: Payloads of the callback offer's buttons (what the channel sends back when pressed).
CALLBACK_YES = "/callback_yes"
CALLBACK_NO = "/callback_no"


@dataclass
class DeskContext:
    factory: sessionmaker[Session]
    events: EventHub
    config: HandoffConfig
    store_settings: Settings
    clock: Callable[[], datetime]
    """Replaceable (tests): every decision about time uses it."""
    inbox: InboxSettings | None = None
    """conf/nlu.yml's inbox settings: the messages before a handoff go to the NLU inbox;
    None: nothing is captured."""
    deliver: Deliver | None = None

    # --- the database and what happens after a commit ----------------------------------

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work` in one unit of work, in a worker thread."""
        return await in_thread(self.factory, work)

    def publish(self, outcome: Outcome) -> None:
        for kind, data, conversation_id in outcome.events:
            self.events.publish(kind, data, conversation_id=conversation_id)

    async def finish(self, outcome: Outcome) -> None:
        """After commit: publish, then deliver texts meant for other conversations."""
        self.publish(outcome)
        for conversation_id, replies in outcome.sends:
            if self.deliver is None:
                log.warning("%s: handoff text not delivered (no router bound)", conversation_id)
                continue
            try:
                await self.deliver(conversation_id, replies, "system")
            except Exception:
                log.exception("%s: handoff text not delivered", conversation_id)

    def changed(
        self,
        outcome: Outcome,
        handoff: Handoff,
        from_state: str,
        *,
        actor: str,
        why: str | None,
    ) -> None:
        view = HandoffView.of(handoff)
        outcome.view = view
        data = {**view.as_json(), "from_state": from_state, "actor": actor, "why": why}
        outcome.events.append(("handoff_changed", data, view.conversation_id))

    def queue_changed(self, session: Session, outcome: Outcome) -> None:
        count = len(handoffs.queue(session))
        outcome.events.append(("queue_changed", {"queued": count}, None))

    # --- customer texts (conf/handoff.yml) ----------------------------------------------

    def text(self, key: str, language: str | None, **values: Any) -> str:
        return self.config.text(
            key, language, hotline=self.store_settings.service.hotline, **values
        )

    def reply(self, key: str, language: str | None, **values: Any) -> Reply:
        return Reply(text=self.text(key, language, **values))

    def callback_offer(self, key: str, language: str | None) -> Reply:
        return Reply(
            text=self.text(key, language, hours=self.config.hours_text(language)),
            buttons=(
                Button(self.text("callback_yes", language), CALLBACK_YES),
                Button(self.text("callback_no", language), CALLBACK_NO),
            ),
        )

    def survey(self, language: str | None) -> Reply:
        return Reply(
            text=self.text("survey", language),
            buttons=tuple(Button(str(n), f'/rate_service{{"rating": {n}}}') for n in range(1, 6)),
        )

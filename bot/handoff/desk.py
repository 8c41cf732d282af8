"""The handoff desk: the gateway's side of human handoff (see bot/handoff/__init__.py), one
object composing its parts so the router and the console have one thing to call.

The router calls, under the conversation's lock:

- `gate_in(session, stored)` inside the transaction that stores every customer message (then
  `gate_done` publishes, after the commit): the gate (gate.py) and the survey (survey.py);
- `waiting_request(session, cid)` inside the transaction that stores the replies, then
  `after_turn(stored, tracker, waiting)` after Rasa answered: the triggers (triggers.py);
- `on_failure(stored, kind)` when Rasa or the action server failed.

These return the customer texts to add to the reply and never deliver themselves (the router
holds the lock). The agent console uses the reads and commands of agents.py (`claim`,
`transfer`, `return_to_bot`, `resolve`, `abandon`, `add_note`, ...) and `request`
(escalation.py); the watcher (watcher.py) runs in the background. Those deliver their customer
texts through the router (`Router.deliver`, bound with `bind`) and publish events
(bot/events.py) after their transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.events import EventHub
from bot.handoff.agents import AgentDesk
from bot.handoff.config import HandoffConfig
from bot.handoff.context import Deliver, DeskContext
from bot.handoff.escalation import Escalation
from bot.handoff.gate import Gate
from bot.handoff.triggers import Triggers
from bot.handoff.views import (
    AgentRef,
    GateDecision,
    GateResult,
    HandoffView,
    WaitingRequest,
)
from bot.handoff.watcher import Periodic, Watcher
from bot.messages import Reply
from store.config import Settings
from store.services import handoffs
from store.statuses import StaffAvailability

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from bot.rasa_client import TurnTracker
    from bot.transcript import StoredInbound
    from nlu.settings import InboxSettings

__all__ = ["AgentRef", "GateDecision", "GateResult", "HandoffDesk", "HandoffView"]


class HandoffDesk:
    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        events: EventHub,
        config: HandoffConfig,
        store_settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        inbox: InboxSettings | None = None,
    ) -> None:
        self._ctx = DeskContext(
            factory=factory,
            events=events,
            config=config,
            store_settings=store_settings,
            clock=clock,
            inbox=inbox,
        )
        self._gate = Gate(self._ctx)
        self._escalation = Escalation(self._ctx)
        self._triggers = Triggers(self._ctx, self._escalation)
        self._agents = AgentDesk(self._ctx)
        self._watcher = Watcher(self._ctx, self._escalation)
        self._loop = Periodic(
            "handoff-watcher", lambda: self.watch_once(), lambda: self.config.watch_interval
        )

    # --- settings every part reads (replaceable: tests) ----------------------------------

    @property
    def events(self) -> EventHub:
        return self._ctx.events

    @property
    def config(self) -> HandoffConfig:
        return self._ctx.config

    @config.setter
    def config(self, config: HandoffConfig) -> None:
        self._ctx.config = config

    @property
    def clock(self) -> Callable[[], datetime]:
        """Every decision about time uses it."""
        return self._ctx.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        self._ctx.clock = clock

    def bind(self, deliver: Deliver) -> None:
        """How the desk sends customer texts outside a turn (the router's `deliver`)."""
        self._ctx.deliver = deliver

    def agents_on_duty(self) -> bool:
        """Whether agents answer chats now (conf/service.yml agent_hours)."""
        return self.config.in_service_hours(self.clock())

    # --- the router's hooks -----------------------------------------------------------------

    def gate_in(self, session: Session, stored: StoredInbound) -> GateDecision:
        """The gate's decision about a stored customer message, in the caller's transaction."""
        return self._gate.gate_in(session, stored)

    def gate_done(self, decision: GateDecision) -> GateResult:
        """After the gate's transaction committed: publish what it changed."""
        return self._gate.gate_done(decision)

    def waiting_request(self, session: Session, conversation_id: str) -> WaitingRequest:
        """Inside the caller's transaction (the router's, storing the bot's replies): the
        action server's newest 'waiting' handoff request of the conversation, for
        `after_turn`; (None, None) when there is none or the trigger is off."""
        return self._triggers.waiting_request(session, conversation_id)

    async def after_turn(
        self,
        stored: StoredInbound,
        tracker: TurnTracker | None = None,
        waiting: WaitingRequest | None = None,
    ) -> tuple[Reply, ...]:
        """After Rasa answered: queue a handoff when a trigger fires; the customer texts.
        `tracker` is the turn's view of Rasa's tracker, shared with the router's other readers
        (each read happens once); without it only the request_human trigger can fire.
        `waiting`: `waiting_request`'s answer when the caller looked already (else it is read
        here)."""
        return await self._triggers.after_turn(stored, tracker, waiting)

    async def on_failure(self, stored: StoredInbound, kind: str) -> tuple[Reply, ...]:
        """Rasa timed out / is down ('rasa_timeout') or the actions failed ('action_failure')."""
        return await self._triggers.on_failure(stored, kind)

    async def is_open(self, conversation_id: str) -> bool:
        return await self.open_for(conversation_id) is not None

    # --- the console: reads ---------------------------------------------------------------

    async def view(self, handoff_id: int) -> HandoffView:
        return await self._agents.view(handoff_id)

    async def open_for(self, conversation_id: str) -> HandoffView | None:
        return await self._agents.open_for(conversation_id)

    async def queue(self) -> list[HandoffView]:
        return await self._agents.queue()

    async def assigned_to(self, agent_id: int) -> list[HandoffView]:
        return await self._agents.assigned_to(agent_id)

    async def agent_load(self) -> list[handoffs.AgentLoad]:
        return await self._agents.agent_load()

    # --- the console: commands ------------------------------------------------------------

    async def request(
        self,
        conversation_id: str,
        *,
        reason: str,
        detail: str | None = None,
        actor: str = "bot",
    ) -> HandoffView:
        """Queue a conversation from outside a turn (e.g. a supervisor takes a chat over);
        the customer's texts are delivered through the channel."""
        return await self._escalation.request(
            conversation_id, reason=reason, detail=detail, actor=actor
        )

    async def claim(self, handoff_id: int, agent_id: int) -> HandoffView:
        """The agent takes a queued chat; `handoffs.AlreadyClaimed` if someone was faster."""
        return await self._agents.claim(handoff_id, agent_id)

    async def transfer(
        self, handoff_id: int, from_agent_id: int, to_agent_id: int, why: str | None = None
    ) -> HandoffView:
        return await self._agents.transfer(handoff_id, from_agent_id, to_agent_id, why)

    async def return_to_bot(
        self, handoff_id: int, agent_id: int, why: str | None = None
    ) -> HandoffView:
        """The bot answers again; the customer is told and asked for a rating."""
        return await self._agents.return_to_bot(handoff_id, agent_id, why)

    async def resolve(self, handoff_id: int, agent_id: int, why: str | None = None) -> HandoffView:
        """The case is done; the customer is asked for a rating."""
        return await self._agents.resolve(handoff_id, agent_id, why)

    async def abandon(self, handoff_id: int, actor: str, why: str | None = None) -> HandoffView:
        return await self._agents.abandon(handoff_id, actor, why)

    async def add_note(self, handoff_id: int, agent_id: int, text: str) -> int:
        """A private note; its id."""
        return await self._agents.add_note(handoff_id, agent_id, text)

    async def set_availability(self, agent_id: int, availability: str) -> None:
        """available/away/offline; an agent becoming available may get queued chats."""
        await self._agents.set_availability(agent_id, availability)
        if availability == StaffAvailability.AVAILABLE and self.config.auto_assign:
            await self.watch_once()

    # --- the watcher ------------------------------------------------------------------------

    async def watch_once(self) -> None:
        """One pass of the watcher (watcher.py)."""
        await self._watcher.watch_once()

    def start(self) -> None:
        """The watcher every conf/handoff.yml watch_interval seconds (none when 0)."""
        self._loop.start()

    async def stop(self, grace: float) -> None:
        await self._loop.stop(grace)

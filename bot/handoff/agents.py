"""The agents' side of the desk: what the console reads (views of handoffs, the queue, the
agents' loads) and the commands it gives (claim, transfer, hand back, resolve, abandon, notes,
availability). A command changes the handoff in one transaction, then publishes the change and
tells the customer (agent joined, back to the bot, the survey) through the router."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.handoff.context import DeskContext
from bot.handoff.views import HandoffView, Outcome
from bot.messages import Reply
from store.services import handoffs, staff

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from store.services.handoffs import Handoff

Change = Callable[["Session", "Handoff"], tuple[str, str | None]]
"""A command's change inside the transaction: returns (actor, why) for the event."""


class AgentDesk:
    def __init__(self, ctx: DeskContext) -> None:
        self._ctx = ctx

    # --- what the console reads -----------------------------------------------------------

    async def view(self, handoff_id: int) -> HandoffView:
        return await self._ctx.run(lambda s: HandoffView.of(handoffs.get(s, handoff_id)))

    async def open_for(self, conversation_id: str) -> HandoffView | None:
        def work(session: Session) -> HandoffView | None:
            handoff = handoffs.open_for_conversation_id(session, conversation_id)
            return HandoffView.of(handoff) if handoff is not None else None

        return await self._ctx.run(work)

    async def queue(self) -> list[HandoffView]:
        return await self._ctx.run(lambda s: [HandoffView.of(h) for h in handoffs.queue(s)])

    async def assigned_to(self, agent_id: int) -> list[HandoffView]:
        return await self._ctx.run(
            lambda s: [HandoffView.of(h) for h in handoffs.assigned_to(s, agent_id)]
        )

    async def agent_load(self) -> list[handoffs.AgentLoad]:
        return await self._ctx.run(handoffs.agent_load)

    # --- the commands ---------------------------------------------------------------------

    async def _act(
        self, handoff_id: int, change: Change, texts: Callable[[Handoff], list[Reply]]
    ) -> HandoffView:
        """Apply `change`, publish, tell the customer `texts`."""
        ctx = self._ctx

        def work(session: Session) -> Outcome:
            outcome = Outcome()
            before = handoffs.get(session, handoff_id)
            from_state = before.state
            actor, why = change(session, before)
            handoff = handoffs.get(session, handoff_id)
            ctx.changed(outcome, handoff, from_state, actor=actor, why=why)
            ctx.queue_changed(session, outcome)
            replies = texts(handoff)
            if replies:
                outcome.sends.append((handoff.conversation.conversation_id, tuple(replies)))
            return outcome

        outcome = await ctx.run(work)
        await ctx.finish(outcome)
        assert outcome.view is not None
        return outcome.view

    def _assigned(self, handoff: Handoff) -> list[Reply]:
        """The customer is told who joined."""
        agent = handoff.agent.display_name if handoff.agent else ""
        return [self._ctx.reply("assigned", handoff.conversation.language, agent=agent)]

    async def claim(self, handoff_id: int, agent_id: int) -> HandoffView:
        """The agent takes a queued chat; `handoffs.AlreadyClaimed` if someone was faster."""
        now = self._ctx.clock()

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            agent = handoffs.claim(session, handoff_id, agent_id, now=now).agent
            return (agent.username if agent else "?"), "claimed"

        return await self._act(handoff_id, change, self._assigned)

    async def transfer(
        self, handoff_id: int, from_agent_id: int, to_agent_id: int, why: str | None = None
    ) -> HandoffView:
        now = self._ctx.clock()

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            h = handoffs.transfer(session, handoff_id, from_agent_id, to_agent_id, now=now, why=why)
            actor = handoffs.agent_name(session, from_agent_id)
            return actor, why or f"transferred to {h.agent_id}"

        return await self._act(handoff_id, change, self._assigned)

    async def return_to_bot(
        self, handoff_id: int, agent_id: int, why: str | None = None
    ) -> HandoffView:
        """The bot answers again; the customer is told and asked for a rating."""
        now = self._ctx.clock()
        ctx = self._ctx

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            handoffs.return_to_bot(session, handoff_id, agent_id, now=now, why=why)
            return handoffs.agent_name(session, agent_id), why

        def texts(h: Handoff) -> list[Reply]:
            language = h.conversation.language
            return [ctx.reply("returned", language), ctx.survey(language)]

        return await self._act(handoff_id, change, texts)

    async def resolve(self, handoff_id: int, agent_id: int, why: str | None = None) -> HandoffView:
        """The case is done; the customer is asked for a rating."""
        now = self._ctx.clock()

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            handoffs.resolve(session, handoff_id, agent_id, now=now, why=why)
            return handoffs.agent_name(session, agent_id), why

        return await self._act(
            handoff_id, change, lambda h: [self._ctx.survey(h.conversation.language)]
        )

    async def abandon(self, handoff_id: int, actor: str, why: str | None = None) -> HandoffView:
        now = self._ctx.clock()

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            handoffs.abandon(session, handoff_id, actor=actor, now=now, why=why)
            return actor, why

        return await self._act(handoff_id, change, lambda h: [])

    async def add_note(self, handoff_id: int, agent_id: int, text: str) -> int:
        """A private note; its id."""
        now = self._ctx.clock()
        return await self._ctx.run(
            lambda s: handoffs.add_note(s, handoff_id, agent_id, text, now=now).id
        )

    async def set_availability(self, agent_id: int, availability: str) -> None:
        """available/away/offline."""
        await self._ctx.run(lambda s: staff.set_availability(s, agent_id, availability))

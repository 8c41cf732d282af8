"""Queueing a conversation for a person: the handoff (idempotent), what the customer is told
(their place in the queue, the callback offer when nobody can come), auto-assignment, the
safety alert, and the messages before it for the NLU inbox.

Called by the triggers after a turn (`now`), from outside a turn (`request`, e.g. a supervisor
takes a chat over) and, for auto-assignment, by the watcher.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Final

from bot.handoff.context import DeskContext
from bot.handoff.views import HandoffView, Outcome
from bot.messages import Reply
from nlu import inbox as nlu_inbox
from store.services import handoff_requests, handoffs, transcripts

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.transcript import StoredInbound
    from store.services.handoffs import Handoff
    from store.services.transcripts import Conversation

log = logging.getLogger(__name__)

PRIORITY_OF: Final = {"safety_hazard": "urgent", "complaint": "high"}


class Escalation:
    def __init__(self, ctx: DeskContext) -> None:
        self._ctx = ctx

    def escalate(
        self,
        session: Session,
        conversation: Conversation,
        outcome: Outcome,
        *,
        reason: str,
        detail: str | None,
        actor: str,
        now: datetime,
        announce: bool = True,
    ) -> Handoff:
        """Queue the conversation (idempotent), tell the customer, auto-assign, notices."""
        ctx = self._ctx
        existing = handoffs.open_for(session, conversation.id)
        priority = PRIORITY_OF.get(reason, "normal")
        handoff = handoffs.request(
            session,
            conversation_pk=conversation.id,
            reason=reason,
            detail=detail,
            priority=priority,
            actor=actor,
            now=now,
        )
        if existing is not None:
            outcome.view = HandoffView.of(handoff)
            return handoff
        language = conversation.language
        ctx.changed(outcome, handoff, "bot", actor=actor, why=reason)
        self._inbox_before_handoff(session, conversation, now)
        if reason == "safety_hazard":
            alert = {
                "handoff_id": handoff.id,
                "reason": reason,
                "priority": handoff.priority,
                "text": detail or "",
            }
            outcome.events.append(("alert", alert, conversation.conversation_id))
        queue = handoffs.queue(session)
        position = next((i for i, h in enumerate(queue) if h.id == handoff.id), 0)
        if announce:
            outcome.replies.append(ctx.reply("queued", language, position=position))
        notice: str | None = None
        if not ctx.config.in_service_hours(now):
            # a customer who asked for a person outside the hours was told so by the assistant
            # and chose to leave a message: no second, contradicting notice
            notice = None if reason == "request_human" else "out_of_hours"
        elif not (
            ctx.config.auto_assign and self.auto_assign_one(session, handoff, outcome, now)
        ) and not handoffs.available_agents(session):
            notice = "no_agent"
        if notice and handoffs.mark_notice(session, handoff.id, notice, now=now):
            outcome.replies.append(ctx.callback_offer(notice, language))
        ctx.queue_changed(session, outcome)
        session.refresh(handoff)
        outcome.view = HandoffView.of(handoff)
        return handoff

    def _inbox_before_handoff(
        self, session: Session, conversation: Conversation, now: datetime
    ) -> None:
        """NLU inbox: whatever the trigger, the customer's last bot-answered messages before
        the handoff (what the bot may have misunderstood). Never fails the handoff: done in a
        savepoint (the handoff's INSERT has begun the transaction, SQLite too)."""
        inbox = self._ctx.inbox
        if inbox is None:
            return
        try:
            with session.begin_nested():
                items = nlu_inbox.add_handoff_hits(
                    session, conversation_pk=conversation.id, settings=inbox, now=now
                )
        except Exception:
            log.exception(
                "%s: the messages before the handoff did not reach the NLU inbox",
                conversation.conversation_id,
            )
            return
        if items:
            log.info(
                "%s: %d message(s) before the handoff in the NLU inbox (items %s)",
                conversation.conversation_id,
                len(items),
                ", ".join(str(i.id) for i in items),
            )

    def auto_assign_one(
        self, session: Session, handoff: Handoff, outcome: Outcome, now: datetime
    ) -> bool:
        """The least loaded available agent takes the handoff; False when nobody can."""
        agent = handoffs.least_loaded_available_agent(session)
        if agent is None:
            return False
        try:
            handoffs.assign(session, handoff.id, agent.id, now=now)
        except (handoffs.AlreadyClaimed, handoffs.IllegalTransition):
            return False
        session.refresh(handoff)
        self._ctx.changed(
            outcome, handoff, "queued", actor="system", why=f"assigned to {agent.username}"
        )
        outcome.replies.append(
            self._ctx.reply("assigned", handoff.conversation.language, agent=agent.display_name)
        )
        return True

    async def request(
        self, conversation_id: str, *, reason: str, detail: str | None, actor: str
    ) -> HandoffView:
        """Queue a conversation from outside a turn; the customer's texts are delivered through
        the channel."""
        now = self._ctx.clock()

        def work(session: Session) -> Outcome:
            conversation = transcripts.get_conversation(session, conversation_id)
            if conversation is None:
                raise handoffs.NotFound(f"no conversation {conversation_id}")
            outcome = Outcome()
            self.escalate(
                session, conversation, outcome, reason=reason, detail=detail, actor=actor, now=now
            )
            if outcome.replies:
                outcome.sends.append((conversation_id, tuple(outcome.replies)))
            return outcome

        outcome = await self._ctx.run(work)
        await self._ctx.finish(outcome)
        assert outcome.view is not None
        return outcome.view

    async def now(
        self,
        stored: StoredInbound,
        *,
        reason: str,
        detail: str | None,
        request_id: int | None = None,
    ) -> tuple[Reply, ...]:
        """Queue the conversation of a customer message being answered (the caller holds its
        lock); the texts to add to the reply. `request_id`: the action server's request this
        answers (marked taken)."""
        now = self._ctx.clock()

        def work(session: Session) -> Outcome:
            outcome = Outcome()
            conversation = transcripts.get_conversation(session, stored.conversation_id)
            if conversation is None:  # pragma: no cover - stored before
                return outcome
            if request_id is not None:
                handoff_requests.mark_queued(session, request_id)
            self.escalate(
                session,
                conversation,
                outcome,
                reason=reason,
                detail=detail,
                actor="bot",
                now=now,
                # the bot already said it is transferring (utter_handoff_requested)
                announce=reason != "request_human",
            )
            return outcome

        outcome = await self._ctx.run(work)
        self._ctx.publish(outcome)
        return tuple(outcome.replies)

"""The message gate: every customer message passes it, inside the transaction that stores it.

While the conversation has an open handoff (queued/assigned) the message is handled here, never
by Rasa: the abandon words and the callback offer's answers are acted on, everything else waits
for the agent. With no open handoff it catches the survey's rating and comment after a handoff
ended (bot/handoff/survey.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from bot.handoff.context import CALLBACK_NO, CALLBACK_YES, DeskContext
from bot.handoff.survey import Survey
from bot.handoff.views import GateDecision, GateResult, HandoffView, Outcome
from bot.messages import Reply
from store.services import handoffs, ticket_intake, transcripts
from store.statuses import HandoffState, TicketType

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.transcript import StoredInbound
    from store.services.handoffs import Handoff
    from store.services.transcripts import Conversation

_PUNCT = re.compile(r"[\s。．.!！?？,，~～]+")


def _norm(text: str) -> str:
    return _PUNCT.sub(" ", text.strip().lower()).strip()


class Gate:
    def __init__(self, ctx: DeskContext) -> None:
        self._ctx = ctx
        self._survey = Survey(ctx)

    def gate_in(self, session: Session, stored: StoredInbound) -> GateDecision:
        """Decide about a stored customer message before Rasa sees it, inside the caller's
        transaction (the router's, which has just stored it); pass the decision to `gate_done`
        once that transaction committed. The usual message (no open handoff, no survey
        waiting) costs one Core read; the ORM objects are loaded only when there is something
        to do."""
        now = self._ctx.clock()
        outcome = Outcome()
        latest = handoffs.latest_state(session, stored.conversation_pk)
        if latest is None or not (latest.open or self._survey.is_open(latest, now)):
            return GateDecision(GateResult(False), outcome)
        handoff = handoffs.find(session, latest.id)
        conversation = transcripts.conversation_by_pk(session, stored.conversation_pk)
        if handoff is None or conversation is None:  # pragma: no cover - read just above
            return GateDecision(GateResult(False), outcome)
        if not latest.open:
            answer = self._survey.answer(session, conversation, handoff, stored.text, now)
            return GateDecision(answer, outcome)
        handoffs.customer_seen(session, handoff, now=now)
        replies = self._while_open(session, conversation, handoff, stored.text, outcome, now)
        return GateDecision(GateResult(True, tuple(replies), HandoffView.of(handoff)), outcome)

    def gate_done(self, decision: GateDecision) -> GateResult:
        """After the gate's transaction committed: publish what it changed."""
        self._ctx.publish(decision.outcome)
        return decision.result

    def _while_open(
        self,
        session: Session,
        conversation: Conversation,
        handoff: Handoff,
        text: str,
        outcome: Outcome,
        now: datetime,
    ) -> list[Reply]:
        if handoff.state != HandoffState.QUEUED:
            return []  # assigned: the agent answers
        ctx = self._ctx
        language = conversation.language
        said = _norm(text)
        offered = handoff.customer_notice is not None
        if offered and (text.strip() == CALLBACK_YES or said in ctx.config.yes_words):
            ticket = ticket_intake.create_ticket(
                session,
                ctx.store_settings,
                type=TicketType.CALLBACK,
                description=ctx.text("callback_description", "zh", reason=handoff.reason),
                now=now,
                sender_id=conversation.conversation_id,
                channel=conversation.channel,
            )
            handoffs.expire(
                session,
                handoff.id,
                now=now,
                callback_ticket_no=ticket.ticket_no,
                actor="customer",
                why="callback requested",
            )
            ctx.changed(
                outcome, handoff, HandoffState.QUEUED, actor="customer", why="callback requested"
            )
            ctx.queue_changed(session, outcome)
            return [ctx.reply("callback_created", language, number=ticket.ticket_no)]
        if offered and (text.strip() == CALLBACK_NO or said in ctx.config.no_words):
            return [ctx.reply("keep_waiting", language)]
        if said and any(word in said for word in ctx.config.leave_words):
            handoffs.abandon(session, handoff.id, actor="customer", now=now, why=text[:200])
            ctx.changed(
                outcome, handoff, HandoffState.QUEUED, actor="customer", why="left the queue"
            )

            ctx.queue_changed(session, outcome)
            return [ctx.reply("abandoned", language)]
        return []

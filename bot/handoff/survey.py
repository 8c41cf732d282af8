"""The survey after a handoff a person ended: a 1-5 rating (a button or a bare digit), then one
comment, inside the windows of conf/handoff.yml (survey_window, comment_window)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING

from bot.handoff.context import DeskContext
from bot.handoff.views import GateResult
from store.services import ratings
from store.statuses import HandoffState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from store.services.handoffs import Handoff, HandoffSnapshot
    from store.services.transcripts import Conversation

#: The survey buttons send `/rate_service{"rating": N}` (Rasa's intent+entities syntax, so the
#: bot's own rate_service action understands it too if it ever gets there).
_RATE_PAYLOAD = re.compile(r"^/rate_service\s*(\{.*\})\s*$", re.S)
_BARE_RATING = re.compile(r"^\s*([1-5])\s*(分|星|stars?|points?)?\s*[。.!！]?\s*$", re.I)


def parse_rating(text: str) -> int | None:
    """1-5 from a survey button payload or a bare digit ('4', '4分'); None otherwise."""
    match = _RATE_PAYLOAD.match(text.strip())
    if match:
        try:
            value = json.loads(match.group(1)).get("rating")
        except (ValueError, AttributeError):
            return None
        try:
            rating = int(value)
        except (TypeError, ValueError):
            return None
        return rating if 1 <= rating <= 5 else None
    bare = _BARE_RATING.match(text)
    return int(bare.group(1)) if bare else None


class Survey:
    def __init__(self, ctx: DeskContext) -> None:
        self._ctx = ctx

    def is_open(self, latest: HandoffSnapshot, now: datetime) -> bool:
        """Whether the customer may still rate the handoff (ended by a person, recently)."""
        return (
            latest.state in (HandoffState.RESOLVED, HandoffState.RETURNED_TO_BOT)
            and latest.closed_at is not None
            and now - latest.closed_at <= self._ctx.config.survey_window
        )

    def answer(
        self,
        session: Session,
        conversation: Conversation,
        latest: Handoff,
        text: str,
        now: datetime,
    ) -> GateResult:
        """After a handoff (`latest`, the conversation's last) ended, inside its survey window
        (`is_open`): a 1-5 rating (button or bare digit), then one comment. A question or
        a new request after the rating ('明天停电吗') is not a comment: the assistant answers it."""
        ctx = self._ctx
        language = conversation.language
        given = ratings.latest_for_handoff(session, latest.id)
        rating = parse_rating(text)
        if given is None:
            if rating is None:
                return GateResult(False)
            ratings.record(
                session,
                sender_id=conversation.conversation_id,
                channel=conversation.channel,
                rating=rating,
                comment=None,
                now=now,
                handoff_id=latest.id,
                agent_id=latest.agent_id,
            )
            return GateResult(True, (ctx.reply("survey_thanks", language, rating=rating),))
        if (
            given.comment is None
            and rating is None
            and text.strip()
            and not text.strip().startswith("/")
            and now - given.created_at <= ctx.config.comment_window
            and ctx.config.reads_as_comment(text)
        ):
            ratings.add_comment(session, given, text.strip()[:1000])
            return GateResult(True, (ctx.reply("comment_thanks", language),))
        return GateResult(False)

"""The escalation triggers (conf/handoff.yml triggers): what makes the desk queue a conversation
for a person after the bot answered, or when Rasa or the action server failed.

- request_human: the action server recorded a request ('waiting' in handoff_requests);
- fallbacks in a row: that many messages in a row the assistant did not understand;
- complaint, safety hazard: once the bot's form for it is finished (the bot still opens the
  ticket and collects the location first); a hazard alerts on-duty staff at once all the same;
- rasa_timeout, action_failure: Rasa or the actions failed on the message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.handoff.context import DeskContext
from bot.handoff.escalation import Escalation
from bot.handoff.views import WaitingRequest
from bot.messages import Reply
from store.services import handoff_requests

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bot.rasa_client import TurnTracker
    from bot.transcript import StoredInbound

log = logging.getLogger(__name__)

#: the slot the assistant sets when a complaint asked for a person (actions/feedback.py HANDOFF):
#: the assistant has answered that request, in or outside agents' hours
_PERSON_ASKED = ("feedback_type", "handoff")


def waiting_request(session: Session, conversation_id: str) -> WaitingRequest:
    """The action server's newest 'waiting' handoff request of the conversation: (id, detail)."""
    found = handoff_requests.newest_waiting(session, conversation_id)
    if found is None:
        return None, None
    request_id, reason = found
    return request_id, f"{reason} (request #{request_id})"


class Triggers:
    def __init__(self, ctx: DeskContext, escalation: Escalation) -> None:
        self._ctx = ctx
        self._escalation = escalation
        self._postponed: dict[str, tuple[str, str | None]] = {}
        """conversation id → (reason, detail) of a trigger waiting for the bot's form to end."""

    def waiting_request(self, session: Session, conversation_id: str) -> WaitingRequest:
        """Inside the caller's transaction: the waiting request for `after_turn`; (None, None)
        when there is none or the trigger is off."""
        if not self._ctx.config.triggers.request_human:
            return None, None
        return waiting_request(session, conversation_id)

    async def after_turn(
        self,
        stored: StoredInbound,
        tracker: TurnTracker | None,
        waiting: WaitingRequest | None,
    ) -> tuple[Reply, ...]:
        """After Rasa answered: queue a handoff when a trigger fires; the customer texts."""
        triggers = self._ctx.config.triggers
        reason: str | None = None
        detail: str | None = None
        request_id: int | None = None
        if triggers.request_human:
            if waiting is None:
                waiting = await self._ctx.run(lambda s: waiting_request(s, stored.conversation_id))
            request_id, detail = waiting
            if request_id is not None:
                reason = "request_human"
        if reason is None and tracker is not None and self._intent_triggers():
            reason, detail = await self._intent_trigger(stored, tracker)
        if reason is None:
            return ()
        self._postponed.pop(stored.conversation_id, None)
        return await self._escalation.now(
            stored, reason=reason, detail=detail, request_id=request_id
        )

    async def on_failure(self, stored: StoredInbound, kind: str) -> tuple[Reply, ...]:
        """Rasa timed out / is down ('rasa_timeout') or the actions failed ('action_failure')."""
        t = self._ctx.config.triggers
        if (kind == "rasa_timeout" and not t.rasa_timeout) or (
            kind == "action_failure" and not t.action_failure
        ):
            return ()
        self._postponed.pop(stored.conversation_id, None)
        return await self._escalation.now(stored, reason=kind, detail=stored.text[:500])

    def _intent_triggers(self) -> bool:
        t = self._ctx.config.triggers
        return bool(t.fallback_in_a_row or t.complaint or t.safety_hazard)

    async def _intent_trigger(
        self,
        stored: StoredInbound,
        tracker: TurnTracker,
    ) -> tuple[str | None, str | None]:
        """Fallbacks in a row fire at once. A complaint or a hazard fires once the bot's form
        for it is finished (the bot still opens the complaint/hazard ticket and collects the
        location first); a hazard alerts the on-duty staff immediately all the same."""
        cid = stored.conversation_id
        if cid not in self._postponed and not await self._may_trigger(stored, tracker):
            return None, None
        try:
            events = await tracker.events()
        except Exception as exc:  # the tracker is a nice-to-have here
            log.info("%s: no tracker for the handoff triggers (%s)", cid, exc)
            return None, None
        intents = _user_intents(events)
        if not intents or intents[-1][1] != stored.key:
            return None, None
        t = self._ctx.config.triggers
        current = intents[-1][0]
        in_form = _form_active(events)
        found: tuple[str, str] | None = None
        if t.safety_hazard and current in t.safety_hazard_intents:
            found = ("safety_hazard", stored.text[:500])
            if in_form:  # the handoff (and its own alert) comes when the form ends
                self._ctx.events.publish(
                    "alert",
                    {"handoff_id": None, "reason": "safety_hazard", "text": stored.text[:500]},
                    conversation_id=cid,
                )
        elif t.complaint and current in t.complaint_intents and not _person_asked(events):
            found = ("complaint", stored.text[:500])
        waiting = self._postponed.get(cid)
        if found is not None and (waiting is None or waiting[0] != "safety_hazard"):
            self._postponed[cid] = found  # a hazard outranks a complaint
        if cid in self._postponed and not in_form:
            return self._postponed.pop(cid)
        n = t.fallback_in_a_row
        if n and len(intents) >= n and all(i in t.fallback_intents for i, _ in intents[-n:]):
            return "fallback", f"{n} messages in a row not understood: {stored.text[:300]}"
        return None, None

    async def _may_trigger(self, stored: StoredInbound, tracker: TurnTracker) -> bool:
        """False only when the tracker's latest message is this one and its intent can fire
        no trigger (the usual turn): then the whole conversation need not be read, which
        keeps the reply's extra cost small and constant. True when in doubt."""
        from bot.rasa_client import is_latest  # (imported here as _user_intents does)

        try:
            latest = await tracker.latest()
        except Exception:  # the full read decides
            return True
        intent = latest.get("intent") if latest is not None else None
        if not isinstance(intent, Mapping) or not is_latest(latest, stored.key):
            return True
        t = self._ctx.config.triggers
        watched = {*t.fallback_intents, *t.complaint_intents, *t.safety_hazard_intents}
        return intent.get("name") in watched


def _person_asked(events: list[Any]) -> bool:
    """Whether this turn (the events after the last user message) answered a request for a
    person made inside a complaint."""
    for event in reversed(events):
        if not isinstance(event, dict):
            continue
        if event.get("event") == "user":
            return False
        if event.get("event") == "slot" and (event.get("name"), event.get("value")) == (
            _PERSON_ASKED
        ):
            return True
    return False


def _form_active(events: list[Any]) -> bool:
    """Whether the tracker ends inside a form (its last active_loop event names one)."""
    for event in reversed(events):
        if isinstance(event, dict) and event.get("event") == "active_loop":
            return bool(event.get("name"))
    return False


def _user_intents(events: list[Any]) -> list[tuple[str | None, str | None]]:
    """(intent, message key) of every user event of a tracker, oldest first."""
    from bot.rasa_client import MESSAGE_KEY

    out: list[tuple[str | None, str | None]] = []
    for event in events:
        if not isinstance(event, dict) or event.get("event") != "user":
            continue
        parse = event.get("parse_data")
        intent = parse.get("intent") if isinstance(parse, dict) else None
        name = intent.get("name") if isinstance(intent, dict) else None
        metadata = event.get("metadata")
        key = metadata.get(MESSAGE_KEY) if isinstance(metadata, dict) else None
        out.append((name if isinstance(name, str) else None, str(key) if key else None))
    return out

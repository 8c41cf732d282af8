"""The handoff desk: the gateway's side of human handoff (see bot/handoff/__init__.py).

The router calls, under the conversation's lock:

- `gate_in(session, stored)` inside the transaction that stores every customer
  message (then `gate_done` publishes, after the commit): while it has an open
  handoff (queued/assigned) the message is *handled here* (never by Rasa): the abandon words
  and the callback offer's answers are acted on, everything else waits for the agent. With no
  open handoff it catches the survey's rating and comment after a handoff ended.
- `after_turn(stored, tracker)` after Rasa answered: the triggers (request_human, fallbacks in a
  row, complaint, safety hazard) queue a handoff.
- `on_failure(stored, kind)` when Rasa or the action server failed.

These return the customer texts to add to the reply and never deliver themselves (the router
holds the lock). The agent console and the watcher use `claim`, `transfer`, `return_to_bot`,
`resolve`, `abandon`, `add_note`, `queue`, ...; those deliver their customer texts through the
router (`Router.deliver`) and publish events (bot/events.py) after their transaction commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from bot.events import EventHub, EventKind
from bot.handoff.config import HandoffConfig
from bot.messages import Button, Reply
from store.config import Settings
from store.db import unit_of_work
from store.models import Conversation, Handoff, HandoffRequest, Rating, StaffUser
from store.services import handoffs, nlu_inbox, ratings, ticket_intake, transcripts

if TYPE_CHECKING:
    from bot.rasa_client import TurnTracker
    from bot.transcript import StoredInbound
    from nlu.settings import InboxSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Payloads of the callback offer's buttons (what the channel sends back when pressed).
CALLBACK_YES = "/callback_yes"
CALLBACK_NO = "/callback_no"
#: The survey buttons send `/rate_service{"rating": N}` (Rasa's intent+entities syntax, so the
#: bot's own rate_service action understands it too if it ever gets there).
_RATE_PAYLOAD = re.compile(r"^/rate_service\s*(\{.*\})\s*$", re.S)
_BARE_RATING = re.compile(r"^\s*([1-5])\s*(分|星|stars?|points?)?\s*[。.!！]?\s*$", re.I)
_PUNCT = re.compile(r"[\s。．.!！?？,，~～]+")
PRIORITY_OF = {"safety_hazard": "urgent", "complaint": "high"}


@dataclass(frozen=True, slots=True)
class AgentRef:
    """The staff user acting in the console."""

    id: int
    username: str
    display_name: str = ""
    role: str = "agent"


@dataclass(frozen=True, slots=True)
class HandoffView:
    """A handoff as the console shows it (plain values, safe outside the session)."""

    id: int
    conversation_id: str
    channel: str
    state: str
    reason: str
    detail: str | None
    priority: str
    agent_id: int | None
    agent_username: str | None
    queued_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    callback_ticket_no: str | None
    customer_notice: str | None
    language: str | None

    @classmethod
    def of(cls, handoff: Handoff) -> HandoffView:
        conversation = handoff.conversation
        return cls(
            id=handoff.id,
            conversation_id=conversation.conversation_id,
            channel=conversation.channel,
            state=handoff.state,
            reason=handoff.reason,
            detail=handoff.detail,
            priority=handoff.priority,
            agent_id=handoff.agent_id,
            agent_username=handoff.agent.username if handoff.agent is not None else None,
            queued_at=handoff.queued_at,
            assigned_at=handoff.assigned_at,
            closed_at=handoff.closed_at,
            callback_ticket_no=handoff.callback_ticket_no,
            customer_notice=handoff.customer_notice,
            language=conversation.language,
        )

    def as_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "handoff_id": self.id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "state": self.state,
            "reason": self.reason,
            "detail": self.detail,
            "priority": self.priority,
            "agent_id": self.agent_id,
            "agent": self.agent_username,
            "queued_at": iso(self.queued_at),
            "assigned_at": iso(self.assigned_at),
            "closed_at": iso(self.closed_at),
            "callback_ticket_no": self.callback_ticket_no,
            "customer_notice": self.customer_notice,
            "language": self.language,
        }


@dataclass(frozen=True, slots=True)
class GateResult:
    """What the gate decided about one customer message."""

    handled: bool
    """True: the bot must not answer (Rasa is not called); `replies` (maybe none) are sent."""
    replies: tuple[Reply, ...] = ()
    handoff: HandoffView | None = None
    """The conversation's open handoff (or the one just closed by this message)."""


WaitingRequest = tuple[int | None, str | None]
"""(id, detail) of the action server's waiting handoff request, or (None, None)."""


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The gate's decision made inside a transaction (`HandoffDesk.gate_in`), with what to
    publish once it committed (`HandoffDesk.gate_done`)."""

    result: GateResult
    outcome: _Outcome


@dataclass
class _Outcome:
    """Collected inside a transaction, acted on after it commits."""

    replies: list[Reply] = field(default_factory=list)
    events: list[tuple[EventKind, dict[str, Any], str | None]] = field(default_factory=list)
    view: HandoffView | None = None
    sends: list[tuple[str, tuple[Reply, ...]]] = field(default_factory=list)
    """Customer texts for other conversations (the watcher's and console's passes)."""


def _norm(text: str) -> str:
    return _PUNCT.sub(" ", text.strip().lower()).strip()


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
        self._factory = factory
        self.events = events
        self.config = config
        self._store_settings = store_settings
        self._inbox = inbox
        """conf/nlu.yml's inbox settings: the messages before a handoff go to the NLU inbox;
        None: nothing is captured."""
        """Cheap first look (no events) so most turns never read the whole conversation."""
        self.clock = clock
        """Replaceable (tests): every decision about time uses it."""
        self._deliver: Callable[[str, Sequence[Reply], str], Awaitable[str]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._postponed: dict[str, tuple[str, str | None]] = {}
        """conversation id → (reason, detail) of a trigger waiting for the bot's form to end."""

    def bind(self, deliver: Callable[[str, Sequence[Reply], str], Awaitable[str]]) -> None:
        """How the desk sends customer texts outside a turn (the router's `deliver`)."""
        self._deliver = deliver

    # --- plumbing -------------------------------------------------------------------------

    def _sync(self, work: Callable[[Session], T]) -> T:
        with unit_of_work(self._factory) as session:
            return work(session)

    async def _run(self, work: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self._sync, work)

    def _publish(self, outcome: _Outcome) -> None:
        for kind, data, conversation_id in outcome.events:
            self.events.publish(kind, data, conversation_id=conversation_id)

    async def _finish(self, outcome: _Outcome) -> None:
        """After commit: publish, then deliver texts meant for other conversations."""
        self._publish(outcome)
        for conversation_id, replies in outcome.sends:
            if self._deliver is None:
                log.warning("%s: handoff text not delivered (no router bound)", conversation_id)
                continue
            try:
                await self._deliver(conversation_id, replies, "system")
            except Exception:
                log.exception("%s: handoff text not delivered", conversation_id)

    def _changed(
        self,
        outcome: _Outcome,
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

    def _queue_changed(self, session: Session, outcome: _Outcome) -> None:
        count = len(handoffs.queue(session))
        outcome.events.append(("queue_changed", {"queued": count}, None))

    def _text(self, key: str, language: str | None, **values: Any) -> str:
        return self.config.text(
            key, language, hotline=self._store_settings.service.hotline, **values
        )

    def _reply(self, key: str, language: str | None, **values: Any) -> Reply:
        return Reply(text=self._text(key, language, **values))

    def _callback_offer(self, key: str, language: str | None) -> Reply:
        return Reply(
            text=self._text(key, language, hours=self.config.hours_text(language)),
            buttons=(
                Button(self._text("callback_yes", language), CALLBACK_YES),
                Button(self._text("callback_no", language), CALLBACK_NO),
            ),
        )

    def _survey(self, language: str | None) -> Reply:
        return Reply(
            text=self._text("survey", language),
            buttons=tuple(Button(str(n), f'/rate_service{{"rating": {n}}}') for n in range(1, 6)),
        )

    # --- queries for the console ----------------------------------------------------------

    def agents_on_duty(self) -> bool:
        """Whether agents answer chats now (conf/service.yml agent_hours)."""
        return self.config.in_service_hours(self.clock())

    async def view(self, handoff_id: int) -> HandoffView:
        return await self._run(lambda s: HandoffView.of(handoffs.get(s, handoff_id)))

    async def open_for(self, conversation_id: str) -> HandoffView | None:
        def work(session: Session) -> HandoffView | None:
            handoff = handoffs.open_for_conversation_id(session, conversation_id)
            return HandoffView.of(handoff) if handoff is not None else None

        return await self._run(work)

    async def queue(self) -> list[HandoffView]:
        return await self._run(lambda s: [HandoffView.of(h) for h in handoffs.queue(s)])

    async def assigned_to(self, agent_id: int) -> list[HandoffView]:
        return await self._run(
            lambda s: [HandoffView.of(h) for h in handoffs.assigned_to(s, agent_id)]
        )

    async def agent_load(self) -> list[handoffs.AgentLoad]:
        return await self._run(handoffs.agent_load)

    # --- escalation -----------------------------------------------------------------------

    def _escalate(
        self,
        session: Session,
        conversation: Conversation,
        outcome: _Outcome,
        *,
        reason: str,
        detail: str | None,
        actor: str,
        now: datetime,
        announce: bool = True,
    ) -> Handoff:
        """Queue the conversation (idempotent), tell the customer, auto-assign, notices."""
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
        self._changed(outcome, handoff, "bot", actor=actor, why=reason)
        self._inbox_before_handoff(session, conversation, now)
        if reason == "safety_hazard":
            outcome.events.append(
                (
                    "alert",
                    {
                        "handoff_id": handoff.id,
                        "reason": reason,
                        "priority": handoff.priority,
                        "text": detail or "",
                    },
                    conversation.conversation_id,
                )
            )
        queue = handoffs.queue(session)
        position = next((i for i, h in enumerate(queue) if h.id == handoff.id), 0)
        if announce:
            outcome.replies.append(self._reply("queued", language, position=position))
        notice: str | None = None
        if not self.config.in_service_hours(now):
            # a customer who asked for a person outside the hours was told so by the assistant
            # and chose to leave a message: no second, contradicting notice
            notice = None if reason == "request_human" else "out_of_hours"
        elif not (
            self.config.auto_assign and self._auto_assign_one(session, handoff, outcome, now)
        ) and not handoffs.available_agents(session):
            notice = "no_agent"
        if notice and handoffs.mark_notice(session, handoff.id, notice, now=now):
            outcome.replies.append(self._callback_offer(notice, language))
        self._queue_changed(session, outcome)
        session.refresh(handoff)
        outcome.view = HandoffView.of(handoff)
        return handoff

    def _inbox_before_handoff(
        self, session: Session, conversation: Conversation, now: datetime
    ) -> None:
        """NLU inbox: whatever the trigger, the customer's last bot-answered messages before
        the handoff (what the bot may have misunderstood). Never fails the handoff: done in a
        savepoint (the handoff's INSERT has begun the transaction, SQLite too)."""
        if self._inbox is None:
            return
        try:
            with session.begin_nested():
                items = nlu_inbox.add_handoff_hits(
                    session, conversation_pk=conversation.id, settings=self._inbox, now=now
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

    def _auto_assign_one(
        self, session: Session, handoff: Handoff, outcome: _Outcome, now: datetime
    ) -> bool:
        agent = handoffs.least_loaded_available_agent(session)
        if agent is None:
            return False
        try:
            handoffs.assign(session, handoff.id, agent.id, now=now)
        except (handoffs.AlreadyClaimed, handoffs.IllegalTransition):
            return False
        session.refresh(handoff)
        self._changed(
            outcome, handoff, "queued", actor="system", why=f"assigned to {agent.username}"
        )
        outcome.replies.append(
            self._reply("assigned", handoff.conversation.language, agent=agent.display_name)
        )
        return True

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
        now = self.clock()

        def work(session: Session) -> _Outcome:
            conversation = transcripts.get_conversation(session, conversation_id)
            if conversation is None:
                raise handoffs.NotFound(f"no conversation {conversation_id}")
            outcome = _Outcome()
            self._escalate(
                session, conversation, outcome, reason=reason, detail=detail, actor=actor, now=now
            )
            if outcome.replies:
                outcome.sends.append((conversation_id, tuple(outcome.replies)))
            return outcome

        outcome = await self._run(work)
        await self._finish(outcome)
        assert outcome.view is not None
        return outcome.view

    # --- the router's hooks -----------------------------------------------------------------

    def gate_in(self, session: Session, stored: StoredInbound) -> GateDecision:
        """Decide about a stored customer message before Rasa sees it (see the module doc),
        inside the caller's transaction (the router's, which has just stored it); pass the
        decision to `gate_done` once that transaction committed. The usual message (no open
        handoff, no survey waiting) costs one Core read; the ORM objects are loaded only when
        there is something to do."""
        now = self.clock()
        outcome = _Outcome()
        latest = handoffs.latest_state(session, stored.conversation_pk)
        if latest is None or not (latest.open or self._survey_open(latest, now)):
            return GateDecision(GateResult(False), outcome)
        handoff = session.get(Handoff, latest.id)
        conversation = session.get(Conversation, stored.conversation_pk)
        if handoff is None or conversation is None:  # pragma: no cover - read just above
            return GateDecision(GateResult(False), outcome)
        if not latest.open:
            return GateDecision(
                self._survey_answer(session, conversation, handoff, stored.text, now), outcome
            )
        handoffs.customer_seen(session, handoff, now=now)
        replies = self._while_open(session, conversation, handoff, stored.text, outcome, now)
        return GateDecision(GateResult(True, tuple(replies), HandoffView.of(handoff)), outcome)

    def _survey_open(self, latest: handoffs.HandoffState, now: datetime) -> bool:
        """Whether the customer may still rate the handoff (ended by a person, recently)."""
        return (
            latest.state in ("resolved", "returned_to_bot")
            and latest.closed_at is not None
            and now - latest.closed_at <= self.config.survey_window
        )

    def gate_done(self, decision: GateDecision) -> GateResult:
        """After the gate's transaction committed: publish what it changed."""
        self._publish(decision.outcome)
        return decision.result

    def _while_open(
        self,
        session: Session,
        conversation: Conversation,
        handoff: Handoff,
        text: str,
        outcome: _Outcome,
        now: datetime,
    ) -> list[Reply]:
        if handoff.state != "queued":
            return []  # assigned: the agent answers
        language = conversation.language
        said = _norm(text)
        offered = handoff.customer_notice is not None
        if offered and (text.strip() == CALLBACK_YES or said in self.config.yes_words):
            ticket = ticket_intake.create_ticket(
                session,
                self._store_settings,
                type="callback",
                description=self._text("callback_description", "zh", reason=handoff.reason),
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
            self._changed(outcome, handoff, "queued", actor="customer", why="callback requested")
            self._queue_changed(session, outcome)
            return [self._reply("callback_created", language, number=ticket.ticket_no)]
        if offered and (text.strip() == CALLBACK_NO or said in self.config.no_words):
            return [self._reply("keep_waiting", language)]
        if said and any(word in said for word in self.config.leave_words):
            handoffs.abandon(session, handoff.id, actor="customer", now=now, why=text[:200])
            self._changed(outcome, handoff, "queued", actor="customer", why="left the queue")
            self._queue_changed(session, outcome)
            return [self._reply("abandoned", language)]
        return []

    def _survey_answer(
        self,
        session: Session,
        conversation: Conversation,
        latest: Handoff,
        text: str,
        now: datetime,
    ) -> GateResult:
        """After a handoff (`latest`, the conversation's last) ended, inside its survey window
        (`_survey_open`): a 1-5 rating (button or bare digit), then one comment. A question or
        a new request after the rating ('明天停电吗') is not a comment: the assistant answers it."""
        language = conversation.language
        given = session.scalars(
            select(Rating).where(Rating.handoff_id == latest.id).order_by(Rating.id.desc())
        ).first()
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
            return GateResult(True, (self._reply("survey_thanks", language, rating=rating),))
        if (
            given.comment is None
            and rating is None
            and text.strip()
            and not text.strip().startswith("/")
            and now - given.created_at <= self.config.comment_window
            and self.config.reads_as_comment(text)
        ):
            given.comment = text.strip()[:1000]
            session.flush()
            return GateResult(True, (self._reply("comment_thanks", language),))
        return GateResult(False)

    def waiting_request(self, session: Session, conversation_id: str) -> WaitingRequest:
        """Inside the caller's transaction (the router's, storing the bot's replies): the
        action server's newest 'waiting' handoff request of the conversation, for
        `after_turn`; (None, None) when there is none or the trigger is off."""
        if not self.config.triggers.request_human:
            return None, None
        return _waiting_request(session, conversation_id)

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
        triggers = self.config.triggers
        reason: str | None = None
        detail: str | None = None
        request_id: int | None = None
        if triggers.request_human:
            if waiting is None:
                waiting = await self._run(lambda s: _waiting_request(s, stored.conversation_id))
            request_id, detail = waiting
            if request_id is not None:
                reason = "request_human"
        if reason is None and tracker is not None and self._intent_triggers():
            reason, detail = await self._intent_trigger(stored, tracker)
        if reason is None:
            return ()
        return await self._escalate_now(stored, reason=reason, detail=detail, request_id=request_id)

    def _intent_triggers(self) -> bool:
        t = self.config.triggers
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
        t = self.config.triggers
        current = intents[-1][0]
        in_form = _form_active(events)
        found: tuple[str, str] | None = None
        if t.safety_hazard and current in t.safety_hazard_intents:
            found = ("safety_hazard", stored.text[:500])
            if in_form:  # the handoff (and its own alert) comes when the form ends
                self.events.publish(
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
        t = self.config.triggers
        watched = {*t.fallback_intents, *t.complaint_intents, *t.safety_hazard_intents}
        return intent.get("name") in watched

    async def on_failure(self, stored: StoredInbound, kind: str) -> tuple[Reply, ...]:
        """Rasa timed out / is down ('rasa_timeout') or the actions failed ('action_failure')."""
        t = self.config.triggers
        if (kind == "rasa_timeout" and not t.rasa_timeout) or (
            kind == "action_failure" and not t.action_failure
        ):
            return ()
        return await self._escalate_now(stored, reason=kind, detail=stored.text[:500])

    async def _escalate_now(
        self,
        stored: StoredInbound,
        *,
        reason: str,
        detail: str | None,
        request_id: int | None = None,
    ) -> tuple[Reply, ...]:
        now = self.clock()
        self._postponed.pop(stored.conversation_id, None)

        def work(session: Session) -> _Outcome:
            outcome = _Outcome()
            conversation = transcripts.get_conversation(session, stored.conversation_id)
            if conversation is None:  # pragma: no cover - stored before
                return outcome
            if request_id is not None:
                request = session.get(HandoffRequest, request_id)
                if request is not None:
                    request.status = "queued"
            self._escalate(
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

        outcome = await self._run(work)
        self._publish(outcome)
        return tuple(outcome.replies)

    async def is_open(self, conversation_id: str) -> bool:
        return await self.open_for(conversation_id) is not None

    # --- the console's actions --------------------------------------------------------------

    async def _act(
        self,
        handoff_id: int,
        change: Callable[[Session, Handoff], tuple[str, str | None]],
        texts: Callable[[Handoff], list[Reply]],
    ) -> HandoffView:
        """Apply `change` (returns actor, why), publish, tell the customer `texts`."""

        def work(session: Session) -> _Outcome:
            outcome = _Outcome()
            before = handoffs.get(session, handoff_id)
            from_state = before.state
            actor, why = change(session, before)
            handoff = handoffs.get(session, handoff_id)
            self._changed(outcome, handoff, from_state, actor=actor, why=why)
            self._queue_changed(session, outcome)
            replies = texts(handoff)
            if replies:
                outcome.sends.append((handoff.conversation.conversation_id, tuple(replies)))
            return outcome

        outcome = await self._run(work)
        await self._finish(outcome)
        assert outcome.view is not None
        return outcome.view

    async def claim(self, handoff_id: int, agent_id: int) -> HandoffView:
        """The agent takes a queued chat; `handoffs.AlreadyClaimed` if someone was faster."""
        now = self.clock()

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            agent = handoffs.claim(session, handoff_id, agent_id, now=now).agent
            return (agent.username if agent else "?"), "claimed"

        return await self._act(
            handoff_id,
            change,
            lambda h: [
                self._reply(
                    "assigned",
                    h.conversation.language,
                    agent=h.agent.display_name if h.agent else "",
                )
            ],
        )

    async def transfer(
        self, handoff_id: int, from_agent_id: int, to_agent_id: int, why: str | None = None
    ) -> HandoffView:
        now = self.clock()

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            h = handoffs.transfer(session, handoff_id, from_agent_id, to_agent_id, now=now, why=why)
            return _username(session, from_agent_id), why or f"transferred to {h.agent_id}"

        return await self._act(
            handoff_id,
            change,
            lambda h: [
                self._reply(
                    "assigned",
                    h.conversation.language,
                    agent=h.agent.display_name if h.agent else "",
                )
            ],
        )

    async def return_to_bot(
        self, handoff_id: int, agent_id: int, why: str | None = None
    ) -> HandoffView:
        """The bot answers again; the customer is told and asked for a rating."""
        now = self.clock()

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            handoffs.return_to_bot(session, handoff_id, agent_id, now=now, why=why)
            return _username(session, agent_id), why

        return await self._act(
            handoff_id,
            change,
            lambda h: [
                self._reply("returned", h.conversation.language),
                self._survey(h.conversation.language),
            ],
        )

    async def resolve(self, handoff_id: int, agent_id: int, why: str | None = None) -> HandoffView:
        """The case is done; the customer is asked for a rating."""
        now = self.clock()

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            handoffs.resolve(session, handoff_id, agent_id, now=now, why=why)
            return _username(session, agent_id), why

        return await self._act(
            handoff_id, change, lambda h: [self._survey(h.conversation.language)]
        )

    async def abandon(self, handoff_id: int, actor: str, why: str | None = None) -> HandoffView:
        now = self.clock()

        def change(session: Session, handoff: Handoff) -> tuple[str, str | None]:
            handoffs.abandon(session, handoff_id, actor=actor, now=now, why=why)
            return actor, why

        return await self._act(handoff_id, change, lambda h: [])

    async def add_note(self, handoff_id: int, agent_id: int, text: str) -> int:
        """A private note; its id."""
        now = self.clock()
        return await self._run(
            lambda s: handoffs.add_note(s, handoff_id, agent_id, text, now=now).id
        )

    async def set_availability(self, agent_id: int, availability: str) -> None:
        """available/away/offline; an agent becoming available may get queued chats."""
        from store.services import staff

        await self._run(lambda s: staff.set_availability(s, agent_id, availability))
        if availability == "available" and self.config.auto_assign:
            await self.watch_once()

    # --- the watcher ------------------------------------------------------------------------

    async def watch_once(self) -> None:
        """One pass: abandon silent queued customers, the wait-limit and out-of-hours notices,
        auto-assignment of the queue."""
        now = self.clock()

        def work(session: Session) -> _Outcome:
            outcome = _Outcome()
            changed = False
            for handoff in handoffs.open_handoffs(session):
                if handoff.state != "queued":
                    continue
                conversation = handoff.conversation
                language = conversation.language
                cid = conversation.conversation_id
                last = handoff.last_customer_at or handoff.queued_at
                if now - last >= self.config.abandon_after:
                    handoffs.abandon(
                        session, handoff.id, actor="system", now=now, why="customer silent"
                    )
                    self._changed(outcome, handoff, "queued", actor="system", why="silent")
                    changed = True
                    continue
                notice: str | None = None
                if handoff.customer_notice is None:
                    if not self.config.in_service_hours(now):
                        notice = "out_of_hours"
                    elif now - handoff.queued_at >= self.config.wait_limit:
                        notice = "wait_limit"
                if notice and handoffs.mark_notice(session, handoff.id, notice, now=now):
                    outcome.sends.append((cid, (self._callback_offer(notice, language),)))
            if self.config.auto_assign and self.config.in_service_hours(now):
                for handoff in handoffs.queue(session):
                    before = len(outcome.replies)
                    if not self._auto_assign_one(session, handoff, outcome, now):
                        break
                    cid = handoff.conversation.conversation_id
                    outcome.sends.append((cid, tuple(outcome.replies[before:])))
                    changed = True
            if changed:
                self._queue_changed(session, outcome)
            return outcome

        outcome = await self._run(work)
        await self._finish(outcome)

    def start(self) -> None:
        if self.config.watch_interval > 0 and self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._loop(), name="handoff-watcher")

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.watch_once()
            except Exception:
                log.exception("handoff watcher pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.config.watch_interval)

    async def stop(self, grace: float) -> None:
        self._stop.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(task, grace)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()


def _username(session: Session, agent_id: int) -> str:
    user = session.get(StaffUser, agent_id)
    return user.username if user is not None else str(agent_id)


_REQUESTS = HandoffRequest.__table__
_WAITING = (  # built once: every turn runs it
    select(_REQUESTS.c.id, _REQUESTS.c.reason)
    .where(_REQUESTS.c.sender_id == bindparam("sender"), _REQUESTS.c.status == "waiting")
    .order_by(_REQUESTS.c.id.desc())
    .limit(1)
)


def _waiting_request(session: Session, conversation_id: str) -> tuple[int | None, str | None]:
    """The action server's newest 'waiting' handoff request of the conversation (every turn
    asks: a Core read)."""
    request = session.connection().execute(_WAITING, {"sender": conversation_id}).first()
    if request is None:
        return None, None
    return request.id, f"{request.reason} (request #{request.id})"


#: the slot the assistant sets when a complaint asked for a person (actions/feedback.py HANDOFF):
#: the assistant has answered that request, in or outside agents' hours
_PERSON_ASKED = ("feedback_type", "handoff")


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

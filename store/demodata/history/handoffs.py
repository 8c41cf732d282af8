"""The people's side of the history's conversations: handoffs to agents as the gateway's desk
records them (store/services/handoffs.py), their events, the survey's ratings (store/services/
ratings.py), and the bot's own ratings.

bot → queued (with the gateway's "queued" words), then an agent (auto-assigned by the system,
or claimed from the queue), their first answer, perhaps a transfer, resolved or returned to
the bot, the survey and its 1-5 rating. Or the customer leaves the queue (abandoned), or takes
a callback after the wait limit or out of hours (expired, with the callback ticket's number).
During the satisfaction dip one agent is away: queues are long and ratings low.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Final

from store.demodata.history import texts_chat as say
from store.demodata.history.chat import Chat
from store.demodata.history.context import AgentRef, Ctx
from store.demodata.history.patterns import AWAY_AGENT
from store.demodata.history.sink import table_of
from store.models import (
    AgentNote,
    Handoff,
    HandoffEvent,
    HandoffRequest,
    HandoffState,
    MessageSender,
    Rating,
)

HANDOFFS: Final = table_of(Handoff)
EVENTS: Final = table_of(HandoffEvent)
REQUESTS: Final = table_of(HandoffRequest)
NOTES: Final = table_of(AgentNote)
RATINGS: Final = table_of(Rating)
WAIT_LIMIT: Final = 300.0
"""conf/handoff.yml wait_limit_minutes (its default), in seconds."""
#: chance of 5, 4, 3, 2, 1 stars in each phase of the year
STARS: Final = {
    "before": (0.55, 0.30, 0.08, 0.04, 0.03),
    "dip": (0.2, 0.22, 0.2, 0.18, 0.2),
    "recovery": (0.35, 0.3, 0.15, 0.1, 0.1),
    "after": (0.66, 0.27, 0.04, 0.02, 0.01),
}
#: agent → (median seconds to the first answer, how their ratings lean: + better)
TRAITS: Final = {"agent1": (40.0, 0.0), "agent2": (28.0, 0.15), "supervisor": (75.0, -0.05)}
SYS = MessageSender.SYSTEM


def phase(ctx: Ctx, day: date) -> str:
    p = ctx.patterns
    if p.in_dip(day):
        return "dip"
    if p.in_recovery(day):
        return "recovery"
    return "after" if (day.year, day.month) > p.recovery else "before"


def stars(ctx: Ctx, day: date, lean: float = 0.0) -> int:
    """A 1-5 rating in the year's phase `day` is in, nudged by `lean` (-1..1)."""
    rating = ctx.rng.choices((5, 4, 3, 2, 1), STARS[phase(ctx, day)])[0]
    if lean and ctx.chance(abs(lean)):
        rating = min(5, max(1, rating + (1 if lean > 0 else -1)))
    return rating


def _trait(agent: AgentRef) -> tuple[float, float]:
    if agent.username in TRAITS:
        return TRAITS[agent.username]
    seed = sum(map(ord, agent.username))
    return 30.0 + seed % 40, ((seed % 7) - 3) / 20


def _on_duty(ctx: Ctx, day: date) -> list[AgentRef]:
    away = AWAY_AGENT if ctx.patterns.in_dip(day) else ""
    return [a for a in ctx.station.agents if a.username != away]


def _wait(ctx: Ctx, day: date) -> float:
    """Seconds in the queue: short, except in the dip (one agent away) and the storm."""
    if ctx.patterns.in_dip(day):
        return ctx.spread(330, 0.8)
    if ctx.patterns.storm_day(day):
        return ctx.spread(420, 0.7)
    return ctx.spread(55, 0.9)


class Handing:
    """One handoff being written into a chat."""

    def __init__(self, ctx: Ctx, chat: Chat, reason: str) -> None:
        self.ctx, self.chat, self.reason = ctx, chat, reason
        self.id = ctx.sink.new_id(HANDOFFS)
        self.row = {
            "id": self.id, "conversation_pk": chat.ref.pk, "state": HandoffState.QUEUED.value,
            "reason": reason, "detail": None,
            "priority": "urgent" if reason == "safety_hazard" else "normal",
            "agent_id": None, "queued_at": chat.t, "assigned_at": None, "closed_at": None,
            "callback_ticket_no": None, "customer_notice": None, "notice_at": None,
            "last_customer_at": chat.t,
        }  # fmt: skip
        self.events: list[tuple[str, str, str, str | None]] = []
        self.event(HandoffState.BOT, HandoffState.QUEUED, "bot", reason)

    def event(self, before: str, after: str, actor: str, why: str | None) -> None:
        self.events.append((before, after, actor, why))
        self.chat.later.append((EVENTS, {
            "id": self.ctx.sink.new_id(EVENTS), "handoff_id": self.id, "from_state": before,
            "to_state": after, "at": self.chat.t, "actor": actor, "why": why,
        }))  # fmt: skip
        self.row["state"] = after
        if after not in (HandoffState.QUEUED, HandoffState.ASSIGNED):
            self.row["closed_at"] = self.chat.t

    def notice(self, kind: str, text: str) -> None:
        self.row.update(customer_notice=kind, notice_at=self.chat.t)
        self.chat.say(SYS, text)

    def customer(self, text: str) -> None:
        self.chat.customer(text)
        self.row["last_customer_at"] = self.chat.t

    def finish(self) -> None:
        self.chat.later.insert(0, (HANDOFFS, self.row))


Callback = Callable[[Chat, str], str] | None
"""Opens the callback ticket (for the chat, the handoff's reason) a customer takes instead of
waiting; returns its number."""


def _callback_or_leave(ctx: Ctx, h: Handing, make_callback: Callback) -> bool:
    """After the wait-limit or out-of-hours notice: a callback ticket (expired), leaving
    (abandoned), or (False) waiting on."""
    roll = ctx.rng.random()
    if roll < 0.45 and make_callback is not None:
        number = make_callback(h.chat, h.reason)
        h.chat.say(SYS, ctx.texts["callback_created"].format(number=number))
        h.row["callback_ticket_no"] = number
        h.event(HandoffState.QUEUED, HandoffState.EXPIRED, "system", "callback")
        return True
    if roll < 0.75:
        h.customer(ctx.pick(say.CUSTOMER_LEAVING))
        h.event(HandoffState.QUEUED, HandoffState.ABANDONED, "customer", "left")
        h.chat.say(SYS, ctx.texts["abandoned"])
        return True
    return False


def _queue(ctx: Ctx, h: Handing, day: date, make_callback: Callback) -> float | None:
    """Queued until an agent takes it: the seconds waited, or None when it ended unserved."""
    wait = _wait(ctx, day)
    if wait > WAIT_LIMIT:
        h.chat.wait(WAIT_LIMIT)
        h.notice("wait_limit", ctx.texts["wait_limit"])
        if _callback_or_leave(ctx, h, make_callback):
            return None
        h.chat.say(SYS, ctx.texts["keep_waiting"])
        h.chat.wait(max(0.0, wait - WAIT_LIMIT))
    elif ctx.chance(0.03):
        h.chat.wait(wait)
        h.customer(ctx.pick(say.CUSTOMER_LEAVING))
        h.event(HandoffState.QUEUED, HandoffState.ABANDONED, "customer", "left")
        return None
    else:
        h.chat.wait(wait)
    return wait


def _take(ctx: Ctx, h: Handing, day: date, agents: list[AgentRef]) -> AgentRef:
    """An agent takes the chat (auto-assigned by the system or claimed) and says hello."""
    sup = ctx.station.supervisor
    agent = sup if sup is not None and ctx.chance(0.08) else ctx.pick(agents)
    Q, A = HandoffState.QUEUED, HandoffState.ASSIGNED
    if ctx.chance(0.8):
        h.event(Q, A, "system", f"assigned to {agent.username}")
    else:
        h.event(Q, A, agent.username, "claimed")
    h.row.update(agent_id=agent.id, assigned_at=h.chat.t)
    h.chat.say(SYS, ctx.texts["assigned"].format(agent=agent.display_name))
    slow = 1.8 if ctx.patterns.in_dip(day) else 1.0
    h.chat.wait(ctx.spread(_trait(agent)[0] * slow, 0.6))
    h.chat.say(MessageSender.AGENT, ctx.pick(say.AGENT_OPENING).format(agent=agent.display_name))
    return agent


def _transfer(ctx: Ctx, h: Handing, agent: AgentRef, agents: list[AgentRef]) -> AgentRef:
    """Now and then the chat goes to a colleague (assigned → assigned)."""
    if len(agents) < 2 or not ctx.chance(0.05):
        return agent
    other = ctx.pick([a for a in agents if a.id != agent.id])
    state = HandoffState.ASSIGNED
    h.event(state, state, agent.username, f"transferred to {other.username}")
    h.row.update(agent_id=other.id, assigned_at=h.chat.t)
    h.chat.wait(ctx.spread(60, 0.5))
    h.chat.say(MessageSender.AGENT, ctx.pick(say.AGENT_ANSWERS))
    return other


def _serve(ctx: Ctx, h: Handing, day: date) -> AgentRef:
    """An agent takes the chat, answers, perhaps transfers it, and ends it; who ended it."""
    agents = _on_duty(ctx, day)
    agent = _take(ctx, h, day, agents)
    for _ in range(ctx.rng.randint(1, 3)):
        h.customer(ctx.pick(say.CUSTOMER_TO_AGENT))
        h.chat.wait(ctx.spread(50, 0.6))
        h.chat.say(MessageSender.AGENT, ctx.pick(say.AGENT_ANSWERS))
    agent = _transfer(ctx, h, agent, agents)
    if ctx.chance(0.1):
        h.chat.later.append((NOTES, {
            "id": ctx.sink.new_id(NOTES), "handoff_id": h.id, "agent_id": agent.id,
            "text": ctx.pick(say.AGENT_NOTES), "at": h.chat.t,
        }))  # fmt: skip
    h.chat.say(MessageSender.AGENT, ctx.pick(say.AGENT_CLOSING))
    h.customer(ctx.pick(say.CUSTOMER_THANKS))
    h.chat.wait(ctx.spread(40, 0.5))
    if ctx.chance(0.3):
        h.event(HandoffState.ASSIGNED, HandoffState.RETURNED_TO_BOT, agent.username, None)
        h.chat.say(SYS, ctx.texts["returned"])
    else:
        h.event(HandoffState.ASSIGNED, HandoffState.RESOLVED, agent.username, None)
    return agent


def _survey(ctx: Ctx, h: Handing, agent: AgentRef, day: date, waited: float) -> None:
    buttons = [
        {"title": str(n), "payload": "/rate_service" + json.dumps({"rating": n})}
        for n in range(1, 6)
    ]
    h.chat.say(SYS, ctx.texts["survey"], buttons=buttons)
    if not ctx.chance(0.55 if ctx.patterns.in_dip(day) else 0.7):
        return
    lean = _trait(agent)[1] - (0.3 if waited > WAIT_LIMIT else 0.0)
    rating = stars(ctx, day, lean)
    h.chat.customer(str(rating))
    rated_at = h.chat.t
    h.chat.say(SYS, ctx.texts["survey_thanks"].format(rating=rating))
    comment = None
    if ctx.chance(0.2):
        comment = ctx.pick(say.CUSTOMER_THANKS if rating >= 4 else say.CUSTOMER_LEAVING)
        h.chat.customer(comment)
        h.chat.say(SYS, ctx.texts["comment_thanks"])
    h.chat.later.append((RATINGS, {
        "id": ctx.sink.new_id(RATINGS), "sender_id": h.chat.id, "channel": h.chat.ref.channel,
        "rating": rating, "comment": comment, "created_at": rated_at,
        "handoff_id": h.id, "agent_id": agent.id,
    }))  # fmt: skip


def hand_off(ctx: Ctx, chat: Chat, reason: str, make_callback: Callback = None) -> bool:
    """The chat goes to a person now (the bot has said so); `make_callback` opens the callback
    ticket a customer may take instead. Outside the agents' hours the assistant offers the
    callback itself and nobody is queued (False)."""
    if not ctx.agents_on_duty(chat.t):
        asked = chat.answered[-1][0] if chat.answered else None
        chat.say(MessageSender.BOT, ctx.texts["out_of_hours"], asked)
        if make_callback is not None and ctx.chance(0.3):
            yes = chat.customer(ctx.pick(say.YES), "affirm", round(ctx.rng.uniform(0.85, 0.99), 4))
            number = make_callback(chat, reason)
            chat.say(MessageSender.BOT, ctx.texts["callback_created"].format(number=number), yes)
        return False
    day = chat.t.astimezone(ctx.tz).date()
    if reason == "request_human":
        chat.later.append((REQUESTS, {
            "id": ctx.sink.new_id(REQUESTS), "sender_id": chat.id, "channel": chat.ref.channel,
            "reason": reason, "transcript": [], "status": "queued", "created_at": chat.t,
        }))  # fmt: skip
    for message_id, text, intent in chat.answered[-2:]:
        chat.inbox(message_id, text, "handoff", intent, None, intent)
    h = Handing(ctx, chat, reason)
    chat.say(SYS, ctx.texts["queued"].format(position=ctx.rng.randint(0, 2)))
    waited = _queue(ctx, h, day, make_callback)
    if waited is not None:
        agent = _serve(ctx, h, day)
        if chat.answered and ctx.chance(0.05):
            message_id, text, intent = chat.answered[-1]
            chat.inbox(message_id, text, "flagged", intent, None, None, flagged_by=agent.id)
        _survey(ctx, h, agent, day, waited)
    h.finish()
    return True


def bot_rating(ctx: Ctx, chat: Chat) -> None:
    """The customer rates the bot at the end of a conversation without a person."""
    day = chat.t.astimezone(ctx.tz).date()
    rating = stars(ctx, day, 0.1)
    text = say.RATING_WORDS[rating]
    chat.turn(text, "rate_service", say.RATING_THANKS.format(rating=rating))
    chat.later.append((RATINGS, {
        "id": ctx.sink.new_id(RATINGS), "sender_id": chat.id, "channel": chat.ref.channel,
        "rating": rating, "comment": text, "created_at": chat.t, "handoff_id": None,
        "agent_id": None,
    }))  # fmt: skip

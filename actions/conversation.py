"""Conversation control: handoff requests, the two-stage fallback, out-of-scope answers,
leaving a form halfway, and replies to input that is not a question at all."""

from __future__ import annotations

import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet

from actions import subscriptions
from actions.base import Events, StoreAction, Turn
from actions.config import load_assistant_config
from actions.texts import phrase
from actions.tracking import track_written_number
from store.configuration.service import hours_label, on_duty
from store.services import handoff_requests

_WORD = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)
_GAS = ("煤气", "燃气", "天然气", "液化气", "gas leak", "smell gas", "gas smell")
_CONTROL = frozenset(
    {"greet", "goodbye", "affirm", "deny", "thank", "inform", "out_of_scope", "nlu_fallback"}
)
_FORM_SLOTS = (
    "requested_slot",
    "account_no",
    "phone_last4",
    "service_address",
    "service_area",
    "fault_scope",
    "business_type",
    "pending_request",
    "feedback_type",
    "app_type",
    "issue_text",
    "hazard_ticket",
)


def bad_input_reply(turn: Turn) -> bool:
    """Empty, oversized or wordless (emoji-only) messages get a specific, polite answer."""
    text = turn.text.strip()
    limit = load_assistant_config().max_chars
    if not text:
        turn.say("utter_empty_message")
    elif len(text) > limit:
        turn.say("utter_message_too_long", limit=limit)
    elif not _WORD.search(text):
        turn.say("utter_no_words")
    else:
        return False
    return True


def transcript(turn: Turn, limit: int = 50) -> list[dict[str, Any]]:
    """The conversation so far, as the agent will read it (who, text, intent, confidence)."""
    lines: list[dict[str, Any]] = []
    for event in turn.tracker.events:
        kind = event.get("event")
        if kind == "user":
            intent = (event.get("parse_data") or {}).get("intent") or {}
            lines.append(
                {
                    "from": "customer",
                    "text": event.get("text"),
                    "intent": intent.get("name"),
                    "confidence": intent.get("confidence"),
                    "at": event.get("timestamp"),
                }
            )
        elif kind == "bot" and event.get("text"):
            lines.append({"from": "bot", "text": event.get("text"), "at": event.get("timestamp")})
    return lines[-limit:]


#: the entity of the off-hours buttons: 'callback' (staff phone back) or 'message' (queued
#: for the next shift)
OPTION_ENTITY = "handoff_option"
#: metadata the gateway adds to each message: whether its handoff desk has agents on duty now
ON_DUTY_KEY = "agents_on_duty"


def agents_on_duty(turn: Turn) -> bool:
    """The gateway says (it queues by the same schedule); without a gateway, conf/service.yml."""
    metadata = turn.tracker.latest_message.get("metadata") or {}
    if isinstance(metadata.get(ON_DUTY_KEY), bool):
        return bool(metadata[ON_DUTY_KEY])
    local = turn.now().astimezone(ZoneInfo(turn.settings.timezone))
    return on_duty(turn.settings.service.agent_hours, local)


def agent_hours_text(turn: Turn) -> str:
    return hours_label(turn.settings.service.agent_hours, turn.language)


def off_hours_buttons(turn: Turn) -> list[dict[str, str]]:
    def option(value: str) -> str:
        return "/request_human" + json.dumps({OPTION_ENTITY: value})

    return [
        {"title": phrase("handoff_callback", turn.language), "payload": option("callback")},
        {"title": phrase("handoff_message", turn.language), "payload": option("message")},
        {"title": phrase("handoff_no_thanks", turn.language), "payload": "/deny"},
    ]


class ActionRequestHuman(StoreAction):
    """One answer to '转人工': in agents' hours the request is queued; outside them the customer
    hears so first, with the hours, and chooses a call-back or a message for the next shift
    (queued only then), or nothing."""

    def name(self) -> str:
        return "action_request_human"

    def act(self, turn: Turn) -> Events:
        return request_person(turn)


def request_person(turn: Turn) -> Events:
    """'转人工' (or a complaint that asks for a person): see ActionRequestHuman."""
    option = turn.entity(OPTION_ENTITY)
    on_duty_now = agents_on_duty(turn)
    if option == "callback":
        # the contact form asks for a phone unless one is known, then opens the ticket
        return [
            SlotSet("fallback_count", 0.0),
            SlotSet("feedback_type", "callback"),
            FollowupAction("contact_form"),
        ]
    if not on_duty_now and option != "message":
        turn.say(
            "utter_handoff_off_hours",
            hours=agent_hours_text(turn),
            buttons=off_hours_buttons(turn),
        )
        return [SlotSet("fallback_count", 0.0)]
    reason = "fallback" if (turn.slot("fallback_count") or 0) else "customer_request"
    with turn.session() as session:
        request = handoff_requests.record_request(
            session,
            sender_id=turn.sender_id,
            channel=turn.channel,
            reason=reason,
            transcript=transcript(turn),
            now=turn.now(),
        )
        request_id = request.id
    if on_duty_now:
        turn.say("utter_handoff_requested", request_id=request_id)
    else:
        hours = agent_hours_text(turn)
        turn.say("utter_handoff_message_left", request_id=request_id, hours=hours)
    return [SlotSet("fallback_count", 0.0)]


class ActionFallbackOptions(StoreAction):
    """First miss: the likeliest intents as buttons. After N misses in a row: offer a human."""

    def name(self) -> str:
        return "action_fallback_options"

    def act(self, turn: Turn) -> Events:
        if bad_input_reply(turn):
            return []
        if subscriptions.handled(turn):  # 退订 / 订阅停电通知, however NLU read it
            return [SlotSet("fallback_count", 0.0)]
        tracked = track_written_number(turn)  # "A2611220002到哪一步了": the number says it
        if tracked is not None:
            return [*tracked, SlotSet("fallback_count", 0.0)]
        config = load_assistant_config()
        misses = int(turn.slot("fallback_count") or 0)
        if misses >= config.misses_before_human:
            # a person is offered, never imposed: queued only when the customer presses it
            turn.say("utter_fallback_human", hours=agent_hours_text(turn))
            return []
        ranking = turn.tracker.latest_message.get("intent_ranking") or []
        buttons = []
        for item in ranking:
            name = str(item.get("name"))
            label = config.intent_labels.get(name)
            if name in _CONTROL or label is None:
                continue
            buttons.append({"title": turn.label(label.zh, label.en), "payload": f"/{name}"})
            if len(buttons) == config.fallback_options:
                break
        human = config.intent_labels["request_human"]
        buttons.append({"title": turn.label(human.zh, human.en), "payload": "/request_human"})
        turn.say("utter_fallback_options", buttons=buttons)
        return []


class ActionOutOfScope(StoreAction):
    """Politely declines, except for a gas leak, which gets life-safety advice first."""

    def name(self) -> str:
        return "action_out_of_scope"

    def act(self, turn: Turn) -> Events:
        text = turn.text.lower()
        if any(word in text for word in _GAS):
            turn.say("utter_gas_leak")
        elif subscriptions.handled(turn):
            return []
        elif not bad_input_reply(turn):
            turn.say("utter_out_of_scope")
        return []


class ActionCancelForm(StoreAction):
    """Leaves the active form and forgets its half-filled answers; nothing is submitted."""

    def name(self) -> str:
        return "action_cancel_form"

    def act(self, turn: Turn) -> Events:
        if turn.intent == "deny":
            turn.say("utter_form_cancelled")
        return [ActiveLoop(None), *(SlotSet(slot, None) for slot in _FORM_SLOTS)]

"""Tickets from what customers tell us: meter tests, complaints, suggestions, praise,
anonymous violation reports, and service ratings."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import Events, StoreAction, Turn, cleared
from actions.config import load_assistant_config
from actions.conversation import request_person
from actions.forms_common import AddressPhoneForm, without_known
from actions.parsing import normalise_digits
from actions.ticketing import customer_words, open_ticket
from store.models import TicketType
from store.services import areas, ratings, tickets

FEEDBACK_TICKET = {
    "meter_issue": TicketType.METER_TEST,
    "file_complaint": TicketType.COMPLAINT,
    "give_suggestion": TicketType.SUGGESTION,
    "give_praise": TicketType.PRAISE,
    "callback": TicketType.CALLBACK,
}
_NEEDS = {
    "meter_issue": ["service_address", "contact_phone"],
    "file_complaint": ["issue_text", "contact_phone"],
    "callback": ["contact_phone"],
}


#: feedback_type of a complaint that asked for a person: the contact form asks nothing and
#: nothing is submitted (the gateway's complaint trigger reads it too: bot/handoff/triggers)
HANDOFF = "handoff"


def asks_for_person(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in load_assistant_config().person_words)


def complaint_story(text: str) -> str | None:
    """The complaint's own words when the message says what happened ('我要投诉抢修态度差'),
    None when it is only the wish to complain ('我要投诉')."""
    config = load_assistant_config()
    rest = text.lower()
    for word in config.complaint_opening_words:
        rest = rest.replace(word, " ")
    rest = "".join(ch for ch in rest if ch.isalnum())
    return text.strip() if len(rest) >= config.min_story_chars else None


class ActionStartFeedback(StoreAction):
    """Sets what the contact form is for. A complaint first hears an apology and 'what
    happened?' unless the message already says it; an explicit request for a person inside a
    complaint is honoured (the same answer as '转人工')."""

    def name(self) -> str:
        return "action_start_feedback"

    def act(self, turn: Turn) -> Events:
        kind = turn.intent if turn.intent in FEEDBACK_TICKET else turn.slot("feedback_type")
        if kind != "file_complaint":
            return [SlotSet("feedback_type", kind)]
        if asks_for_person(turn.text):
            return [*request_person(turn), SlotSet("feedback_type", HANDOFF)]
        story = complaint_story(turn.text)
        if story is None:
            turn.say("utter_complaint_sorry")
        return [SlotSet("feedback_type", kind), SlotSet("issue_text", story)]


class ValidateContactForm(AddressPhoneForm):
    def name(self) -> str:
        return "validate_contact_form"

    def needed_slots(self, turn: Turn, domain_slots: list[str]) -> list[str]:
        """What this kind of feedback needs (not the domain's list), less what is known."""
        needed = _NEEDS.get(str(turn.slot("feedback_type")), [])
        if turn.slot("issue_text"):
            needed = [s for s in needed if s != "issue_text"]
        if turn.verified_account_no():
            needed = [s for s in needed if s != "service_address"]  # the account's address
        return without_known(turn, needed)

    async def validate_issue_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        limit = load_assistant_config().description_max_chars
        text = " ".join(str(value or "").split())[:limit]
        return {"issue_text": text or None}


class ActionSubmitFeedback(StoreAction):
    """Opens the ticket; a second complaint while one is open escalates it instead (12398)."""

    def name(self) -> str:
        return "action_submit_feedback"

    def act(self, turn: Turn) -> Events:
        kind = str(turn.slot("feedback_type") or "give_suggestion")
        if kind == HANDOFF:
            return _reset()  # the customer asked for a person: action_start_feedback answered
        ticket_type = FEEDBACK_TICKET.get(kind, TicketType.SUGGESTION)
        c = turn.settings.commitments
        with turn.session() as session:
            account = turn.verified_account(session)
            if ticket_type == TicketType.COMPLAINT:
                mine = (
                    tickets.open_for_account(session, account.id)
                    if account
                    else tickets.open_for_sender(session, turn.sender_id)
                )
                earlier = next((t for t in mine if t.type == TicketType.COMPLAINT), None)
                if earlier is not None:
                    tickets.escalate(
                        session,
                        earlier,
                        actor="assistant",
                        now=turn.now(),
                        note=customer_words(turn),
                    )
                    turn.say("utter_complaint_escalated", ticket_id=earlier.ticket_no)
                    return _reset()
            ticket = open_ticket(
                turn,
                session,
                ticket_type,
                account=account,
                area=areas.get_by_code(session, str(turn.slot("service_area") or "")),
                address=turn.slot("service_address"),
                phone=turn.slot("contact_phone"),
            )
            turn.say(
                f"utter_{ticket_type}_created",
                ticket_id=ticket.ticket_no,
                days=c.ticket_reply_working_days(ticket_type),
                contact_hours=c.complaint_contact_hours,
            )
        return _reset()


def _reset() -> Events:
    return cleared("feedback_type", "issue_text", "service_address", "service_area")


class ActionReportViolation(StoreAction):
    """Anonymous: neither the conversation, the account nor a phone is stored on the ticket."""

    def name(self) -> str:
        return "action_report_violation"

    def act(self, turn: Turn) -> Events:
        text = customer_words(turn)
        with turn.session() as session:
            area = areas.match_area(session, turn.entity("address") or text)
            ticket = tickets.create_ticket(  # no conversation, account or phone: anonymous
                session,
                turn.settings,
                type=TicketType.VIOLATION,
                description=text,
                now=turn.now(),
                area=area,
                address=turn.entity("address"),
            )
            turn.say(
                "utter_violation_created",
                ticket_id=ticket.ticket_no,
                days=turn.settings.commitments.ticket_reply_working_days(TicketType.VIOLATION),
            )
        return cleared("issue_text", "service_address")


_WORDS = (
    ("非常满意", 5),
    ("很满意", 5),
    ("不满意", 2),
    ("很差", 1),
    ("太差", 1),
    ("满意", 4),
    ("一般", 3),
    ("very satisfied", 5),
    ("unsatisfied", 2),
    ("dissatisfied", 2),
    ("satisfied", 4),
    ("terrible", 1),
    ("excellent", 5),
    ("good", 4),
    ("ok", 3),
    ("bad", 2),
)


def parse_rating(text: str) -> int | None:
    """1-5 from '5', '4星', '打8分' (10-point scale), '⭐⭐⭐' or words; None when absent."""
    text = normalise_digits(text).lower()
    stars = text.count("⭐") + text.count("★")
    if stars:
        return min(stars, 5)
    if match := re.search(r"(?<!\d)(\d{1,3})\s*分", text):
        points = int(match.group(1))
        return None if points > 10 else max(1, min(5, (points + 1) // 2))
    if match := re.search(r"(?<!\d)([1-5])(?!\d)", text):
        return int(match.group(1))
    for word, value in _WORDS:
        if word in text:
            return value
    return None


class ActionRateService(StoreAction):
    def name(self) -> str:
        return "action_rate_service"

    def act(self, turn: Turn) -> Events:
        raw = turn.slot("rating")
        value = parse_rating(str(raw)) if raw else None
        value = value or parse_rating(turn.text)
        if value is None:
            turn.say("utter_anything_else")
            return [SlotSet("rating", None)]
        with turn.session() as session:
            ratings.record(
                session,
                sender_id=turn.sender_id,
                channel=turn.channel,
                rating=value,
                comment=turn.text[:500],
                now=turn.now(),
            )
        turn.say("utter_rating_thanks", stars=value)
        return [SlotSet("rating", None)]

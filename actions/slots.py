"""Slots refreshed on every user message (Rasa runs action_validate_slot_mappings after each).

- language: the reply language, so every response picks its zh or en variation;
- fallback_count: consecutive misunderstood messages (a human is offered after N);
- issue_text: the customer's own words for the request being made (ticket descriptions);
- verified: undone when the database no longer holds the conversation's verification.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.base import Turn
from actions.config import load_assistant_config
from actions.i18n import Language, detect_language
from actions.parsing import find_application_no, find_ticket_no
from actions.runtime import get_runtime
from actions.verification import RESET_VERIFICATION, still_verified

# Intents whose message describes the customer's problem: kept as the ticket description.
DESCRIBING_INTENTS = frozenset(
    {
        "report_fault",
        "report_safety_hazard",
        "meter_issue",
        "bill_dispute",
        "payment_reconnect",
        "file_complaint",
        "report_violation",
        "give_suggestion",
        "give_praise",
        "apply_new_connection",
        "apply_capacity_change",
        "apply_name_transfer",
        "apply_other_change",
        "request_human",
    }
)


def _text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def _is_payload(text: str) -> bool:
    """Button payloads ("/report_fault") are not the customer's words."""
    return text.startswith("/")


def _intent(tracker: Tracker) -> str | None:
    name = (tracker.latest_message.get("intent") or {}).get("name")
    return str(name) if name else None


class ActionValidateSlotMappings(ValidationAction):
    """Extracts the custom global slots; name() is fixed by the base class."""

    async def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(tracker)
        previous: Language = "en" if tracker.get_slot("language") == "en" else "zh"
        if _is_payload(text):
            return {}
        language = detect_language(text, previous)
        return {"language": language} if language != tracker.get_slot("language") else {}

    async def extract_fallback_count(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        count = float(tracker.get_slot("fallback_count") or 0)
        if _intent(tracker) == "nlu_fallback":
            return {"fallback_count": count + 1}
        return {"fallback_count": 0.0} if count else {}

    async def extract_issue_text(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(tracker).strip()
        if _is_payload(text) or _intent(tracker) not in DESCRIBING_INTENTS or not text:
            return {}
        limit = load_assistant_config().description_max_chars
        return {"issue_text": text[:limit]}

    async def extract_verified(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A verification the database no longer holds (idle too long, a new Rasa session, or
        never made: a forged slot) is undone here, before the next action is chosen, so a
        gated question asks for verification again; one it holds starts its idle time anew."""
        if tracker.get_slot("verified") is not True:
            return {}
        turn = Turn(dispatcher, tracker, domain, get_runtime())
        if await asyncio.to_thread(still_verified, turn):
            return {}
        return dict(RESET_VERIFICATION)

    async def validate_ticket_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"ticket_id": find_ticket_no(str(value or ""))}

    async def validate_application_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"application_id": find_application_no(str(value or ""))}

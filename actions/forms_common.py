"""Validation shared by the forms that ask for an address or a contact phone."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import Turn
from actions.config import load_assistant_config
from actions.formatting import echo
from actions.parsing import find_phone
from actions.runtime import get_runtime
from store.services import accounts, areas


def turn_of(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Turn:
    return Turn(dispatcher, tracker, domain, get_runtime())


def verified_phone(turn: Turn) -> str | None:
    """The registered phone of the verified account: no need to ask for it."""
    account_no = turn.verified_account_no()
    if account_no is None:
        return None
    with turn.session() as session:
        account = accounts.get_by_no(session, account_no)
        return account.phone if account else None


def validate_address(turn: Turn, value: Any, *, strict: bool) -> dict[str, Any]:
    """Match the address to a service area; strict forms ask again when nothing matches."""
    text = " ".join(str(value or "").split())[: load_assistant_config().address_max_chars]
    if not text:
        return {"service_address": None}
    with turn.session() as session:
        area = areas.match_area(session, text)
        names = [turn.label(a.name, a.name_en) for a in areas.list_areas(session)]
    if area is None:
        if not strict:
            return {"service_address": text, "service_area": None}
        turn.say("utter_address_unmatched", value=echo(text), areas="、".join(names))
        return {"service_address": None, "service_area": None}
    return {"service_address": text, "service_area": area.code}


def extract_address(turn: Turn) -> dict[str, Any]:
    """A village named anywhere in the message fills the address, even if NLU did not tag it."""
    if turn.slot("service_address") or turn.text.startswith("/"):
        return {}
    with turn.session() as session:
        area = areas.match_area(session, turn.text)
    if area is None:
        return {}
    text = " ".join(turn.text.split())[: load_assistant_config().address_max_chars]
    return {"service_address": text}


def validate_phone(turn: Turn, value: Any) -> dict[str, Any]:
    phone = find_phone(str(value or ""))
    if phone is None:
        turn.say("utter_invalid_phone", value=echo(value))
        return {"contact_phone": None}
    return {"contact_phone": phone}


def without_known(turn: Turn, slots: list[str]) -> list[str]:
    """Required slots minus the contact phone a verified customer already has on file."""
    if "contact_phone" in slots and not turn.slot("contact_phone") and verified_phone(turn):
        return [s for s in slots if s != "contact_phone"]
    return slots

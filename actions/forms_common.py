"""Validation shared by the forms that ask for an address or a contact phone.

rasa-sdk awaits a form's `required_slots`, `extract_<slot>` and `validate_<slot>` on the action
server's one event loop, which serves every conversation. The helpers here are synchronous
(SQLAlchemy), so a validator that needs the database runs them through `in_worker`, in a worker
thread like `StoreAction.act`: a slow query then delays only its own conversation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import Turn
from actions.config import load_assistant_config
from actions.formatting import echo
from actions.parsing import find_phone
from actions.runtime import get_runtime
from store.services import accounts, areas

P = ParamSpec("P")
T = TypeVar("T")


def turn_of(dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Turn:
    return Turn(dispatcher, tracker, domain, get_runtime())


async def in_worker(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: DomainDict,
    work: Callable[Concatenate[Turn, P], T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """`work(turn, *args, **kwargs)` in a worker thread, off the event loop (the runtime is
    built there too: the first call reads the configuration and opens the database)."""

    def call() -> T:
        return work(turn_of(dispatcher, tracker, domain), *args, **kwargs)

    return await asyncio.to_thread(call)


def verified_phone(turn: Turn) -> str | None:
    """The registered phone of the verified account: no need to ask for it."""
    if turn.slot("verified") is not True:
        return None
    with turn.session() as session:
        account_no = turn.verified_account_no(session)
        account = accounts.get_by_no(session, account_no) if account_no else None
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

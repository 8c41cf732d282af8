"""What the forms share: the slot list decided off the event loop, and the validators of an
address and a contact phone (`StoreForm`, `AddressPhoneForm`).

rasa-sdk awaits a form's `required_slots`, `extract_<slot>` and `validate_<slot>` on the action
server's one event loop, which serves every conversation. The helpers here are synchronous
(SQLAlchemy), so a validator that needs the database runs them through `in_worker`, in a worker
thread like `StoreAction.act`: a slow query then delays only its own conversation.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.base import Turn
from actions.config import load_assistant_config
from actions.formatting import echo
from actions.parsing import find_phone
from actions.runtime import get_runtime
from store.services import areas

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
        account = turn.verified_account(session)
        return account.phone if account else None


def validate_address(turn: Turn, value: Any, *, strict: bool) -> dict[str, Any]:
    """Match the address to a service area; strict forms ask again when nothing matches."""
    text = " ".join(str(value or "").split())[: load_assistant_config().address_max_chars]
    if not text:
        return {"service_address": None}
    with turn.session() as session:
        area = areas.match_area(session, text)
        if area is None and not turn.text.startswith("/"):
            # NLU may tag a fragment ("组" of "东山村3组"): the customer's whole message decides
            whole = " ".join(turn.text.split())[: load_assistant_config().address_max_chars]
            area = areas.match_area(session, whole)
            text = whole if area is not None else text
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


class StoreForm(FormValidationAction, ABC):
    """A form whose questions depend on the stores: `needed_slots` runs in a worker thread.

    Abstract (`name`), so the action server registers only the concrete forms.
    """

    @abstractmethod
    def name(self) -> str:
        """validate_<form name>."""

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return await in_worker(dispatcher, tracker, domain, self.needed_slots, list(domain_slots))

    def needed_slots(self, turn: Turn, domain_slots: list[str]) -> list[str]:
        """The slots to ask for now (synchronous): the domain's, minus the contact phone a
        verified customer has on file."""
        return without_known(turn, domain_slots)


class AddressPhoneForm(StoreForm, ABC):
    """A form that asks where (matched to a service area: strict, asked again when nothing
    matches) and on which phone to call back."""

    def check_address(self, turn: Turn, value: Any) -> dict[str, Any]:
        """The address validated (synchronous): a form may add what it says about the place."""
        return validate_address(turn, value, strict=True)

    async def extract_service_address(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await in_worker(dispatcher, tracker, domain, extract_address)

    async def validate_service_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return await in_worker(dispatcher, tracker, domain, self.check_address, value)

    async def validate_contact_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return validate_phone(turn_of(dispatcher, tracker, domain), value)

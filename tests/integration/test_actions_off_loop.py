"""A form validator's database work runs off the action server's event loop: one customer's
slow query does not hold up another customer's form.

Every conversation's validators are awaited on the one event loop of the action server. Here a
query of the "slow" conversation is held at the database driver until the test lets it go;
meanwhile the same validator is called for another conversation, which must finish while the
slow one is still held. Had the slow query run on the event loop, nothing else could run until
it ended, and the other call would finish second (the hold gives up after GATE_TIMEOUT so that
such a failure ends). What is checked is the order of events, never a duration.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import Engine, event

from actions.applications import ValidateApplicationForm
from actions.faults import ValidateFaultForm, ValidateHazardLocationForm
from actions.feedback import ValidateContactForm
from actions.runtime import Runtime
from tests.fakes.rasa_tracker import DOMAIN, Conversation

GATE_TIMEOUT = 20.0
"""Seconds a held query waits at most (only reached when the code under test is broken)."""

HOLD: ContextVar[bool] = ContextVar("hold", default=False)
"""Set in the slow conversation's task; asyncio.to_thread carries it into the worker."""


@dataclass
class Gate:
    """Holds the first query made where HOLD is set, until `release` is set."""

    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def before_execute(self, *_: Any) -> None:
        if HOLD.get() and not self.held.is_set():
            self.held.set()
            self.release.wait(GATE_TIMEOUT)


@pytest.fixture
def gate(engine: Engine, runtime: Runtime) -> Iterator[Gate]:
    gate = Gate()
    event.listen(engine, "before_cursor_execute", gate.before_execute)
    try:
        yield gate
    finally:
        gate.release.set()
        event.remove(engine, "before_cursor_execute", gate.before_execute)


Call = Callable[[Conversation], Awaitable[Any]]


def _args(convo: Conversation) -> tuple[CollectingDispatcher, Any, Any]:
    return CollectingDispatcher(), convo.tracker(), DOMAIN


def _validate(form: Any, slot: str, value: str) -> Call:
    async def call(convo: Conversation) -> Any:
        return await getattr(form, f"validate_{slot}")(value, *_args(convo))

    return call


def _extract(form: Any) -> Call:
    async def call(convo: Conversation) -> Any:
        return await form.extract_service_address(*_args(convo))

    return call


def _required(form: Any, slots: list[str]) -> Call:
    async def call(convo: Conversation) -> Any:
        return await form.required_slots(list(slots), *_args(convo))

    return call


FORM_SLOTS = {
    "fault": ["service_address", "fault_scope", "contact_phone"],
    "contact": ["service_address", "contact_phone"],
    "application": ["business_type", "service_address", "contact_phone"],
}

CALLS = {
    "fault.validate_service_address": _validate(ValidateFaultForm(), "service_address", "东山村"),
    "fault.extract_service_address": _extract(ValidateFaultForm()),
    "fault.required_slots": _required(ValidateFaultForm(), FORM_SLOTS["fault"]),
    "hazard.validate_service_address": _validate(
        ValidateHazardLocationForm(), "service_address", "西河村桥头"
    ),
    "contact.validate_service_address": _validate(
        ValidateContactForm(), "service_address", "青溪社区"
    ),
    "contact.extract_service_address": _extract(ValidateContactForm()),
    "contact.required_slots": _required(ValidateContactForm(), FORM_SLOTS["contact"]),
    "application.validate_service_address": _validate(
        ValidateApplicationForm(), "service_address", "高岭村"
    ),
    "application.extract_service_address": _extract(ValidateApplicationForm()),
    "application.required_slots": _required(ValidateApplicationForm(), FORM_SLOTS["application"]),
}


def _conversation(sender_id: str) -> Conversation:
    """In the middle of a form, with what makes every validator above go to the database:
    a village in the message, a matched area, a claimed verification to check."""
    convo = Conversation(sender_id=sender_id)
    convo.user("东山村3组停电了", "report_fault", {"address": "东山村3组"})
    convo.slots.update(
        service_address=None,
        service_area="QX03",
        feedback_type="meter_issue",
        app_type="new_connection",
        verified=True,
        verified_account="3301000001",
    )
    return convo


@pytest.mark.parametrize("name", CALLS)
async def test_a_slow_query_does_not_hold_up_another_conversation(gate: Gate, name: str) -> None:
    call = CALLS[name]

    async def slow() -> Any:
        HOLD.set(True)  # this task's context only
        return await call(_conversation("tg-1001"))

    slow_task = asyncio.create_task(slow())
    # waited for in a thread: were the slow query on the event loop, this could not return
    # before the hold gave up
    assert await asyncio.to_thread(gate.held.wait, GATE_TIMEOUT), f"{name} made no query"
    await call(_conversation("tg-1002"))
    other_done_while_held = not slow_task.done()
    gate.release.set()
    await slow_task
    assert other_done_while_held, f"{name}: the other conversation waited for the slow query"

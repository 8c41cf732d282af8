"""A slot never proves identity: the actions trust the verification the database recorded,
which ends when the customer goes idle or Rasa starts a new session (the slots are undone so
the customer is asked again), and which records what the web chat's history must hide."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions.billing import ActionQueryBill
from actions.runtime import Runtime, set_runtime
from actions.slots import ActionValidateSlotMappings
from actions.verification import ActionSetPendingRequest, ValidateVerifyForm
from store.config import Settings
from store.models import IdentityDisclosure, VerificationAttempt, VerifiedConversation
from tests.fakes.rasa_tracker import DOMAIN, Conversation, only, responses

ACCOUNT = "3301000001"  # demo: 张建国, phone ends 0001
OTHER = "3301000002"  # demo: 李秀英


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(
    settings: Settings, session_factory: sessionmaker[Session], seeded: Any, now: datetime
) -> Iterator[Clock]:
    """The action server's runtime on the seeded database, with a clock the test moves."""
    clock = Clock(now)
    set_runtime(Runtime(settings, session_factory, clock=clock))
    yield clock
    set_runtime(None)


def message(convo: Conversation, text: str, intent: str, key: str, **entities: str) -> None:
    """A customer message as the gateway sends it: with its key and the client's address."""
    convo.user(text, intent, entities or None)
    convo.latest["metadata"] = {"gateway_message_id": key, "client_address": "10.7.0.1"}


def new_session(convo: Conversation, timestamp: float) -> None:
    convo.events.append({"event": "session_started", "timestamp": timestamp})


async def verify(convo: Conversation, account: str = ACCOUNT, last4: str = "0001") -> None:
    message(convo, account, "inform", "1@1.000000", account_no=account)
    await convo.validate(ValidateVerifyForm(), "verify_form", account_no=account)
    message(convo, last4, "inform", "2@2.000000")
    said = await convo.validate(ValidateVerifyForm(), "verify_form", phone_last4=last4)
    assert "utter_verify_ok" in responses(said)


async def extract(convo: Conversation) -> None:
    """What Rasa runs after every customer message (action_validate_slot_mappings)."""
    dispatcher = CollectingDispatcher()
    events = await ActionValidateSlotMappings().run(dispatcher, convo.tracker(), DOMAIN)
    for event in events:
        if event.get("event") == "slot":
            convo.slots[event["name"]] = event["value"]


def rows(runtime_factory: sessionmaker[Session], model: Any) -> list[Any]:
    with runtime_factory() as session:
        return list(session.scalars(select(model).order_by(model.id)))


async def test_a_forged_tracker_gets_no_account_data(clock: Clock) -> None:
    convo = Conversation(sender_id="web:forged")
    convo.slots.update(verified=True, verified_account=ACCOUNT)  # what a forged call says
    message(convo, "查下这个月电费", "query_bill", "5@5.000000")
    said = await convo.run(ActionQueryBill())
    assert responses(said) == ["utter_not_verified_bill"]
    assert not any("total" in m or "account" in m for m in said)
    assert convo.slots["verified"] is False  # undone: the next question asks again


async def test_verification_is_recorded_and_the_slot_account_is_not_trusted(
    clock: Clock, session_factory: sessionmaker[Session], now: datetime
) -> None:
    convo = Conversation(sender_id="web:real")
    await verify(convo)
    (row,) = rows(session_factory, VerifiedConversation)
    assert (row.sender_id, row.account_no, row.method) == (
        "web:real",
        ACCOUNT,
        "account_phone_last4",
    )
    assert (row.verified_at, row.client_address) == (now, "10.7.0.1")
    attempts = rows(session_factory, VerificationAttempt)
    assert [a.client_address for a in attempts] == ["10.7.0.1"]
    convo.slots["verified_account"] = OTHER  # a slot changed behind the database's back
    message(convo, "上个月电费多少", "query_bill", "3@3.000000")
    bill = only(await convo.run(ActionQueryBill()), "utter_bill_summary")
    assert bill["account"].endswith(ACCOUNT[-2:])  # the recorded account's bill, masked
    assert not bill["account"].endswith(OTHER[-2:])


async def test_idle_verification_expires_and_the_customer_is_asked_again(
    clock: Clock, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    idle = timedelta(minutes=settings.commitments.verification.idle_minutes)
    convo = Conversation(sender_id="web:idle")
    await verify(convo)
    clock.now += idle - timedelta(minutes=1)
    message(convo, "还在吗", "greet", "3@3.000000")
    await extract(convo)  # a message within the idle time keeps it alive
    assert convo.slots["verified"] is True
    clock.now += idle - timedelta(minutes=1)
    message(convo, "查电费", "query_bill", "4@4.000000")
    only(await convo.run(ActionQueryBill()), "utter_bill_summary")
    clock.now += idle
    message(convo, "再查一下电费", "query_bill", "5@5.000000")
    await extract(convo)
    assert (convo.slots["verified"], convo.slots["verified_account"]) == (False, None)
    assert await convo.run(ActionSetPendingRequest()) == []  # clears the stale answers:
    assert (convo.slots["account_no"], convo.slots["phone_last4"]) == (None, None)
    # the form starts with those clearings as its candidates: no "that is no account number"
    said = await convo.validate(
        ValidateVerifyForm(), "verify_form", account_no=None, phone_last4=None
    )
    assert said == []
    (row,) = rows(session_factory, VerifiedConversation)
    assert row.end_reason == "idle"


async def test_a_new_rasa_session_ends_the_verification(
    clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    convo = Conversation(sender_id="web:session")
    new_session(convo, 1700000000.25)
    await verify(convo)
    new_session(convo, 1700009999.5)  # Rasa started a new session, slots carried over
    message(convo, "查电费", "query_bill", "3@3.000000")
    await extract(convo)
    assert convo.slots["verified"] is False
    said = await convo.run(ActionQueryBill())
    assert responses(said) == ["utter_not_verified_bill"]
    (row,) = rows(session_factory, VerifiedConversation)
    assert row.end_reason == "new_session"


async def test_disclosures_are_recorded_by_message_key(
    clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    convo = Conversation(sender_id="web:keys")
    await verify(convo)
    message(convo, "查电费", "query_bill", "3@3.000000")
    await convo.run(ActionQueryBill())
    found = [(d.message_key, d.kind) for d in rows(session_factory, IdentityDisclosure)]
    assert found == [
        ("1@1.000000", "answer"),
        ("2@2.000000", "answer"),
        ("2@2.000000", "data"),  # "verified, holder 张**"
        ("3@3.000000", "data"),
    ]

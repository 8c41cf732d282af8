"""Customers of the fault suite: fault reports through the gateway's JSON API (the form's
questions as scripts/deploy_chat.py reads them), and the checks that nothing was lost or done
twice: every customer message answered, each one run by Rasa exactly once (its key once in the
shared tracker), one ticket per report.

Each message carries a `message_id`, as a client of the API should: a client that got no
answer (its replica died, the database was away: 503) sends the same message again, to any
replica, and the gateway processes it once."""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from bot.rasa_client import MESSAGE_KEY
from bot.rasa_pool import ranked
from scripts.deploy_chat import (
    BUSY,
    FAULT_ANSWERS,
    FAULT_OPENING,
    TICKET,
    Answer,
    CheckFailed,
    Gateway,
    fault_question,
)
from store.db import make_engine, make_session_factory, unit_of_work
from store.models import Conversation, Message, Ticket
from tests.faults.stack import FaultStack, Server


class Customer:
    """One customer reporting a fault, with a phone number of their own (a second report of
    the same phone would be a duplicate of the first)."""

    def __init__(self, stack: FaultStack, sender: str, via: Server | None = None) -> None:
        self.stack = stack
        self.sender = sender
        self.gateway = Gateway((via or stack.gateway).url, stack.api_token, timeout=120)
        self.phone = f"139{random.randrange(10**8):08d}"
        self.asked: set[str] = set()
        self.sent = 0
        self.refused = 0
        """Sends the gateway refused (503) or that got no answer at all."""
        stack.senders.append(sender)

    def use(self, replica: Server) -> None:
        """Talk to another gateway replica from now on."""
        self.gateway = Gateway(replica.url, self.stack.api_token, timeout=120)

    def next_message(self, text: str) -> tuple[str, str]:
        """A new message: its text and its id."""
        self.sent += 1
        return text, f"{self.sender}-{self.sent}"

    def send(self, message: tuple[str, str]) -> Answer:
        text, message_id = message
        return self.gateway.say(self.sender, text, message_id)

    def send_until_accepted(self, message: tuple[str, str], within: float) -> Answer:
        """Send the message, and again (same id) while the gateway refuses it or gives no
        answer, as a client of the API does."""
        deadline = time.monotonic() + within
        while True:
            try:
                return self.send(message)
            except (CheckFailed, OSError) as exc:
                failure = str(exc)
            if "HTTP 4" in failure or time.monotonic() > deadline:  # only a 503 or no answer
                raise AssertionError(f"{self.sender}: not accepted: {failure}")
            self.refused += 1
            time.sleep(1)

    @property
    def conversation(self) -> str:
        return f"api:{self.sender}"

    def answer_for(self, question: str) -> str:
        return self.phone if question == "phone" else FAULT_ANSWERS[question]

    def open_report(self) -> str:
        """The fault report's first message; the question the form asks. Right after an
        earlier fault a gateway may still be waiting to see Rasa back (its retry worker's
        probe): then the message is kept and answered a moment later, which is what the
        customer gets too, and the fault under test starts from there."""
        reply = self.send(self.next_message(FAULT_OPENING))
        text = self.answered_later(within=120) if reply.degraded else reply.text
        return self.question(text)

    def question(self, text: str) -> str:
        asked = fault_question(text)
        assert asked is not None, f"no question of the fault form in: {text}"
        assert asked not in self.asked, f"asked again for {asked}: {text}"
        self.asked.add(asked)
        return asked

    def answer(self, question: str) -> tuple[str, bool]:
        """Answer the question: (the bot's reply, whether it was the '系统繁忙' notice)."""
        reply = self.send(self.next_message(self.answer_for(question)))
        return reply.text, reply.degraded

    def answered_later(self, within: float) -> str:
        """The reply to the kept message, once the gateway's retry got it answered."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            later = self.gateway.since_last_message(self.sender)
            if later:
                return later
            time.sleep(0.5)
        raise AssertionError(f"{self.sender}: the kept message was not answered in {within} s")

    def finish(self, text: str) -> str:
        """Answer the form's questions from `text` on, until the ticket; its number."""
        for _ in range(len(FAULT_ANSWERS) + 1):
            if found := TICKET.search(text):
                return found.group(0)
            text, degraded = self.answer(self.question(text))
            assert not degraded, f"{self.sender}: '{BUSY}' with every server up"
        raise AssertionError(f"{self.sender}: no ticket after every answer: {text}")


def tracker_events(stack: FaultStack, conversation: str) -> list[dict[str, Any]]:
    """The conversation's events in the shared tracker store, read from a worker that is up."""
    worker = next(w for w in stack.workers if w.answers())
    url = f"{worker.url}/conversations/{conversation}/tracker?include_events=ALL"
    with urllib.request.urlopen(f"{url}&token={stack.rasa_token}", timeout=30) as response:
        events: list[dict[str, Any]] = json.load(response)["events"]
    return events


def assert_nothing_lost_or_done_twice(stack: FaultStack, customer: Customer) -> None:
    conversation = customer.conversation
    engine = make_engine(stack.database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            inbound = list(
                session.scalars(
                    select(Message)
                    .join(Conversation)
                    .where(Conversation.conversation_id == conversation, Message.direction == "in")
                )
            )
            answered = set(
                session.scalars(
                    select(Message.in_reply_to_id).where(
                        Message.in_reply_to_id.in_([m.id for m in inbound]), Message.sender == "bot"
                    )
                )
            )
            tickets = session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.sender_id == conversation)
            )
    finally:
        engine.dispose()
    assert [m.status for m in inbound] == ["processed"] * len(inbound)
    assert answered == {m.id for m in inbound}, "a customer message got no answer from the bot"
    keys = Counter(
        str((e.get("metadata") or {}).get(MESSAGE_KEY))
        for e in tracker_events(stack, conversation)
        if e.get("event") == "user"
    )
    assert len(keys) == len(inbound), keys
    assert set(keys.values()) == {1}, f"a message was run twice: {keys}"
    assert tickets == 1


def first_worker(stack: FaultStack, sender: str) -> Server:
    """The worker the gateway gives this customer's conversation while both are up."""
    urls = [w.url for w in stack.workers]
    first = ranked(f"api:{sender}", urls)[0]
    return stack.workers[urls.index(first)]


def customer_on(stack: FaultStack, worker: Server, name: str) -> Customer:
    """A new customer whose conversation `worker` answers."""
    for n in range(1000):
        sender = f"{name}-{n}-{random.randrange(10**6)}"
        if first_worker(stack, sender) is worker:
            return Customer(stack, sender)
    raise AssertionError("no conversation for that worker")

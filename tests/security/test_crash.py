"""Crash: the gateway killed (SIGKILL) with messages in flight on every channel and restarted at
once answers every customer message exactly once and opens no fault ticket twice.

The real stack on loopback (tests/e2e/conftest.py): Rasa with the trained model, the action
server, a seeded SQLite database, and `python -m bot` with Telegram polling the fake Bot API.
Customers on Telegram, the web chat (a websocket client that behaves as bot/static/app.js: it
resends what was not acknowledged, with the same id, after each reconnect's history) and the
JSON API (retrying with the same message_id until it gets an answer) report an outage and
answer the assistant's questions; their last answer, the phone number that makes the
assistant open the repair ticket, is in flight when the gateway is killed: some in Rasa's
turn, some answered with the replies held on their way to Telegram (`hold_sends`: they never
reach it). Then every customer must have seen every reply of the transcript once (Telegram:
what the Bot API got; web chat: what the page shows), Rasa must have run each message's turn
once, and each customer must have one fault ticket.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, make_session_factory, unit_of_work
from store.models import Conversation, Message, Ticket
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Stack, say
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import ROOT, free_port, server_env

pytestmark = pytest.mark.e2e

# tests/e2e/conftest.py's fixtures: the shared stack (Rasa, the action server, the database)
# and the fake Bot API
rasa_model = e2e.rasa_model
e2e_stack = e2e.e2e_stack
telegram = e2e.telegram

TICKET = re.compile(r"T\d{10}")
MESSAGE_KEY = "gateway_message_id"
"""bot/rasa_client.py: the metadata key that names the gateway's message in Rasa's tracker."""
ANSWERS = (("哪个村", "东山村3组"), ("情况", "只有我家没电"))
"""The assistant's questions before the phone number, and the customers' answers."""
TELEGRAM, WEB, API = 5, 3, 3
"""Customers per channel."""
TURN_SECONDS = 60.0
"""Longest a turn may take on a loaded 2-core machine with every customer talking at once (also
the gateway's RASA_TIMEOUT here: a slow turn is not answered '系统繁忙')."""
ANSWERED_WITHIN = 120.0
"""After the restart every customer has the answer within this: before the retry worker's
sweep (2 × RASA_TIMEOUT + 60 s) could find what the start-up recovery missed."""


# --- the gateway as a process ----------------------------------------------------------------


class GatewayProcess:
    """`python -m bot` on a fixed port, started again after a kill with the same settings."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.url = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        self.logs = logs
        self.runs = 0
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, fake: FakeTelegram) -> None:
        self.runs += 1
        polls = len(fake.calls_of("getUpdates"))
        log = (self.logs / f"gateway-{self.runs}.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        log.close()
        async with aiohttp.ClientSession() as http:
            for _ in range(240):
                if self.process.returncode is not None:
                    pytest.fail(f"the gateway exited:\n{self.log_tail()}")
                try:
                    async with http.get(f"{self.url}/health") as response:
                        if response.status in (200, 503):
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.25)
            else:
                pytest.fail(f"the gateway did not start:\n{self.log_tail()}")
        await fake.wait_for_calls("getUpdates", polls + 1, within=60)

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.logs.glob("gateway-*.log"))
        )


# --- the database and Rasa, as the judges ------------------------------------------------------


@dataclass
class Judge:
    engine: Engine
    stack: Stack
    factory: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.factory = make_session_factory(self.engine)

    def transcript(self, cid: str) -> list[Message]:
        with unit_of_work(self.factory) as session:
            stmt = (
                select(Message)
                .join(Conversation, Message.conversation_pk == Conversation.id)
                .where(Conversation.conversation_id == cid)
                .order_by(Message.id)
            )
            return list(session.scalars(stmt))

    def replies(self, cid: str, external_id: str) -> list[str]:
        rows = self.transcript(cid)
        inbound = next(m.id for m in rows if m.direction == "in" and m.external_id == external_id)
        return [m.text for m in rows if m.in_reply_to_id == inbound]

    def unsettled(self, cids: list[str]) -> list[tuple[str, str, str]]:
        """Messages still waiting: customer messages not answered, replies not sent."""
        return [
            (cid, m.direction, m.status)
            for cid in cids
            for m in self.transcript(cid)
            if m.status in ("received", "pending")
        ]

    def in_flight(self, cids: list[str]) -> int:
        return sum(1 for cid, d, s in self.unsettled(cids) if d == "in" and s == "received")

    def fault_tickets(self, cid: str) -> list[str]:
        with unit_of_work(self.factory) as session:
            stmt = select(Ticket.ticket_no).where(Ticket.sender_id == cid, Ticket.type == "fault")
            return list(session.scalars(stmt))

    def turns(self, cid: str) -> Counter[str]:
        """How many times Rasa ran each gateway message (by its key) in the conversation."""
        events = self.stack.tracker(cid).get("events") or []
        return Counter(
            str((e.get("metadata") or {}).get(MESSAGE_KEY))
            for e in events
            if e.get("event") == "user"
        )


def key_of(message: Message) -> str:
    return f"{message.id}@{message.created_at.timestamp():.6f}"


def shown(message: Message) -> str:
    """A reply's text as a channel shows it (Telegram: '👇' above buttons without a text)."""
    return message.text.strip() or "👇"


# --- the customers ---------------------------------------------------------------------------


@dataclass
class TelegramCustomer:
    fake: FakeTelegram
    user: dict[str, Any]
    phone: str

    @property
    def cid(self) -> str:
        return f"telegram:{self.user['id']}"

    ready = True

    def start(self) -> None:
        """Nothing to connect: the fake Bot API is always there."""

    def stop(self) -> None:
        """Nothing to close."""

    async def say(self, text: str) -> str:
        return await say(self.fake, self.user, text)

    async def send(self, text: str) -> None:
        await self.fake.queue_update(self.fake.text_update(text, user=self.user))

    def seen(self) -> list[str]:
        return [
            str(m.get("text", "")) for m in self.fake.sent if m["chat"]["id"] == self.user["id"]
        ]


@dataclass
class ApiCustomer:
    url: str
    http: aiohttp.ClientSession
    sender: str
    phone: str
    answers: dict[str, list[str]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    ready = True

    @property
    def cid(self) -> str:
        return f"api:{self.sender}"

    def start(self) -> None:
        """Nothing to connect: every message is a request of its own."""

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()

    async def _post(self, text: str, message_id: str) -> None:
        """POST until the gateway answers (a killed gateway refuses connections until it is
        back), always with the same message_id: the API's idempotent retry."""
        body = {"sender": self.sender, "text": text, "message_id": message_id}
        timeout = aiohttp.ClientTimeout(total=TURN_SECONDS)
        while True:
            try:
                async with self.http.post(
                    f"{self.url}/api/v1/messages", json=body, timeout=timeout
                ) as response:
                    if response.status == 200:
                        data = await response.json()
                        self.answers[message_id] = [r["text"] for r in data["replies"]]
                        return
            except (aiohttp.ClientError, ConnectionError):
                pass
            await asyncio.sleep(0.2)

    async def say(self, text: str) -> str:
        message_id = str(uuid.uuid4())
        await self._post(text, message_id)
        return "\n".join(self.answers[message_id])

    async def send(self, text: str) -> None:
        self.tasks.append(asyncio.create_task(self._post(text, str(uuid.uuid4()))))


@dataclass
class WebCustomer:
    """A browser tab as bot/static/app.js behaves: reconnects, shows the history, resends the
    messages not acknowledged (same id), then shows the replies pushed after it."""

    url: str
    http: aiohttp.ClientSession
    judge: Judge
    phone: str
    session: str = field(default_factory=lambda: str(uuid.uuid4()))
    outbox: dict[str, str] = field(default_factory=dict)
    shown: list[str] = field(default_factory=list)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    ws: aiohttp.ClientWebSocketResponse | None = None
    task: asyncio.Task[None] | None = None

    @property
    def cid(self) -> str:
        return f"web:{self.session}"

    @property
    def ready(self) -> bool:
        return self.ws is not None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _run(self) -> None:
        while True:
            try:
                async with self.http.ws_connect(f"{self.url}/ws", heartbeat=5) as ws:
                    await ws.send_json({"type": "hello", "session": self.session})
                    async for frame in ws:
                        if frame.type == aiohttp.WSMsgType.TEXT:
                            await self._on(ws, json.loads(frame.data))
            except (aiohttp.ClientError, ConnectionError):
                pass
            self.ws = None
            await asyncio.sleep(0.2)  # the page backs off from 1 s: shorter here, same order

    async def _on(self, ws: aiohttp.ClientWebSocketResponse, event: dict[str, Any]) -> None:
        if event["type"] == "history":
            self.shown = [m["text"] for m in event["messages"] if m["direction"] == "out"]
            self.ws = ws
            for message_id, text in list(self.outbox.items()):
                await ws.send_json({"type": "message", "id": message_id, "text": text})
        elif event["type"] == "reply":
            self.shown.append(event["text"])
        elif event["type"] == "ack":
            self.outbox.pop(event["id"], None)
            self.acks[event["id"]] = event

    async def send(self, text: str) -> str:
        message_id = str(uuid.uuid4())
        self.outbox[message_id] = text
        if self.ws is not None:
            await self.ws.send_json({"type": "message", "id": message_id, "text": text})
        return message_id

    async def say(self, text: str) -> str:
        message_id = await self.send(text)
        await until(lambda: message_id in self.acks, TURN_SECONDS)
        return "\n".join(self.judge.replies(self.cid, message_id))


Customer = TelegramCustomer | ApiCustomer | WebCustomer


async def until(check: Callable[[], bool], within: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.1)


async def up_to_the_phone(customer: Customer) -> None:
    """Report the outage and answer until the assistant asks for a phone number."""
    reply = await customer.say("东山村3组停电了，家里啥都用不了")
    for _ in range(4):
        if "电话" in reply:
            return
        answer = next((a for question, a in ANSWERS if question in reply), None)
        assert answer is not None, f"{customer.cid}: unexpected question: {reply}"
        reply = await customer.say(answer)
    pytest.fail(f"{customer.cid}: the phone number was never asked for: {reply}")


# --- the test --------------------------------------------------------------------------------


async def test_a_gateway_killed_mid_conversation_answers_every_message_once(
    e2e_stack: Stack, telegram: FakeTelegram, tmp_path: Path
) -> None:
    env = server_env(
        DATABASE_URL=e2e_stack.database_url,
        GATEWAY_PORT=str(free_port()),
        RASA_URL=e2e_stack.api_url,
        RASA_TOKEN=e2e_stack.token,
        ACTION_SERVER_URL=e2e_stack.actions_url,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        NOTIFY_INTERVAL="0",
        RASA_TIMEOUT=str(int(TURN_SECONDS)),  # slow turns are not '系统繁忙' here
        RATE_LIMIT_WEBCHAT="10000/60",  # every customer comes from 127.0.0.1
        RATE_LIMIT_API="10000/60",
        RATE_LIMIT_API_SENDER="10000/60",
    )
    env.pop("GATEWAY_API_TOKEN", None)
    gateway = GatewayProcess(env, tmp_path)
    engine = make_engine(e2e_stack.database_url)
    judge = Judge(engine, e2e_stack)
    try:
        await gateway.start(telegram)
        async with aiohttp.ClientSession() as http:
            customers = _customers(telegram, gateway.url, http, judge)
            try:
                held, cut_off = await _killed_mid_conversation(customers, gateway, telegram, judge)
            finally:
                for customer in customers:
                    customer.stop()
        await _judge(customers, judge)
        assert held >= 1, "no reply was on its way to Telegram: the kill came too late"
        assert cut_off >= 1, "no message was in the middle of its turn: the kill came too late"
    except BaseException:
        print(gateway.log_tail(), file=sys.stderr)
        raise
    finally:
        await gateway.stop()
        engine.dispose()


async def _killed_mid_conversation(
    customers: list[Customer], gateway: GatewayProcess, fake: FakeTelegram, judge: Judge
) -> tuple[int, int]:
    """The conversations up to the phone number, the phone numbers sent, the gateway killed
    while they are in flight and started again at once, every customer answered: how many
    replies were held on their way to Telegram and how many messages were mid-turn."""
    for customer in customers:
        customer.start()
    await until(lambda: all(c.ready for c in customers), 30)
    await asyncio.gather(*(up_to_the_phone(c) for c in customers))

    # the phone numbers: the turns that open the tickets, in flight when it is killed
    fake.hold_sends()
    await asyncio.gather(*(c.send(c.phone) for c in customers))
    await fake.wait_for(lambda: fake.held >= 1, within=TURN_SECONDS)
    await gateway.kill()
    cids = [c.cid for c in customers]
    cut_off = judge.in_flight(cids)
    held = fake.held
    fake.release_sends(deliver=False)  # they never reached Telegram
    await gateway.start(fake)  # at once
    await _all_answered(customers, judge, cids)
    return held, cut_off


def _customers(
    fake: FakeTelegram, url: str, http: aiohttp.ClientSession, judge: Judge
) -> list[Customer]:
    phones = (f"1390571{n:04d}" for n in range(8000, 9000))
    run = os.getpid() % 1000  # distinct chats and senders if the stack is shared with others
    customers: list[Customer] = [
        TelegramCustomer(fake, fake.user(7_300_000 + run * 10 + n), next(phones))
        for n in range(TELEGRAM)
    ]
    customers += [WebCustomer(url, http, judge, next(phones)) for _ in range(WEB)]
    customers += [ApiCustomer(url, http, f"crash-{run}-{n}", next(phones)) for n in range(API)]
    return customers


async def _all_answered(customers: list[Customer], judge: Judge, cids: list[str]) -> None:
    """Every phone number answered with the ticket, as each customer sees it; then a moment
    more for anything that should not come (a second answer)."""

    def got_ticket(customer: Customer) -> bool:
        if isinstance(customer, TelegramCustomer):
            return any(TICKET.search(text) for text in customer.seen())
        if isinstance(customer, WebCustomer):
            return not customer.outbox and any(TICKET.search(t) for t in customer.shown)
        return all(task.done() for task in customer.tasks)

    await until(lambda: all(got_ticket(c) for c in customers), ANSWERED_WITHIN)
    await until(lambda: not judge.unsettled(cids), TURN_SECONDS)
    await asyncio.sleep(3)  # a reply sent twice would arrive now
    for customer in customers:
        if isinstance(customer, ApiCustomer):
            for task in customer.tasks:
                task.result()


async def _judge(customers: list[Customer], judge: Judge) -> None:
    for customer in customers:
        transcript = judge.transcript(customer.cid)
        inbound = [m for m in transcript if m.direction == "in"]
        replies = [m for m in transcript if m.direction == "out"]
        assert all(m.status == "processed" for m in transcript), customer.cid
        assert all(any(r.in_reply_to_id == m.id for r in replies) for m in inbound), customer.cid
        # Rasa ran every message once: none lost, none run again after the restart
        turns = judge.turns(customer.cid)
        assert {key_of(m): turns[key_of(m)] for m in inbound} == {key_of(m): 1 for m in inbound}
        # the customer saw every reply once, in order
        if isinstance(customer, TelegramCustomer):
            assert customer.seen() == [shown(m) for m in replies], customer.cid
        elif isinstance(customer, WebCustomer):
            assert customer.shown == [m.text for m in replies], customer.cid
        else:
            for message_id, answer in customer.answers.items():
                assert answer == judge.replies(customer.cid, message_id), customer.cid
        # one report, one ticket, and its number told in answer to one message
        [number] = judge.fault_tickets(customer.cid)
        told = {m.in_reply_to_id for m in replies if number in m.text}
        assert len(told) == 1, customer.cid

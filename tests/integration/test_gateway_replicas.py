"""Two gateway replicas (two `create_app` instances in this process) on one PostgreSQL database
and one Redis (GATEWAY_SHARED, bot/replicas/): any replica takes any message.

- one conversation's turns go one at a time, in the order the messages arrived, whichever
  replica has each message (each replica has its own Rasa worker here, without a lock store of
  its own: only the gateway's shared lock keeps them in order);
- an agent console on one replica sees the events of the other; an agent's reply sent through
  one replica reaches the customer's web chat socket held by the other;
- the jobs that must run once (the notifier, the handoff watcher) run in one replica, and move
  to the other when it stops;
- Telegram long polling (against the fake Bot API, which answers a second concurrent poller
  409 Conflict as Telegram does) runs in one replica; when it stops, or dies without giving
  its lease back, the other takes polling over and answers what came meanwhile, once;
- the rate limits count both replicas' requests: a client over its limit on one is refused on
  the other too (tests/integration/test_shared_limits.py: the limits themselves).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.channels.telegram import TELEGRAM
from bot.handoff.desk import AgentRef
from bot.keys import CORE_ROUTER, REPLICAS
from bot.limits import Limits
from bot.messages import Reply
from bot.ratelimit import Rate
from bot.replicas.lease import Lease
from bot.replicas.locks import SharedLocks
from bot.router import Router
from store.db import unit_of_work
from store.services import staff
from tests.conftest import redis_base_url
from tests.fakes.console import StaffClient, make_staff, queue_conversation
from tests.fakes.gateway import OPERATOR, eventually, message, settings_for
from tests.fakes.rasa import FakeRasa, fake_rasa_server
from tests.fakes.telegram_api import FakeTelegram

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="module", params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """PostgreSQL only: what several replicas share (SQLite is one machine's file)."""
    return str(request.param)


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    """This test's Redis keys (tests/conftest.py)."""
    return redis_prefix


@dataclass
class Replica:
    client: Client
    app: web.Application

    @property
    def router(self) -> Router:
        return self.app[CORE_ROUTER]

    @property
    def base(self) -> str:
        return str(self.client.make_url("")).rstrip("/")


@asynccontextmanager
async def replica(
    rasa: FakeRasa, db_url: str, prefix: str, *, channels: bool = False, **overrides: Any
) -> AsyncIterator[Replica]:
    shared = {"lock_seconds": 2.0, "lease_seconds": 0.6, **overrides}
    settings = settings_for(
        rasa, db_url, shared=True, redis_url=redis_base_url(), shared_prefix=prefix, **shared
    )
    app = create_app(settings, channels=channels)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Replica(client, app)


async def _stored(router: Router, conversation_id: str, count: int) -> bool:
    """Whether `count` customer messages of the conversation are stored."""
    history = await router.history(conversation_id)
    return sum(entry.direction == "in" for entry in history) >= count


async def test_one_conversation_in_arrival_order_across_replicas(
    db_url: str, session_factory: sessionmaker[Session], prefix: str
) -> None:
    trackers: dict[str, list[dict[str, Any]]] = {}
    # worker A is slow, worker B quick: without the replicas' lock B's turns would overtake
    async with (
        fake_rasa_server(delay=0.6, trackers=trackers) as slow,
        fake_rasa_server(delay=0.02, trackers=trackers) as quick,
        replica(slow, db_url, prefix) as a,
        replica(quick, db_url, prefix) as b,
    ):
        cid = "fake:order"
        turns = []
        for n, gateway in enumerate((a, b, a, b), start=1):
            turns.append(asyncio.create_task(gateway.router.handle(message(f"m{n}", chat="order"))))
            router = gateway.router
            await eventually(lambda n=n, router=router: _stored(router, cid, n), within=5)
        results = await asyncio.gather(*turns)
        assert all(r.replies and not r.degraded for r in results)
        assert (slow.texts(), quick.texts()) == (["m1", "m3"], ["m2", "m4"])
        # the order the turns finished in (a turn is saved when it finishes): each one after
        # the one before it, never overtaking it
        events = [e["text"] for e in trackers["fake:order"] if e["event"] == "user"]
        assert events == ["m1", "m2", "m3", "m4"]


async def test_a_client_over_its_api_limit_on_one_replica_is_refused_on_the_other(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session], prefix: str
) -> None:
    limits = Limits(api=Rate(3, 60), api_sender=None)
    async with (
        replica(rasa, db_url, prefix, limits=limits) as a,
        replica(rasa, db_url, prefix, limits=limits) as b,
    ):
        for n in range(3):
            sent = await a.client.post(
                "/api/v1/messages", json={"sender": f"s{n}", "text": "停电了"}
            )
            assert sent.status == 200
        refused = await b.client.post("/api/v1/messages", json={"sender": "s9", "text": "停电了"})
        assert refused.status == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 20  # A spent the budget B counts too
        assert (await refused.json())["error"]["code"] == "rate_limited"
        assert rasa.texts() == ["停电了"] * 3
        # /health's refusals are each replica's own
        refusals = []
        for gateway in (a, b):
            details = await (await gateway.client.get("/health", headers=OPERATOR)).json()
            refusals.append(details["refused"])
        assert refusals == [{}, {"api": 1}]


async def _say(gateway: Replica, sender: str, text: str) -> dict[str, Any]:
    sent = await gateway.client.post("/api/v1/messages", json={"sender": sender, "text": text})
    assert sent.status == 200
    body: dict[str, Any] = await sent.json()
    return body


async def _answered(router: Router, sender: str) -> bool:
    return any(e.sender == "bot" for e in await router.history(f"api:{sender}"))


@pytest.mark.parametrize("news", ["heard", "missed"])
async def test_rasa_answering_again_on_one_replica_stops_the_other_holding_messages(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session], prefix: str, news: str
) -> None:
    """After an outage any replica's retry worker answers every replica's kept messages; the
    first turn Rasa answers is told to the other replicas, which stop answering '系统繁忙'
    instead of waiting for their own next probe (here 8 s later): at once when they hear the
    news, or at the next message when they missed it (not listening: Redis was away)."""
    async with (
        replica(rasa, db_url, prefix, retry_max_backoff=600) as a,
        replica(rasa, db_url, prefix, retry_max_backoff=600) as b,
    ):
        if news == "missed":
            await b.app[REPLICAS].bus.stop()
        await rasa.down()
        assert (await _say(a, "ka", "停电了"))["degraded"]
        assert (await _say(b, "kb", "停电了"))["degraded"]
        await asyncio.sleep(7.5)  # each replica probes at about 0, 1, 3 and 7 s, then 8 s later
        await rasa.up()
        # A has not seen Rasa back: it keeps this one too, and its probe comes forward for it
        assert (await _say(a, "kc", "还没来电"))["degraded"]
        for sender in ("ka", "kb", "kc"):  # A's retry worker answers them all, B's kept one too
            await eventually(lambda s=sender: _answered(a.router, s), within=5)
        details = await (await b.client.get("/health", headers=OPERATOR)).json()
        assert details["holding"] is (news == "missed")
        reply = await _say(b, "kb", "谢谢")
        assert not reply["degraded"]
        assert [r["text"] for r in reply["replies"]] == ["收到：谢谢"]
        details = await (await b.client.get("/health", headers=OPERATOR)).json()
        assert details["holding"] is False


async def test_a_kept_message_answered_on_a_replica_that_never_held_stops_the_holder(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session], prefix: str
) -> None:
    """Only A kept a message in the outage; the customer writes again through B, whose flag
    never went up: B answers the kept message first and tells A, which stops answering
    '系统繁忙' at once instead of at its own next probe (here 8 s later). Before, B told
    nobody (the fault suite's Redis outage failed so)."""
    async with (
        replica(rasa, db_url, prefix, retry_max_backoff=600) as a,
        replica(rasa, db_url, prefix, retry_max_backoff=600) as b,
    ):
        rasa.fail_status, rasa.fail_code = 500, "turn_failed"  # Rasa's lock store away
        assert (await _say(a, "ka", "停电了"))["degraded"]
        await asyncio.sleep(7.5)  # A probes at about 0, 1, 3 and 7 s, then 8 s later
        rasa.fail_status = None
        reply = await _say(b, "ka", "还没来电")  # B drains the kept message, then this one
        assert not reply["degraded"]
        assert await _answered(a.router, "ka")
        reply = await _say(a, "kc", "谢谢")
        assert not reply["degraded"]
        assert [r["text"] for r in reply["replies"]] == ["收到：谢谢"]


async def test_a_dead_replicas_lock_frees_itself(prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_base_url())
    try:
        dead, alive = SharedLocks(client, prefix, 1.0), SharedLocks(client, prefix, 1.0)
        held = await dead.acquire("web:x", 1)
        assert held is not None
        held.renewal.cancel()  # its replica died: nobody renews the lock or releases it
        waited = asyncio.get_running_loop().time()
        second = await asyncio.wait_for(alive.acquire("web:x", 2), 5)
        waited = asyncio.get_running_loop().time() - waited
        assert second is not None
        assert 0.5 < waited < 2.0  # not before the lock ran out, soon after
        await alive.release(second)
    finally:
        await client.aclose()


async def test_a_job_starting_when_its_replica_stops_starts_fully_then_stops(prefix: str) -> None:
    """A job's start (the notifier's: a pass on the database) is not cut off by the replica
    stopping: cut off, its session would still hold a connection when the gateway disposes of
    its engine. It ends, then the job is stopped and the lease given back."""
    client = redis.asyncio.Redis.from_url(redis_base_url())
    done: list[str] = []
    starting = asyncio.Event()

    async def start() -> None:
        starting.set()
        await asyncio.sleep(0.3)
        done.append("started")

    async def stop() -> None:
        done.append("stopped")

    key = f"{prefix}:lease:job"
    lease = Lease(client, key, 1.0, "job", start, stop)
    try:
        lease.start()
        await asyncio.wait_for(starting.wait(), 5)
        await lease.stop()
        assert done == ["started", "stopped"]
        assert not lease.held
        assert await client.get(key) is None  # given back: another replica takes it at once
    finally:
        await client.aclose()


async def _ws_events(ws: aiohttp.ClientWebSocketResponse, kind: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != kind:
        frame = await ws.receive(timeout=5)
        assert frame.type == aiohttp.WSMsgType.TEXT, frame
        events.append(json.loads(frame.data))
    return events


async def test_console_and_web_chat_across_replicas(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session], prefix: str
) -> None:
    make_staff(session_factory)
    session = str(uuid.uuid4())
    cid, handoff_id = queue_conversation(session_factory, session, channel="web")
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(replica(rasa, db_url, prefix, channels=True))
        b = await stack.enter_async_context(replica(rasa, db_url, prefix, channels=True))
        # the customer's tab is connected to replica A
        customer = await a.client.ws_connect("/ws", headers={"Origin": a.base})
        await customer.send_json({"type": "hello", "session": session, "language": "zh"})
        assert (await _ws_events(customer, "history"))[-1]["messages"]
        # the agent works on replica B
        http = await stack.enter_async_context(
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        )
        agent = StaffClient(b.base, http)
        assert (await agent.login("agent1")).status == 200
        console = await http.ws_connect(agent.url("/console/ws"), headers={"Origin": b.base})
        assert (await console.receive_json(timeout=5))["type"] == "hello"
        status, _ = await agent.json("POST", f"/api/v1/agent/claim/{handoff_id}")
        assert status == 200

        # the customer writes through A: the agent on B sees it live
        await customer.send_json({"type": "message", "text": "还在吗", "id": str(uuid.uuid4())})
        frames = await _ws_events(console, "message_in")
        assert frames[-1]["text"] == "还在吗"

        # the agent answers through B: the customer's tab on A gets it
        sent = await b.router.send_as_agent(cid, "在的，请讲", _agent_ref(session_factory))
        assert sent == "sent"
        await _reply(customer, "在的，请讲")

        # a notice delivered by B (the notifier's path) reaches the tab on A too
        await b.router.deliver(cid, [Reply(text="工单已派发")])
        await _reply(customer, "工单已派发")
        assert rasa.requests == 0  # a person has the chat


async def _reply(ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
    """Wait for a reply with `text` (the desk's own notices may come first)."""
    while (await _ws_events(ws, "reply"))[-1]["text"] != text:
        pass


def _agent_ref(factory: sessionmaker[Session]) -> AgentRef:
    with unit_of_work(factory) as session:
        user = staff.get_by_username(session, "agent1")
        assert user is not None
        return AgentRef(
            id=user.id, username=user.username, display_name=user.display_name, role=user.role
        )


async def test_one_replica_runs_the_jobs_and_the_other_takes_over(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session], prefix: str
) -> None:
    jobs = {"notifier", "handoff-watcher"}
    # longer leases than the other tests': starting a gateway in this process holds the event
    # loop up for a moment, which a holder must survive
    overrides = {"notify_interval": 0.2, "handoff_watch": True, "lease_seconds": 2.0}

    def held(gateway: Replica) -> set[str]:
        return {lease.name for lease in gateway.app[REPLICAS]._leases if lease.held}

    async with replica(rasa, db_url, prefix, **overrides) as a:
        await eventually(lambda: held(a) == jobs, within=3)
        async with replica(rasa, db_url, prefix, **overrides) as b:
            await asyncio.sleep(2.0)  # several rounds of asking for the leases
            assert held(a) == jobs
            assert held(b) == set()  # once, not once per replica
            await a.client.close()  # A stops: it gives the leases back
            await eventually(lambda: held(b) == jobs, within=3)


# ------------------------------------------------------------------------- Telegram polling

TELEGRAM_LEASE = 2.0
"""Seconds (GATEWAY_LEASE_SECONDS): long enough for a holder to survive another gateway starting
in this process (python-telegram-bot's start holds the event loop up for a moment)."""
LATER = ("还没来电", "什么时候来电")
"""What the customer writes while no replica polls."""


def _polling(gateway: Replica) -> bool:
    poller = gateway.app[TELEGRAM].poller
    return poller is not None and poller.running


@asynccontextmanager
async def _telegram_replica(
    rasa: FakeRasa, db_url: str, prefix: str, fake: FakeTelegram
) -> AsyncIterator[Replica]:
    telegram = {"telegram_token": fake.token, "telegram_api_base_url": fake.base_url}
    async with replica(
        rasa, db_url, prefix, channels=True, lease_seconds=TELEGRAM_LEASE, **telegram
    ) as gateway:
        yield gateway


@asynccontextmanager
async def _pollers_watched(*gateways: Replica) -> AsyncIterator[list[float]]:
    """While inside: notes (monotonic time) every moment two of the replicas poll at once."""
    both: list[float] = []

    async def watch() -> None:
        while True:
            if sum(_polling(g) for g in gateways) > 1:
                both.append(time.monotonic())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(watch())
    try:
        yield both
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _answers(fake: FakeTelegram, chat_id: int, count: int) -> list[str]:
    """The texts the bot sent to the chat, once there are `count`, after a moment in which a
    second answer would have come."""
    await fake.wait_for_messages(count, chat_id=chat_id, within=10)
    await fake.settle(1.0)
    return [m["text"] for m in fake.sent if m["chat"]["id"] == chat_id]


@dataclass
class _Pollers:
    fake: FakeTelegram
    a: Replica
    """Polls first."""
    b: Replica
    """Started after A: waits for the lease."""
    customer: dict[str, Any]
    first: dict[str, Any]
    """The customer's first update, answered through A."""


@asynccontextmanager
async def _a_polls_b_waits(
    rasa: FakeRasa, db_url: str, prefix: str, user_id: int
) -> AsyncIterator[_Pollers]:
    """Two replicas against the fake Bot API: A polls, B does not; the customer's first message
    is answered once. On leaving: the replicas never polled both at once, and Telegram never
    saw two pollers at once."""
    async with (
        FakeTelegram() as fake,
        _telegram_replica(rasa, db_url, prefix, fake) as a,
    ):
        await eventually(lambda: _polling(a), within=5)
        async with (
            _telegram_replica(rasa, db_url, prefix, fake) as b,
            _pollers_watched(a, b) as both,
        ):
            await asyncio.sleep(TELEGRAM_LEASE)  # several rounds of asking for the lease
            assert _polling(a)
            assert not _polling(b)
            customer = fake.user(user_id)
            first = fake.text_update("停电了", user=customer)
            await fake.queue_update(first)
            assert await _answers(fake, user_id, 1) == ["收到：停电了"]
            yield _Pollers(fake, a, b, customer, first)
            assert not both
        assert not fake.overlaps


async def test_one_replica_polls_telegram_and_the_other_takes_over_when_it_stops(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session], prefix: str
) -> None:
    async with _a_polls_b_waits(rasa, db_url, prefix, 5001) as t:
        await t.a.client.close()  # A stops: it stops polling and gives the lease back
        stopped = time.monotonic()
        # written while nobody polls: Telegram keeps them for the next poller
        for text in LATER:
            await t.fake.queue_update(t.fake.text_update(text, user=t.customer))
        await eventually(lambda: _polling(t.b), within=2 * TELEGRAM_LEASE)
        assert time.monotonic() - stopped < TELEGRAM_LEASE  # at B's next ask, not expired
        assert await _answers(t.fake, 5001, 3) == [f"收到：{x}" for x in ("停电了", *LATER)]
    assert rasa.texts() == ["停电了", *LATER]  # each message one turn


async def test_a_replica_that_dies_while_polling_telegram_is_taken_over_after_its_lease(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session], prefix: str
) -> None:
    async with _a_polls_b_waits(rasa, db_url, prefix, 5002) as t:
        # A dies: nothing renews its leases or gives them back; its poll's connection drops
        for lease in t.a.app[REPLICAS]._leases:
            assert lease._task is not None
            lease._task.cancel()
        poller = t.a.app[TELEGRAM].poller
        assert poller is not None
        await poller.stop()
        died = time.monotonic()
        # had A died before its next getUpdates confirmed the first update, Telegram would
        # deliver it again: B recognises it (the database knows its update id)
        await t.fake.queue_update(t.first)
        for text in LATER:
            await t.fake.queue_update(t.fake.text_update(text, user=t.customer))
        await eventually(lambda: _polling(t.b), within=2 * TELEGRAM_LEASE)
        waited = time.monotonic() - died
        # not before A's lease ran out (renewed a third of it before at most), soon after
        assert TELEGRAM_LEASE / 2 < waited < TELEGRAM_LEASE * 4 / 3 + 0.5
        assert await _answers(t.fake, 5002, 3) == [f"收到：{x}" for x in ("停电了", *LATER)]
    assert rasa.texts() == ["停电了", *LATER]

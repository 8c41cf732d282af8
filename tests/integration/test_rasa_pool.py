"""Several Rasa workers behind the gateway (bot/rasa_pool.py), against fake Rasa workers on
loopback that share one tracker store and one lock store (tests/fakes/rasa.py): every
conversation stays on its worker, moves to another one while its worker is down and comes back,
a message is sent to a second worker only when the first cannot have run it, and a retried
message is never run twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.rasa_client import RETRY_KEY
from bot.rasa_errors import RasaNotReached, RasaTurnFailed, RasaUnavailable
from bot.rasa_pool import RasaPool, ranked
from store.db import unit_of_work
from store.models import Message
from tests.fakes.gateway import OPERATOR, eventually, message, running_gateway, settings_for
from tests.fakes.loopback import running
from tests.fakes.rasa import FakeRasa

TOKEN = "secret-token"


@asynccontextmanager
async def workers(count: int) -> AsyncIterator[list[FakeRasa]]:
    """`count` fake workers sharing their conversations (tracker store and lock store)."""
    trackers: dict[str, list[dict[str, Any]]] = {}
    locks: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                running(FakeRasa(token=TOKEN, trackers=trackers, locks=locks))
            )
            for _ in range(count)
        ]


@asynccontextmanager
async def pool_of(
    fakes: list[FakeRasa], *, standby: tuple[FakeRasa, ...] = (), wait: float = 2.0
) -> AsyncIterator[RasaPool]:
    """The pool over the fakes (and a standby pool), rechecking a worker that is down often."""
    async with aiohttp.ClientSession() as session:
        pools = [[f.url for f in fakes]] + ([[f.url for f in standby]] if standby else [])
        pool = RasaPool(session, pools, token=TOKEN, timeout=wait, recheck=(0.05, 0.2))
        try:
            yield pool
        finally:
            await pool.close()


def answered_by(fakes: list[FakeRasa], sender: str) -> list[int]:
    """Which worker (index) ran each turn of the conversation (the metadata's "n" orders them)."""
    turns = [
        (t.metadata["n"], i) for i, f in enumerate(fakes) for t in f.turns if t.sender == sender
    ]
    return [i for _, i in sorted(turns)]


def sender_on(fakes: list[FakeRasa], worker: int, prefix: str = "api:c") -> str:
    """A conversation whose first choice is that worker."""
    senders = (f"{prefix}{n}" for n in range(100))
    return next(s for s in senders if first_choice(fakes, s) == worker)


def first_choice(fakes: list[FakeRasa], sender: str) -> int:
    return [f.url for f in fakes].index(ranked(sender, [f.url for f in fakes])[0])


async def say(pool: RasaPool, sender: str, text: str, n: int) -> str:
    answer = await pool.send(sender, text, {"n": n}, input_channel="api")
    return answer.replies[0].text


async def test_each_conversation_stays_on_its_worker_and_all_are_used() -> None:
    async with workers(3) as fakes, pool_of(fakes) as pool:
        senders = [f"api:c{n}" for n in range(24)]
        for n in range(2):
            for sender in senders:
                assert await say(pool, sender, f"第{n}句", n) == f"收到：第{n}句"
        for sender in senders:
            assert answered_by(fakes, sender) == [first_choice(fakes, sender)] * 2
        assert all(f.turns for f in fakes)  # every worker has its share


async def test_a_worker_that_is_down_is_skipped_and_used_again_when_back() -> None:
    async with workers(2) as fakes, pool_of(fakes) as pool:
        sender = sender_on(fakes, 0)
        await say(pool, sender, "东山村停电了", 1)
        await fakes[0].down()  # killed between two messages: connections refused
        # the conversation goes on at once on the other worker, with the shared tracker
        assert await say(pool, sender, "只有我家没电", 2) == "收到：只有我家没电"
        assert answered_by(fakes, sender) == [0, 1]
        assert [len(e) for e in fakes[1].trackers.values()] == [4]  # both turns, one tracker
        assert pool.describe() == {fakes[0].url: "down", fakes[1].url: "ok"}
        await fakes[0].up()
        await eventually(lambda: pool.describe()[fakes[0].url] == "ok", within=5)
        await say(pool, sender, "13905716666", 3)
        assert answered_by(fakes, sender) == [0, 1, 0]  # back home


async def test_a_worker_without_a_model_hands_the_message_on() -> None:
    async with workers(2) as fakes, pool_of(fakes) as pool:
        sender = sender_on(fakes, 0)
        fakes[0].fail_status, fakes[0].fail_code = 503, "no_model"
        assert await say(pool, sender, "你好", 1) == "收到：你好"
        assert (fakes[0].requests, fakes[1].requests) == (1, 1)
        other = sender_on(fakes, 0, "api:d")
        await say(pool, other, "你好", 1)
        assert fakes[0].requests == 1  # down: not asked again until a probe says it is back


async def test_a_failure_that_may_have_run_the_turn_is_not_sent_elsewhere() -> None:
    async with workers(2) as fakes, pool_of(fakes, wait=0.3) as pool:
        sender = sender_on(fakes, 0)
        fakes[0].delay = 1.0  # still running it when the gateway stops waiting
        with pytest.raises(RasaUnavailable) as failed:
            await say(pool, sender, "东山村停电了", 1)
        assert not isinstance(failed.value, RasaNotReached)
        assert fakes[1].requests == 0
        assert pool.describe()[fakes[0].url] == "down"
        await eventually(lambda: len(fakes[0].turns) == 1)  # it did run it
        fakes[0].delay = 0
        # the retry, flagged, is answered from the shared tracker on whichever worker is up
        answer = await pool.send(sender, "东山村停电了", _retry_of(fakes[0]), input_channel="api")
        assert [r.text for r in answer.replies] == ["收到：东山村停电了"]
        assert sum(len(f.turns) for f in fakes) == 1  # run once
        assert sum(len(f.replayed) for f in fakes) == 1


def _retry_of(fake: FakeRasa) -> dict[str, Any]:
    return {**fake.turns[0].metadata, RETRY_KEY: True}


async def test_a_failure_of_what_the_workers_share_leaves_the_worker_up() -> None:
    async with workers(2) as fakes, pool_of(fakes) as pool:
        for fake in fakes:
            fake.fail_status, fake.fail_code = 500, "turn_failed"  # e.g. Redis away
        with pytest.raises(RasaTurnFailed):
            await say(pool, "api:a", "你好", 1)
        assert sum(f.requests for f in fakes) == 1  # not sent again elsewhere
        assert set(pool.describe().values()) == {"ok"}


async def test_no_worker_up_is_not_reached() -> None:
    async with workers(2) as fakes, pool_of(fakes) as pool:
        for fake in fakes:
            await fake.down()
        with pytest.raises(RasaNotReached):
            await say(pool, "api:a", "你好", 1)
        assert not pool.any_up()
        await fakes[1].up()
        assert await pool.status()  # the retry worker's probe brings it back at once
        assert await say(pool, "api:a", "你好", 2) == "收到：你好"


async def test_tracker_reads_go_to_a_worker_that_is_up() -> None:
    async with workers(2) as fakes, pool_of(fakes) as pool:
        sender = sender_on(fakes, 0)
        await say(pool, sender, "你好", 1)
        await fakes[0].down()
        latest = await pool.latest_message(sender)
        assert latest is not None
        assert latest["intent"]["name"] == "greet"
        assert fakes[1].tracker_requests == ["NONE"]


async def test_blue_green_moves_customers_to_the_other_pool() -> None:
    async with workers(4) as fakes, pool_of(fakes[:2], standby=tuple(fakes[2:])) as pool:
        assert pool.names == (fakes[0].url, fakes[2].url)
        await say(pool, "api:a", "你好", 1)
        pool.switch_to(fakes[2].url + "/")
        assert pool.base_url == fakes[2].url
        await say(pool, "api:a", "还在吗", 2)
        assert answered_by(fakes, "api:a")[1] in (2, 3)
        pool.switch_to("http://127.0.0.1:1")  # a stale row naming no pool: ignored
        assert pool.base_url == fakes[2].url


async def test_the_gateway_keeps_answering_when_a_worker_dies(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    """Through the whole gateway: a worker killed between two messages of a conversation is
    not noticed by the customer; /health shows it; the other worker answers meanwhile."""
    async with workers(2) as fakes:
        settings = settings_for(fakes[0], db_url, rasa_more_urls=(fakes[1].url,))
        async with running_gateway(settings, fakes[0]) as gw:
            chat = sender_on(fakes, 0, "fake:").removeprefix("fake:")
            first = await gw.router.handle(message("东山村停电了", chat=chat))
            await fakes[0].down()
            second = await gw.router.handle(message("只有我家没电", chat=chat))
            assert not first.degraded
            assert not second.degraded
            assert [r.text for r in second.replies] == ["收到：只有我家没电"]
            health = await (await gw.client.get("/health", headers=OPERATOR)).json()
            assert health["rasa"] == "ok"
            assert health["rasa_workers"] == {fakes[0].url: "down", fakes[1].url: "ok"}
            assert [len(f.turns) for f in fakes] == [1, 1]
            with unit_of_work(session_factory) as session:
                inbound = session.scalars(select(Message).where(Message.direction == "in"))
                assert [m.status for m in inbound] == ["processed", "processed"]

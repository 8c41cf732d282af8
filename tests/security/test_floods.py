"""Floods against the gateway's edges: customers' channels over their rate limits, a console
login flood while customers chat, and /health called by anybody.

Over a limit the answer is 429 with Retry-After and a JSON error (the web chat: an error frame
in the customer's language), and the message is neither stored nor processed. The login flood
must not stall customers: password checks run on their own bounded pool, never on the shared
one the customers' turns use. The measured version (50 logins a second for 30 s, customers'
p50 with and without) is `make bench`'s flood part (scripts/benchflood.py).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.limits import Limits
from bot.ratelimit import Rate
from bot.settings import GatewaySettings
from store.db import unit_of_work
from store.models import Message
from store.services import staff
from tests.fakes import webchat as webchat_fakes
from tests.fakes.console import PASSWORD, cheap_password_hashing, running_console
from tests.fakes.gateway import OPERATOR, Harness, running_gateway, settings_for
from tests.fakes.rasa import FakeRasa


def stored(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


def refused_properly(status: int, headers: Any, body: dict[str, Any]) -> bool:
    retry = headers.get("Retry-After", "")
    return status == 429 and retry.isdigit() and int(retry) >= 1 and "code" in body["error"]


# --- the JSON API -----------------------------------------------------------------------------


async def test_api_over_the_address_limit_is_refused_and_stores_nothing(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    limits = Limits(api=Rate(3, 60), api_sender=None)
    async with running_gateway(settings_for(rasa, db_url, limits=limits), rasa) as gw:
        for n in range(3):
            status, _ = await gw.post({"sender": f"s{n}", "text": "停电了"})
            assert status == 200
        before = stored(session_factory)
        for body in ({"sender": "new", "text": "停电了"}, {"sender": "x"}, "garbage"):
            response = await gw.client.post("/api/v1/messages", json=body)
            assert refused_properly(response.status, response.headers, await response.json())
        transcript = await gw.client.get("/api/v1/conversations/api:s0/messages")
        assert transcript.status == 429
        assert stored(session_factory) == before
        assert rasa.texts() == ["停电了"] * 3


async def test_api_over_the_sender_limit_leaves_other_senders_alone(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    limits = Limits(api=None, api_sender=Rate(2, 60))
    async with running_gateway(settings_for(rasa, db_url, limits=limits), rasa) as gw:
        assert [(await gw.post({"sender": "a", "text": f"m{n}"}))[0] for n in range(2)] == [200] * 2
        before = stored(session_factory)
        response = await gw.client.post("/api/v1/messages", json={"sender": "a", "text": "m2"})
        body = await response.json()
        assert refused_properly(response.status, response.headers, body)
        assert body["error"]["code"] == "rate_limited"
        assert stored(session_factory) == before
        assert (await gw.post({"sender": "b", "text": "m0"}))[0] == 200
        assert rasa.texts() == ["m0", "m1", "m0"]


# --- the web chat -----------------------------------------------------------------------------


async def test_webchat_over_the_limit_gets_a_polite_frame_and_nothing_is_handled() -> None:
    router = webchat_fakes.FakeRouter()
    settings = GatewaySettings(limits=Limits(webchat=Rate(3, 60)))
    app = webchat_fakes.make_app(router, settings)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        ws = await client.ws_connect("/ws")
        session = str(uuid.uuid4())
        await ws.send_json({"type": "hello", "session": session, "language": "en"})
        assert (await ws.receive_json())["type"] == "history"
        for text in ("one", "two"):
            await ws.send_json({"type": "message", "id": str(uuid.uuid4()), "text": text})
            events = [(await ws.receive_json())["type"] for _ in range(3)]
            assert events == ["typing", "ack", "reply"]
        refused_id = str(uuid.uuid4())
        await ws.send_json({"type": "message", "id": refused_id, "text": "three"})
        error = await ws.receive_json()
        assert error["type"] == "error"
        assert error["code"] == "rate_limited"
        assert error["id"] == refused_id
        assert error["retry_after"] >= 1
        assert "too fast" in error["message"]  # the socket speaks English
        await ws.send_json(
            {"type": "message", "id": str(uuid.uuid4()), "text": "四", "language": "zh"}
        )
        chinese = await ws.receive_json()
        assert chinese["code"] == "rate_limited"
        assert "太快" in chinese["message"]
        assert router.texts() == ["one", "two"]
        # another client address is not affected: not testable on one loopback address here;
        # tests/security/test_forwarded_for.py does it through a trusted proxy
        await ws.close()


# --- the console login flood ------------------------------------------------------------------


async def test_a_login_flood_does_not_stall_customers(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Logins whose password check never ends fill only their own pool (1 thread + 2 waiting,
    the rest refused at once) and hold no transaction; a customer's message, whose database
    work runs on the shared pool, is answered meanwhile. Before, the checks ran on the shared
    pool inside a write transaction, and the customer waited for them (here: forever)."""
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(4))  # a small machine's
    release = threading.Event()

    class StuckHasher(PasswordHasher):
        """argon2 that takes as long as the test wants."""

        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            release.wait(30)
            return super().verify(hash, password)

    monkeypatch.setattr(staff, "_hasher", StuckHasher(time_cost=1, memory_cost=64, parallelism=1))
    limits = Limits(login=None, hash_threads=1, hash_queue=2)
    async with (
        running_console(rasa, db_url, session_factory, limits=limits) as console,
        aiohttp.ClientSession() as http,
    ):
        if True:
            url = f"{console.base}/api/v1/agent/login"
            logins = [
                asyncio.ensure_future(
                    http.post(url, json={"username": "agent1", "password": PASSWORD})
                )
                for _ in range(8)
            ]
            try:
                customer = await asyncio.wait_for(
                    http.post(
                        f"{console.base}/api/v1/messages", json={"sender": "c", "text": "停电了"}
                    ),
                    timeout=15,
                )
                assert customer.status == 200
                assert (await customer.json())["replies"]
            finally:
                release.set()
            responses = await asyncio.gather(*logins)
            statuses = sorted(r.status for r in responses)
            assert statuses == [200] * 3 + [429] * 5
            for response in responses:
                if response.status == 429:
                    body = await response.json()
                    assert body["error"]["code"] == "too_many_logins"
                    assert response.headers["Retry-After"] == "1"


async def test_logins_are_limited_overall_whoever_tries(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cheap_password_hashing(monkeypatch)
    limits = Limits(login=Rate(3, 60))
    async with running_console(rasa, db_url, session_factory, limits=limits) as console:
        who = await console.browser()
        attempts = [("agent1", "wrong"), ("agent2", "wrong"), ("nobody", "x")]
        assert [(await who.login(u, p)).status for u, p in attempts] == [401, 401, 401]
        refused = await who.login("boss")  # right password, another user: the flood's cost
        body = await refused.json()
        assert refused_properly(refused.status, refused.headers, body)
        assert body["error"]["code"] == "too_many_logins"
        form = await who.http.get(who.url("/console/login"))
        token = who.http.cookie_jar.filter_cookies(form.url)["gds_console_login"].value
        page = await who.http.post(
            who.url("/console/login"),
            data={"username": "boss", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
        )
        assert page.status == 429
        assert int(page.headers["Retry-After"]) >= 1
        assert "登录请求过多" in await page.text()


# --- /health ----------------------------------------------------------------------------------


@pytest.fixture
async def gw(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> AsyncIterator[Harness]:
    async with running_gateway(settings_for(rasa, db_url), rasa) as harness:
        yield harness


async def test_public_health_says_only_ok_or_not(gw: Harness, rasa: FakeRasa) -> None:
    await rasa.down()
    response = await gw.client.get("/health")
    assert response.status == 503
    assert await response.json() == {"status": "degraded"}
    assert response.headers["Cache-Control"] == "no-store"
    detailed = await gw.client.get("/health", headers=OPERATOR)
    assert detailed.status == 503
    details = await detailed.json()
    assert (details["rasa"], details["actions"], details["database"]) == ("down", "ok", "ok")
    assert details["pending"] == 0
    assert details["uptime_seconds"] >= 0
    assert details["console_logins"] == {"running": 0, "waiting": 0}
    assert set(details["refused"]) <= {"api", "api_sender", "webchat"}
    for header in ("Bearer wrong", "Bearer ", "Basic aGVhbHRoOg==", "health-token-for-tests"):
        wrong = await gw.client.get("/health", headers={"Authorization": header})
        assert wrong.status == 401
        assert "rasa" not in await wrong.json()


async def test_public_health_probes_once_for_many_callers(
    gw: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = 0
    database_ok = gw.router.database_ok

    async def counted() -> bool:
        nonlocal pings
        pings += 1
        return await database_ok()

    monkeypatch.setattr(gw.router, "database_ok", counted)
    responses = await asyncio.gather(*(gw.client.get("/health") for _ in range(40)))
    assert [r.status for r in responses] == [200] * 40
    for _ in range(20):
        assert (await gw.client.get("/health")).status == 200
    assert pings == 1
    assert (await gw.client.get("/health", headers=OPERATOR)).status == 200
    assert pings == 2  # the operator's look is always fresh

"""X-Forwarded-For: believed only from TRUSTED_PROXIES, for every limiter (and log line).

Behind the station's proxy every request comes from the proxy; without the header every
customer would share one address, one rate limit and one login lock-out. From anybody else the
header is a lie that must change nothing: spoofing it neither escapes a limit nor frames
another address.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import Session, sessionmaker

from bot.limits import Limits
from bot.ratelimit import Rate
from bot.settings import GatewaySettings
from tests.fakes import webchat as webchat_fakes
from tests.fakes.console import cheap_password_hashing, running_console
from tests.fakes.gateway import running_gateway, settings_for
from tests.fakes.rasa import FakeRasa

LOOPBACK_PROXY = (ipaddress.ip_network("127.0.0.1/32"),)
"""The test client connects from 127.0.0.1: as if it were the station's proxy."""
LIMITS = Limits(api=Rate(2, 60), api_sender=None, webchat=Rate(2, 60))


def xff(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_behind_a_trusted_proxy_each_customer_has_its_own_limit(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    settings = settings_for(rasa, db_url, limits=LIMITS, trusted_proxies=LOOPBACK_PROXY)
    async with running_gateway(settings, rasa) as gw:
        for customer in ("198.51.100.1", "198.51.100.2"):
            for n in range(2):
                body = {"sender": f"c{customer}", "text": f"m{n}"}
                status, _ = await gw.post(body, headers=xff(f"6.6.6.6, {customer}"))
                assert status == 200
        refused = await gw.client.post(
            "/api/v1/messages", json={"sender": "x", "text": "m"}, headers=xff("198.51.100.1")
        )
        assert refused.status == 429


async def test_from_an_untrusted_peer_the_header_changes_nothing(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    async with running_gateway(settings_for(rasa, db_url, limits=LIMITS), rasa) as gw:
        statuses = [
            (await gw.post({"sender": "s", "text": "m"}, headers=xff(f"198.51.100.{n}")))[0]
            for n in range(4)
        ]
        assert statuses == [200, 200, 429, 429]  # one client, whatever it claims


async def test_login_lockout_is_per_customer_address_behind_the_proxy(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An attacker's failures lock out the attacker's address, not the real agent's."""
    cheap_password_hashing(monkeypatch)
    caplog.set_level(logging.INFO, logger="bot.console.login")
    async with running_console(
        rasa, db_url, session_factory, trusted_proxies=LOOPBACK_PROXY
    ) as console:
        attacker = await console.browser()
        attacker.http.headers.update(xff("203.0.113.66"))
        statuses = [(await attacker.login("agent1", "guess")).status for _ in range(6)]
        assert statuses == [401] * 5 + [429]
        agent = await console.browser()
        agent.http.headers.update(xff("198.51.100.10"))
        assert (await agent.login("agent1")).status == 200
    assert "from 203.0.113.66" in caplog.text
    assert "agent1 logged in from 198.51.100.10" in caplog.text


async def test_spoofed_header_does_not_escape_the_login_lockout(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cheap_password_hashing(monkeypatch)
    async with running_console(rasa, db_url, session_factory) as console:
        attacker = await console.browser()
        for n in range(5):
            attacker.http.headers.update(xff(f"203.0.113.{n}"))
            assert (await attacker.login("agent1", "guess")).status == 401
        attacker.http.headers.update(xff("203.0.113.99"))
        assert (await attacker.login("agent1", "guess")).status == 429


async def test_webchat_limits_count_the_forwarded_address() -> None:
    router = webchat_fakes.FakeRouter()
    settings = GatewaySettings(limits=LIMITS, trusted_proxies=LOOPBACK_PROXY)
    app = webchat_fakes.make_app(router, settings)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:

        async def hello(address: str) -> str:
            ws = await client.ws_connect("/ws", headers=xff(address))
            await ws.send_json({"type": "hello", "session": str(uuid.uuid4())})
            answer = await ws.receive_json()
            await ws.close()
            return str(answer["type"] if answer["type"] != "error" else answer["code"])

        assert [await hello("198.51.100.1") for _ in range(3)] == [
            "history",
            "history",
            "rate_limited",
        ]
        assert await hello("198.51.100.2") == "history"  # a neighbour behind the same proxy

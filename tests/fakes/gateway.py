"""Running the real gateway (create_app) in a test against the fake Rasa, plus a recording
channel to see what the router delivers later (retries, notifications)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.channels.base import Channel
from bot.keys import CORE_ROUTER
from bot.messages import Inbound, Reply
from bot.router import Router
from bot.settings import GatewaySettings
from nlu.settings import NluSettings
from store.db import unit_of_work
from store.models import Base
from tests.fakes.rasa import FakeRasa


class RecordingChannel(Channel):
    """Records every delivery; `fail` makes the next deliveries raise."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.sent: list[tuple[str, tuple[Reply, ...]]] = []
        self.fail = False

    async def send(self, chat_id: str, replies: Sequence[Reply]) -> None:
        if self.fail:
            raise ConnectionError("channel down")
        self.sent.append((chat_id, tuple(replies)))

    def texts(self) -> list[str]:
        return [r.text for _, replies in self.sent for r in replies]


HEALTH_TOKEN = "health-token-for-tests"
OPERATOR = {"Authorization": f"Bearer {HEALTH_TOKEN}"}
"""Headers of an operator's /health request: the details, not only ok or not."""


def settings_for(rasa: FakeRasa, db_url: str, **overrides: Any) -> GatewaySettings:
    """Gateway settings pointing at the fake Rasa and the test database, with short timeouts."""
    base = GatewaySettings(
        rasa_url=rasa.url,
        rasa_token=rasa.token,
        rasa_timeout=1.0,
        database_url=db_url,
        action_server_url=rasa.actions_url,
        notify_interval=0,
        outage_notices=False,  # the outage-notice worker only where a test asks (bot/outages/)
        retry_max_backoff=0.2,
        shutdown_timeout=5.0,
        # the fake NLU calls most texts nlu_fallback: handoff triggers only where a test asks
        handoff_triggers=False,
        handoff_watch=False,
        quality_reports=False,  # its job runs where a test asks (test_quality_reports.py)
        health_token=HEALTH_TOKEN,
    )
    return replace(base, **overrides)


def message(text: str, *, chat: str = "42", channel: str = "fake", **kw: Any) -> Inbound:
    return Inbound(channel=channel, chat_id=chat, user_id=f"u{chat}", text=text, **kw)


async def eventually(
    check: Callable[[], Any], *, within: float = 10.0, interval: float = 0.05
) -> None:
    """Wait until `check()` is truthy (it may be async); fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)


@dataclass
class Harness:
    client: TestClient
    rasa: FakeRasa
    router: Router
    channel: RecordingChannel
    settings: GatewaySettings
    extra: dict[str, Any] = field(default_factory=dict)

    async def post(
        self, body: Any, *, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        response = await self.client.post("/api/v1/messages", json=body, headers=headers)
        return response.status, await response.json()


@asynccontextmanager
async def running_gateway(
    settings: GatewaySettings, rasa: FakeRasa, *, nlu_settings: NluSettings | None = None
) -> AsyncIterator[Harness]:
    """The gateway core (no web chat, no Telegram) serving on loopback, with a recording
    channel named 'fake' registered with its router (`nlu_settings`: instead of conf/nlu.yml)."""
    app = create_app(settings, channels=False, nlu_settings=nlu_settings)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        router = app[CORE_ROUTER]
        channel = RecordingChannel()
        router.register(channel)
        yield Harness(client, rasa, router, channel, settings)
    finally:
        await client.close()


def row_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Every table's row count, in one round trip (a refused request must not change one)."""
    tables = Base.metadata.sorted_tables
    query = select(*(select(func.count()).select_from(t).scalar_subquery() for t in tables))
    with unit_of_work(factory) as session:
        counts = session.execute(query).one()
    return {t.name: int(n) for t, n in zip(tables, counts, strict=True)}

"""Helpers for the agent-console tests: the real gateway (create_app) on a real database with
the fake Rasa, staff users, a queued handoff, and one HTTP client (cookie jar) per staff member."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.keys import CORE_ROUTER
from bot.router import Router
from store.db import unit_of_work
from store.models import Conversation
from store.services import handoffs, staff, transcripts
from tests.fakes.gateway import RecordingChannel, settings_for
from tests.fakes.rasa import FakeRasa

PASSWORD = "correct horse 电池"
USERS = {
    # username: (role, max_chats)
    "agent1": ("agent", 3),
    "agent2": ("agent", 3),
    "boss": ("supervisor", 5),
    "ops": ("operator", 0),
}


def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with the smallest parameters: the tests log in dozens of times on 2 CPU cores."""
    monkeypatch.setattr(
        staff, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )


def make_staff(
    factory: sessionmaker[Session], users: dict[str, tuple[str, int]] = USERS
) -> dict[str, int]:
    now = datetime.now(UTC)
    ids = {}
    with unit_of_work(factory) as session:
        for username, (role, max_chats) in users.items():
            user = staff.create_user(
                session,
                username=username,
                display_name=f"{username}的名字",
                password=PASSWORD,
                role=role,
                max_chats=max_chats,
                now=now,
            )
            ids[username] = user.id
    return ids


def queue_conversation(
    factory: sessionmaker[Session],
    chat: str = "42",
    *,
    channel: str = "fake",
    reason: str = "request_human",
    text: str = "我要找人工",
) -> tuple[str, int]:
    """A conversation with one customer message and a queued handoff: (conversation id, id)."""
    now = datetime.now(UTC)
    with unit_of_work(factory) as session:
        conversation = transcripts.touch_conversation(
            session,
            conversation_id=f"{channel}:{chat}",
            channel=channel,
            chat_id=chat,
            user_id=f"u{chat}",
            now=now,
        )
        transcripts.record_inbound(session, conversation, text=text, now=now, status="processed")
        handoff = handoffs.request(session, conversation_pk=conversation.id, reason=reason, now=now)
        return conversation.conversation_id, handoff.id


def handle_of(factory: sessionmaker[Session], conversation_id: str) -> int:
    """The console's handle of a conversation (its database id): what staff routes take."""
    with unit_of_work(factory) as session:
        query = select(Conversation.id).where(Conversation.conversation_id == conversation_id)
        return session.scalars(query).one()


@dataclass
class StaffClient:
    """One logged-in (or anonymous) browser: its own cookie jar."""

    base: str
    http: aiohttp.ClientSession
    csrf: str = ""
    user: dict[str, Any] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    async def login(self, username: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
        response = await self.http.post(
            self.url("/api/v1/agent/login"), json={"username": username, "password": password}
        )
        if response.status == 200:
            data = await response.json()
            self.csrf = data["csrf_token"]
            self.user = data["user"]
        return response

    async def get(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        return await self.http.get(self.url(path), allow_redirects=False, **kw)

    async def post(
        self, path: str, body: Any = None, *, csrf: str | None = None, **kw: Any
    ) -> aiohttp.ClientResponse:
        headers = dict(kw.pop("headers", {}))
        token = self.csrf if csrf is None else csrf
        if token:
            headers["X-CSRF-Token"] = token
        return await self.http.post(
            self.url(path),
            json=body if body is not None else {},
            headers=headers,
            allow_redirects=False,
            **kw,
        )

    async def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if method == "GET":
            response = await self.get(path)
        else:
            response = await self.post(path, body)
        return response.status, await response.json()


@dataclass
class Console:
    client: TestClient
    router: Router
    channel: RecordingChannel
    factory: sessionmaker[Session]
    staff_ids: dict[str, int]
    clients: list[StaffClient] = field(default_factory=list)

    @property
    def base(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    @property
    def origin(self) -> str:
        return self.base

    async def browser(self, username: str | None = None) -> StaffClient:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
        who = StaffClient(self.base, aiohttp.ClientSession(cookie_jar=jar))
        self.clients.append(who)
        if username is not None:
            response = await who.login(username)
            assert response.status == 200, await response.text()
        return who

    async def assert_refused(
        self, path: str, body: Any, *, names: tuple[str, ...], allowed: StaffClient
    ) -> None:
        """POST `body` to `path` as each of `names` (staff whose role the route refuses) and as
        `allowed` (a role it admits) with a wrong CSRF token: a 403 each time."""
        for name in names:
            who = await self.browser(name)
            assert (await who.post(path, body)).status == 403, name
        assert (await allowed.post(path, body, csrf="wrong")).status == 403


@asynccontextmanager
async def running_console(
    rasa: FakeRasa,
    db_url: str,
    factory: sessionmaker[Session],
    *,
    prepare: Callable[[web.Application], None] | None = None,
    **overrides: Any,
) -> AsyncIterator[Console]:
    """The gateway with the console; `prepare` sees the app before it starts."""
    app = create_app(settings_for(rasa, db_url, **overrides), channels=False)
    if prepare is not None:
        prepare(app)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    console = Console(client, app[CORE_ROUTER], RecordingChannel(), factory, make_staff(factory))
    console.router.register(console.channel)
    try:
        yield console
    finally:
        for who in console.clients:
            await who.http.close()
        await client.close()

"""A repair through the whole stack (issue 17, item 1): two customers report a fault, one on the
web chat and one on Telegram (the fake Bot API); the trained model and the action server open
their tickets; the dispatcher sends a crew through the back office's API, the crew records
acceptance, arrival and restoration through the API its phone page uses; each customer is told
each step on their own channel, exactly once, with the crew's name.

It runs on the session's shared stack (tests/e2e/conftest.py): no training of its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import Gateway, Stack, say
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import ROOT, server_env

PASSWORD = "e2e-agent-password-1"
"""The demo staff's password (the session's database is shared and `demo-users` leaves existing
users alone, so every e2e test creates them with the same one)."""
TICKET = re.compile(r"T\d{10}")
CREW = "东片抢修组"
STEPS = {
    "dispatched": "已派单给" + CREW,
    "accepted": "抢修人员已接单",
    "on_site": "抢修人员已到达现场",
    "restored": "已恢复送电",
}
"""What the customer reads for each step (conf/gateway.yml), in the order they are taken."""


@pytest.fixture
def gateway_env() -> dict[str, str]:
    return {"DEMO_AGENT_PASSWORD": PASSWORD}


class WebChat:
    """A web-chat customer: one websocket, every reply the gateway pushes kept in `texts`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.texts: list[str] = []
        self.replies: list[dict[str, Any]] = []
        """The reply events themselves (text and buttons), in step with `texts`."""
        self.acks: set[str] = set()
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            event = json.loads(frame.data)
            async with self._changed:
                if event["type"] == "reply":
                    self.texts.append(event["text"])
                    self.replies.append(event)
                elif event["type"] == "ack":
                    self.acks.add(event["id"])
                self._changed.notify_all()

    async def wait_for(self, predicate: Any, within: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), within)

    async def say(self, text: str) -> str:
        """Send a message; the replies to it (joined), as the customer reads them."""
        before, message_id = len(self.texts), str(uuid.uuid4())
        await self.ws.send_json({"type": "message", "text": text, "id": message_id})
        await self.wait_for(lambda: message_id in self.acks, within=60)
        await asyncio.sleep(1.0)  # the replies follow the ack in the same burst
        return "\n".join(self.texts[before:])

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


@asynccontextmanager
async def web_chat(url: str, session: str | None = None) -> AsyncIterator[WebChat]:
    """A browser's web chat on the gateway at `url` (its session id: `session` or a new one)."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{url}/ws")
        hello = {"type": "hello", "session": session or str(uuid.uuid4()), "language": "zh"}
        await ws.send_json(hello)
        assert (await ws.receive_json(timeout=10))["type"] == "history"
        chat = WebChat(ws)
        try:
            yield chat
        finally:
            await chat.close()


@pytest.fixture
async def web(gateway: Gateway) -> AsyncIterator[WebChat]:
    async with web_chat(gateway.url) as chat:
        yield chat


class Staff:
    """A member of staff on the back office's JSON API (session cookie, CSRF token)."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url, self.csrf = http, url, ""

    async def login(self, username: str) -> Staff:
        body = {"username": username, "password": PASSWORD}
        async with self.http.post(f"{self.url}/api/v1/agent/login", json=body) as response:
            assert response.status == 200, await response.text()
            self.csrf = (await response.json())["csrf_token"]
        return self

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"X-CSRF-Token": self.csrf}
        url = f"{self.url}/api/v1/tickets{path}"
        async with self.http.request(method, url, json=body, headers=headers) as response:
            assert response.status == 200, f"{method} {path}: {await response.text()}"
            return await response.json()


async def report(say_it: Any, place: str, phone: str) -> str:
    """A fault report through the bot's questions; the ticket number it gives."""
    reply = await say_it(f"{place}停电了 家里啥都用不了")
    answers = [("哪个村", place), ("情况", "只有我家没电"), ("电话", phone)]
    for _ in range(4):
        if TICKET.search(reply):
            break
        answer = next((a for question, a in answers if question in reply), None)
        assert answer is not None, f"unexpected question: {reply}"
        reply = await say_it(answer)
    found = TICKET.search(reply)
    assert found, reply
    return found.group(0)


async def test_a_dispatched_repair_is_told_to_each_customer_on_their_channel(
    e2e_stack: Stack, gateway: Gateway, telegram: FakeTelegram, web: WebChat
) -> None:
    created = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "store", "--url", e2e_stack.database_url, "demo-users",
        cwd=ROOT, env=server_env(DEMO_AGENT_PASSWORD=PASSWORD),
    )  # fmt: skip
    assert await created.wait() == 0
    user = telegram.user(7_300_003)
    on_telegram = await report(lambda text: say(telegram, user, text), "东山村2组", "13905716602")
    on_web = await report(web.say, "东山村4组", "13905716604")
    assert on_web != on_telegram
    telegram_mark, web_mark = len(telegram.sent), len(web.texts)  # what follows is news

    jar = aiohttp.CookieJar(unsafe=True)  # the gateway is on 127.0.0.1
    async with (
        aiohttp.ClientSession(cookie_jar=jar) as http_d,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http_c,
    ):
        dispatcher = await Staff(http_d, gateway.url).login("dispatch")
        crew = await Staff(http_c, gateway.url).login("crew1")
        waiting = await dispatcher.call("GET", "?crew=none&open=1")
        assert {on_web, on_telegram} <= {t["ticket_no"] for t in waiting["tickets"]}
        options = await dispatcher.call("GET", "/options")
        east = next(c["id"] for c in options["crews"] if c["name"] == CREW)
        for number in (on_web, on_telegram):
            body = await dispatcher.call("POST", f"/{number}/assign", {"crew_id": east})
            assert (body["status"], body["crew"]["name"]) == ("dispatched", CREW)
        mine = await crew.call("GET", "/my-crew")
        assert {on_web, on_telegram} <= {t["ticket_no"] for t in mine["tickets"]}
        for number in (on_web, on_telegram):
            for step in ("accepted", "on_site", "restored"):
                body = await crew.call("POST", f"/{number}/steps", {"status": step})
                assert body["timeline"][-1]["actor"] == "crew1"

    def told_on_telegram() -> list[str]:
        news = [m for m in telegram.sent[telegram_mark:] if m["chat"]["id"] == user["id"]]
        return [str(m.get("text", "")) for m in news]

    def told_on_web() -> list[str]:
        return web.texts[web_mark:]

    await telegram.wait_for(lambda: len(told_on_telegram()) >= len(STEPS), within=30)
    await web.wait_for(lambda: len(told_on_web()) >= len(STEPS), within=30)
    await asyncio.sleep(2.5)  # several notifier passes (NOTIFY_INTERVAL 0.5 s): nothing again
    for number, notices in ((on_telegram, told_on_telegram()), (on_web, told_on_web())):
        assert len(notices) == len(STEPS), notices  # each step once, nothing else
        for notice, words in zip(notices, STEPS.values(), strict=True):
            assert number in notice, notices
            assert words in notice, notices
            assert CREW in notice, notice
    assert not any(on_telegram in t for t in web.texts)  # nobody hears the other's ticket
    assert not any(on_web in str(m.get("text")) for m in telegram.sent)

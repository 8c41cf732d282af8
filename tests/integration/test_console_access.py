"""Who sees which customer in the agent console, inside the real gateway (SQLite and
PostgreSQL): agents open only the conversations they handle (assigned, queued, handled
before), supervisors and managers the whole station, operators none; every opening (and every
refusal) is recorded and listed for supervisors and managers; conversations are shown by
handle and masked id, never by id; the supervisor overview and the operators' live feed carry
no customer's words; machines (the websocket, the page's timers) cannot keep an idle session
alive."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.console import ws as console_ws
from bot.console.state import CONSOLE
from store.db import unit_of_work
from store.models import AccessAudit, Conversation, VerificationAttempt
from store.services import console_sessions
from tests.fakes.console import (
    Console,
    StaffClient,
    handle_of,
    queue_conversation,
)
from tests.fakes.gateway import eventually, message

API = "/api/v1/agent"
MORE_STAFF = {"agent3": ("agent", 3), "chief": ("manager", 5)}


@pytest.fixture
def console_staff() -> dict[str, tuple[str, int]]:
    return MORE_STAFF


async def claimed(console: Console, who: StaffClient, chat: str, **kw: Any) -> tuple[int, int]:
    """A conversation queued and claimed by `who`: (handle, handoff id)."""
    conversation_id, handoff_id = queue_conversation(console.factory, chat, **kw)
    status, body = await who.json("POST", f"{API}/claim/{handoff_id}")
    assert status == 200, body
    return handle_of(console.factory, conversation_id), handoff_id


async def opens(who: StaffClient, handle: int) -> tuple[int, int]:
    """The statuses of the transcript and the customer panel of `handle` for `who`."""
    transcript = await who.get(f"{API}/transcript/{handle}")
    customer = await who.get(f"{API}/customer/{handle}")
    return transcript.status, customer.status


class ShiftedClock:
    """The console's clock, moved on by the test (sessions' idle and absolute expiry)."""

    def __init__(self, app: web.Application) -> None:
        self.state = app[CONSOLE]
        self.real = self.state.clock
        self.offset = timedelta(0)
        self.state.clock = lambda: self.real() + self.offset

    def restore(self) -> None:
        self.state.clock = self.real


@pytest.fixture
def clock(console: Console) -> Iterator[ShiftedClock]:
    app = console.client.app
    assert app is not None
    shifted = ShiftedClock(app)
    yield shifted
    shifted.restore()


# --- ownership ----------------------------------------------------------------------------


async def test_agents_open_only_the_conversations_they_handle(console: Console) -> None:
    one, two = await console.browser("agent1"), await console.browser("agent2")
    three = await console.browser("agent3")
    mine, handoff_id = await claimed(console, one, "1")
    queued_id, _ = queue_conversation(console.factory, "2")
    queued = handle_of(console.factory, queued_id)

    assert await opens(one, mine) == (200, 200)
    assert await opens(two, mine) == (403, 403)  # another agent's chat
    response = await two.get(f"{API}/transcript/{mine}")
    assert (await response.json())["error"]["code"] == "not_your_chat"
    assert await opens(two, queued) == (200, 200)  # waiting in the queue every agent serves

    # transferred: the colleague now handles it, and the first agent handled it before
    status, body = await one.json(
        "POST", f"{API}/transfer", {"handoff_id": handoff_id, "to_agent_id": two.user["id"]}
    )
    assert status == 200, body
    assert await opens(two, mine) == (200, 200)
    assert await opens(one, mine) == (200, 200)
    assert await opens(three, mine) == (403, 403)
    # closed: still theirs to look back at, still nobody else's
    status, _ = await two.json("POST", f"{API}/close", {"handoff_id": handoff_id})
    assert status == 200
    assert await opens(two, mine) == (200, 200)
    assert await opens(one, mine) == (200, 200)
    assert await opens(three, mine) == (403, 403)

    # the station's supervisors and managers see everything; operators no conversation
    for name in ("boss", "chief"):
        assert await opens(await console.browser(name), mine) == (200, 200), name
    assert await opens(await console.browser("ops"), mine) == (403, 403)


async def test_a_manager_has_everything_a_supervisor_has(console: Console) -> None:
    one, chief = await console.browser("agent1"), await console.browser("chief")
    _, handoff_id = await claimed(console, one, "1")
    assert (await chief.get("/console")).status == 200
    assert (await chief.get("/console/supervisor")).status == 200
    assert (await chief.get(f"{API}/supervisor/overview")).status == 200
    assert (await chief.get(f"{API}/supervisor/access-log")).status == 200
    # writes in any assigned chat, like a supervisor (the router's check too)
    status, body = await chief.json(
        "POST", f"{API}/reply", {"handoff_id": handoff_id, "text": "经理补充一句"}
    )
    assert status == 200, body
    assert console.channel.texts()[-1] == "经理补充一句"
    status, _ = await chief.json("POST", f"{API}/note", {"handoff_id": handoff_id, "text": "x"})
    assert status == 200
    assert (await chief.get("/console/nlu")).status == 403  # retraining stays the operators'


# --- the record of openings ---------------------------------------------------------------


def verify(factory: sessionmaker[Session], conversation_id: str, account_no: str) -> None:
    with unit_of_work(factory) as session:
        session.add(
            VerificationAttempt(
                sender_id=conversation_id,
                account_no=account_no,
                success=True,
                at=datetime.now(UTC),
            )
        )


async def test_every_opening_and_refusal_is_recorded(
    console: Console, seeded: Any, session_factory: sessionmaker[Session]
) -> None:
    one, two = await console.browser("agent1"), await console.browser("agent2")
    handle, _ = await claimed(console, one, "7")
    with unit_of_work(session_factory) as session:
        conversation_id = session.get(Conversation, handle).conversation_id  # type: ignore[union-attr]
    verify(session_factory, conversation_id, "3301000002")
    before = datetime.now(UTC)
    assert await opens(one, handle) == (200, 200)
    assert await opens(two, handle) == (403, 403)

    with unit_of_work(session_factory) as session:
        rows = list(session.scalars(select(AccessAudit).order_by(AccessAudit.id)))
    seen = [(r.username, r.kind, r.allowed, r.account_no) for r in rows]
    assert seen == [
        ("agent1", "transcript", True, None),
        ("agent1", "customer", True, "3301000002"),
        ("agent2", "transcript", False, None),
        ("agent2", "customer", False, None),
    ]
    assert {r.client_address for r in rows} == {"127.0.0.1"}
    assert {r.conversation_pk for r in rows} == {handle}
    assert {r.conversation_label for r in rows} == {"fake:…"}
    assert all(before - timedelta(seconds=5) <= r.at <= datetime.now(UTC) for r in rows)
    assert {r.role for r in rows} == {"agent"}

    boss = await console.browser("boss")
    status, body = await boss.json("GET", f"{API}/supervisor/access-log")
    assert status == 200
    entries = body["entries"]
    assert [(e["username"], e["kind"], e["allowed"]) for e in entries] == [
        ("agent2", "customer", False),
        ("agent2", "transcript", False),
        ("agent1", "customer", True),
        ("agent1", "transcript", True),
    ]  # newest first
    assert entries[2]["account_no"] == "3301000002"
    assert entries[0]["conversation"] == handle
    assert entries[0]["conversation_label"] == "fake:…"
    assert entries[0]["client_address"] == "127.0.0.1"
    assert body["next_before"] is None

    status, body = await boss.json("GET", f"{API}/supervisor/access-log?user=agent1")
    assert [e["username"] for e in body["entries"]] == ["agent1", "agent1"]
    status, page = await boss.json("GET", f"{API}/supervisor/access-log?limit=3")
    assert len(page["entries"]) == 3
    status, rest = await boss.json(
        "GET", f"{API}/supervisor/access-log?limit=3&before={page['next_before']}"
    )
    assert [e["id"] for e in rest["entries"]] == [entries[3]["id"]]
    status, none = await boss.json("GET", f"{API}/supervisor/access-log?conversation=999")
    assert none["entries"] == []
    for bad in ("limit=0", "limit=201", "limit=x", "before=-1", "conversation=%C2%B2"):
        status, body = await boss.json("GET", f"{API}/supervisor/access-log?{bad}")
        assert (status, body["error"]["code"]) == (422, "invalid"), bad

    chief = await console.browser("chief")
    assert (await chief.get(f"{API}/supervisor/access-log")).status == 200
    for name in ("agent1", "ops"):
        who = await console.browser(name)
        assert (await who.get(f"{API}/supervisor/access-log")).status == 403, name
    # the supervisor page has the table (filled by its script)
    page_html = await (await boss.get("/console/supervisor")).text()
    assert 'id="access-section"' in page_html


# --- masked ids ---------------------------------------------------------------------------


def web_conversation(factory: sessionmaker[Session]) -> tuple[str, str]:
    """A queued web chat: (its secret id, the uuid)."""
    chat = str(uuid.uuid4())
    conversation_id, _ = queue_conversation(factory, chat, channel="web", text="网页客户的话")
    return conversation_id, chat


async def test_web_chat_ids_are_never_shown_in_full(
    console: Console, seeded: Any, session_factory: sessionmaker[Session]
) -> None:
    conversation_id, chat = web_conversation(session_factory)
    earlier_id, earlier_chat = web_conversation(session_factory)  # same customer, earlier
    for cid in (conversation_id, earlier_id):
        verify(session_factory, cid, "3301000002")
    handle = handle_of(session_factory, conversation_id)
    label = f"web:{chat[:4]}…{chat[-4:]}"
    secrets = (chat, earlier_chat)

    one, boss = await console.browser("agent1"), await console.browser("boss")
    sockets = [
        await who.http.ws_connect(who.url("/console/ws"), headers={"Origin": console.origin})
        for who in (one, boss, await console.browser("ops"))
    ]
    bodies: list[str] = []

    async def body_of(who: StaffClient, method: str, path: str, data: Any = None) -> Any:
        response = await (who.get(path) if method == "GET" else who.post(path, data))
        assert response.status == 200, (path, await response.text())
        bodies.append(await response.text())
        return await response.json()

    queue = await body_of(one, "GET", f"{API}/queue")
    entry = next(e for e in queue["queue"] if e["conversation"] == handle)
    assert entry["conversation_label"] == label
    assert "conversation_id" not in entry
    handoff_id = entry["id"]
    await body_of(one, "POST", f"{API}/claim/{handoff_id}")
    me = await body_of(one, "GET", f"{API}/me")
    assert [c["conversation_label"] for c in me["chats"]] == [label]
    transcript = await body_of(one, "GET", f"{API}/transcript/{handle}")
    assert (transcript["conversation"], transcript["conversation_label"]) == (handle, label)
    customer = await body_of(one, "GET", f"{API}/customer/{handle}")
    (other,) = customer["other_conversations"]
    assert other["conversation_label"] == f"web:{earlier_chat[:4]}…{earlier_chat[-4:]}"
    assert other["conversation"] == handle_of(session_factory, earlier_id)
    reply = await body_of(one, "POST", f"{API}/reply", {"handoff_id": handoff_id, "text": "好"})
    assert reply["conversation_label"] == label
    await console.router.handle(message("客户又说了一句", chat=chat, channel="web"))
    await body_of(boss, "GET", f"{API}/supervisor/overview")
    await body_of(boss, "GET", f"{API}/supervisor/access-log")
    await body_of(boss, "GET", f"{API}/transcript/{handle}")

    # the live feed: the customer's message reached the agent and the supervisor
    for ws in sockets[:2]:
        while True:
            frame = await ws.receive_str(timeout=10)
            bodies.append(frame)
            if '"message_in"' in frame:
                assert f'"conversation": {handle}' in frame
                break
    for ws in sockets:
        await ws.close()
    assert bodies
    for text in bodies:
        for secret in secrets:
            assert secret not in text
            assert secret.replace("-", "") not in text


# --- what operators see -------------------------------------------------------------------


async def test_operators_see_no_customer_words_in_the_overview_or_the_feed(
    console: Console,
) -> None:
    ops = await console.browser("ops")
    ws = await ops.http.ws_connect(ops.url("/console/ws"), headers={"Origin": console.origin})
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    queue_conversation(console.factory, "1", text="我家的地址是幸福路8号")
    await console.router.handle(message("我的电话是13905716666", chat="1"))
    await console.router.handle(message("你好", chat="2"))  # the bot answers
    desk = console.router.handoff
    assert desk is not None
    await desk.request("fake:2", reason="complaint", detail="投诉内容：抄表员态度差")
    frames = []
    while not any(f["type"] == "queue_changed" for f in frames):
        frames.append(await ws.receive_json(timeout=10))
    await ws.close()
    kinds = [f["type"] for f in frames]
    assert "message_in" not in kinds  # the customer's message is not an operator's business
    changed = next(f for f in frames if f["type"] == "handoff_changed")
    assert changed["state"] == "queued"
    assert "detail" not in changed
    words = " ".join(str(f) for f in frames)
    for private in ("投诉内容", "13905716666", "幸福路"):
        assert private not in words

    status, overview = await ops.json("GET", f"{API}/supervisor/overview")
    assert status == 200
    assert overview["queue_length"] == 2
    assert all("last_customer_text" not in e and "detail" not in e for e in overview["queue"])
    assert "幸福路" not in str(overview)
    assert "13905716666" not in str(overview)


# --- sessions stay alive only through people ---------------------------------------------


async def test_an_open_websocket_does_not_keep_an_idle_session_alive(
    console: Console, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_ws, "SESSION_CHECK_SECONDS", 0.05)
    checks: list[datetime] = []
    real_lookup = console_sessions.lookup

    def counted(*args: Any, **kwargs: Any) -> Any:
        checks.append(kwargs["now"])
        return real_lookup(*args, **kwargs)

    monkeypatch.setattr(console_sessions, "lookup", counted)
    agent = await console.browser("agent1")
    ws = await agent.http.ws_connect(agent.url("/console/ws"), headers={"Origin": console.origin})
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    idle = clock.state.idle

    clock.offset = idle * 2 / 3  # nobody touched the console for 20 minutes
    seen = len(checks)
    await eventually(lambda: len(checks) >= seen + 2)  # the socket checked its session
    clock.offset = idle * 4 / 3  # and for 40: the session is over, the socket with it
    frame = await ws.receive(timeout=10)
    assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == console_ws.SESSION_ENDED
    assert (await agent.get(f"{API}/me")).status == 401


async def test_background_requests_do_not_extend_the_session(
    console: Console, clock: ShiftedClock
) -> None:
    background = {"X-Console-Background": "1"}
    idle = clock.state.idle
    unattended, working = await console.browser("agent1"), await console.browser("agent1")
    clock.offset = idle * 2 / 3
    assert (await unattended.get(f"{API}/me", headers=background)).status == 200
    assert (await working.get(f"{API}/me")).status == 200  # a person did something
    clock.offset = idle * 4 / 3
    assert (await unattended.get(f"{API}/me", headers=background)).status == 401
    assert (await working.get(f"{API}/me", headers=background)).status == 200

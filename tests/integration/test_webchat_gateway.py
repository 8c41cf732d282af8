"""The web chat inside the real gateway (`create_app`): the real router and transcript on a real
database (SQLite and PostgreSQL) and the fake Rasa: what a browser's websocket sees."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from tests.fakes.gateway import settings_for
from tests.fakes.rasa import FakeRasa

Client = TestClient[web.Request, web.Application]
Socket = aiohttp.ClientWebSocketResponse


@pytest.fixture
async def client(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> AsyncIterator[Client]:
    app = create_app(settings_for(rasa, db_url))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def connect(client: Client, session: str) -> tuple[Socket, list[dict[str, Any]]]:
    origin = str(client.make_url("/")).rstrip("/")
    ws = await client.ws_connect("/ws", headers={"Origin": origin})
    await ws.send_json({"type": "hello", "session": session, "language": "zh"})
    history = await receive(ws)
    assert history["type"] == "history"
    return ws, history["messages"]


async def receive(ws: Socket, wait: float = 10) -> dict[str, Any]:
    frame = await ws.receive(timeout=wait)
    assert frame.type == aiohttp.WSMsgType.TEXT, frame
    event = json.loads(frame.data)
    assert isinstance(event, dict)
    return event


async def until(ws: Socket, kind: str) -> list[dict[str, Any]]:
    events = [await receive(ws)]
    while events[-1]["type"] != kind:
        events.append(await receive(ws))
    return events


async def test_page_is_served_by_the_gateway(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert "供电所在线客服" in await response.text()
    assert "Content-Security-Policy" in response.headers


async def test_conversation_history_and_dedup(client: Client, rasa: FakeRasa) -> None:
    session, message_id = str(uuid.uuid4()), str(uuid.uuid4())
    ws, history = await connect(client, session)
    assert history == []
    await ws.send_json({"type": "message", "text": "我家停电了", "id": message_id})
    events = await until(ws, "reply")
    assert {"type": "ack", "id": message_id} in events
    assert events[-1]["text"]
    reply = events[-1]["text"]
    await ws.close()

    again, history = await connect(client, session)
    assert [(m["direction"], m["text"]) for m in history] == [("in", "我家停电了"), ("out", reply)]
    assert all(m["at"] for m in history)
    await again.send_json({"type": "message", "text": "我家停电了", "id": message_id})
    ack = (await until(again, "ack"))[-1]
    assert ack == {"type": "ack", "id": message_id, "duplicate": True}
    assert rasa.texts().count("我家停电了") == 1
    await again.close()


async def test_rasa_outage_answers_busy_then_the_real_reply_arrives(
    client: Client, rasa: FakeRasa
) -> None:
    ws, _ = await connect(client, str(uuid.uuid4()))
    await rasa.down()
    message_id = str(uuid.uuid4())
    await ws.send_json({"type": "message", "text": "还没来电", "id": message_id})
    events = await until(ws, "reply")
    assert {"type": "ack", "id": message_id, "degraded": True} in events
    assert "系统繁忙" in events[-1]["text"]
    await rasa.up()
    later = await receive(ws, wait=20)  # the router's retry, pushed through the channel
    assert later["type"] == "reply"
    assert "系统繁忙" not in later["text"]
    await ws.close()

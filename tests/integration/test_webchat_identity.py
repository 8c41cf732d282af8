"""The web chat's history after identity verification: whoever holds the chat's id later reads
no account data. The fake Rasa plays the action server's part in the database (a verification
recorded, the customer's answers and the turn that showed a bill noted by message key), as the
real actions do (tests/integration/test_actions_identity.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from store.config import load_settings
from store.db import unit_of_work
from store.models import VerifiedConversation
from store.services import identity
from tests.fakes.gateway import settings_for
from tests.fakes.rasa import FakeRasa, fake_rasa_server

Client = TestClient[web.Request, web.Application]
BILL = "户号 33******01 的本月电费 88.00 元，户名 张**"
HIDDEN = "此条回复含账户信息"


class Actions:
    """What the action server does in the database for these texts."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def __call__(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        key = str(metadata["gateway_message_id"])
        now = datetime.now(UTC)
        with unit_of_work(self.factory) as session:
            if text.startswith("3301"):
                identity.note_answer(session, sender_id=sender, message_key=key, now=now)
                row = identity.record(
                    session,
                    load_settings(),
                    sender_id=sender,
                    account_no="3301000001",
                    client_address=metadata.get("client_address"),
                    rasa_session="",
                    now=now,
                )
                identity.note_use(session, row, message_key=key, now=now)
                return [{"recipient_id": sender, "text": "身份验证成功，户名：张**。"}]
            row = identity.active(session, sender_id=sender, rasa_session="", now=now)
            if row is None:
                return [{"recipient_id": sender, "text": "请先验证身份。"}]
            identity.note_use(session, row, message_key=key, now=now)
        return [
            {"recipient_id": sender, "text": BILL},
            {"recipient_id": sender, "text": "需要核查吗？", "buttons": [
                {"title": "申请核查", "payload": "/request_bill_check"}]},
        ]  # fmt: skip


@pytest.fixture
async def rasa(session_factory: sessionmaker[Session]) -> AsyncIterator[FakeRasa]:
    async with fake_rasa_server(responder=Actions(session_factory)) as fake:
        yield fake


@pytest.fixture
async def client(rasa: FakeRasa, db_url: str) -> AsyncIterator[Client]:
    # what these tests count is what the history shows, not Rasa timing out: on a machine busy
    # with other tests the default 1 s ran out and the kept message's retry took the turn
    app = create_app(settings_for(rasa, db_url, rasa_timeout=10.0))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    frame = await ws.receive(timeout=10)
    assert frame.type == aiohttp.WSMsgType.TEXT, frame
    event = json.loads(frame.data)
    assert isinstance(event, dict)
    return event


async def history(client: Client, session: str) -> list[tuple[str, str]]:
    origin = str(client.make_url("/")).rstrip("/")
    async with client.ws_connect("/ws", headers={"Origin": origin}) as ws:
        await ws.send_json({"type": "hello", "session": session, "language": "zh"})
        event = await receive(ws)
        assert event["type"] == "history"
        return [(m["direction"], m["text"]) for m in event["messages"]]


async def say(client: Client, session: str, text: str) -> None:
    origin = str(client.make_url("/")).rstrip("/")
    async with client.ws_connect("/ws", headers={"Origin": origin}) as ws:
        await ws.send_json({"type": "hello", "session": session, "language": "zh"})
        await receive(ws)
        await ws.send_json({"type": "message", "id": str(uuid.uuid4()), "text": text})
        while (await receive(ws))["type"] != "ack":
            pass


async def test_history_hides_account_data_once_the_verification_is_over(
    client: Client, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    session = str(uuid.uuid4())
    await say(client, session, "3301000001 0001")
    await say(client, session, "查电费")
    assert rasa.turns[0].metadata["client_address"] == "127.0.0.1"  # counted per address
    # while verified: the bill is there, the customer's own answers are masked
    shown = await history(client, session)
    assert ("in", "********** ****") in shown
    assert ("out", BILL) in shown
    assert "3301000001" not in json.dumps(shown, ensure_ascii=False)
    # the customer went idle: the verification is over
    with unit_of_work(session_factory) as db:
        db.execute(
            update(VerifiedConversation).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    later = await history(client, session)
    texts = json.dumps(later, ensure_ascii=False)
    for secret in ("88.00", "张", "核查"):  # the bill, the holder, the bill's button
        assert secret not in texts
    assert len([text for _, text in later if HIDDEN in text]) == 3
    assert ("in", "查电费") in later  # the customer's question itself is no secret
    assert ("in", "********** ****") in later

"""The JSON API and /health over real HTTP, against the fake Rasa (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.timing import parse_server_timing
from store.db import unit_of_work
from store.models import Message
from tests.fakes.gateway import OPERATOR, Harness, eventually, running_gateway, settings_for
from tests.fakes.rasa import FakeRasa

TOKEN = "api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def gw(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> AsyncIterator[Harness]:
    settings = settings_for(rasa, db_url, max_text_chars=100, max_body_bytes=4096)
    async with running_gateway(settings, rasa) as harness:
        yield harness


@pytest.fixture
async def secured(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> AsyncIterator[Harness]:
    async with running_gateway(settings_for(rasa, db_url, api_token=TOKEN), rasa) as harness:
        yield harness


def _count(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


async def test_server_timing_says_how_long_rasa_took(gw: Harness, rasa: FakeRasa) -> None:
    """The answer's Server-Timing header splits the request's time into Rasa's and the
    gateway's own (make bench reads it)."""
    rasa.delay = 0.3
    response = await gw.client.post("/api/v1/messages", json={"sender": "t", "text": "停电了"})
    assert response.status == 200
    figures = parse_server_timing(response.headers["Server-Timing"])
    assert 300 <= figures["rasa"] < 2000
    assert 0 < figures["gateway"] < 2000
    assert (await response.json())["replies"]


async def test_happy_path(gw: Harness, rasa: FakeRasa) -> None:
    status, body = await gw.post({"sender": "alice", "text": "这个月电费多少"})
    assert status == 200
    assert body == {
        "conversation_id": "api:alice",
        "replies": [
            {"text": "收到：这个月电费多少"},
            {
                "text": "请选择",
                "buttons": [
                    {"title": "查本月", "payload": "/query_bill"},
                    {"title": "转人工", "payload": "/request_human"},
                ],
            },
        ],
        "degraded": False,
        "duplicate": False,
    }
    assert rasa.turns[0].sender == "api:alice"
    assert rasa.turns[0].input_channel == "api"
    status, body = await gw.post({"sender": "bob@x.org", "text": "hello", "language": "en"})
    assert status == 200
    assert body["conversation_id"] == "api:bob@x.org"
    assert rasa.turns[1].metadata["language"] == "en"

    response = await gw.client.get("/api/v1/conversations/api:alice/messages")
    assert response.status == 200
    transcript = await response.json()
    assert transcript["conversation_id"] == "api:alice"
    assert [(m["direction"], m["sender"], m["text"]) for m in transcript["messages"]] == [
        ("in", "customer", "这个月电费多少"),
        ("out", "bot", "收到：这个月电费多少"),
        ("out", "bot", "请选择"),
    ]
    assert transcript["messages"][2]["buttons"][1]["payload"] == "/request_human"
    limited = await gw.client.get("/api/v1/conversations/api:alice/messages?limit=1")
    assert [m["text"] for m in (await limited.json())["messages"]] == ["请选择"]


async def test_duplicate_message_id_is_handled_once(
    gw: Harness, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    request = {"sender": "alice", "text": "停电了", "message_id": "m-1"}
    status, first = await gw.post(request)
    assert status == 200
    status, second = await gw.post(request)
    assert status == 200
    assert second["duplicate"] is True
    assert second["replies"] == first["replies"]
    assert rasa.texts() == ["停电了"]
    assert _count(session_factory) == 2
    status, numeric = await gw.post({"sender": "alice", "text": "停电了", "message_id": 17})
    assert (status, numeric["duplicate"]) == (200, False)


async def test_degraded_reply_then_the_answer_in_the_transcript(
    gw: Harness, rasa: FakeRasa
) -> None:
    await rasa.down()
    status, body = await gw.post({"sender": "carol", "text": "东山村停电了", "message_id": "x"})
    assert status == 200
    assert body["degraded"] is True
    assert "系统繁忙，您的消息已记录，稍后会自动回复您" in body["replies"][0]["text"]
    health = await gw.client.get("/health", headers=OPERATOR)
    assert health.status == 503
    assert (await health.json())["pending"] == 1
    await rasa.up()

    async def answered() -> bool:
        response = await gw.client.get("/api/v1/conversations/api:carol/messages")
        texts = [m["text"] for m in (await response.json())["messages"]]
        return "收到：东山村停电了" in texts

    await eventually(answered)
    assert rasa.texts() == ["东山村停电了"]
    assert (await gw.client.get("/health")).status == 200


async def test_health_ok(gw: Harness) -> None:
    response = await gw.client.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": "hi"}, 422, "invalid_sender"),
        ({"sender": "", "text": "hi"}, 422, "invalid_sender"),
        ({"sender": "a" * 65, "text": "hi"}, 422, "invalid_sender"),
        ({"sender": "张三", "text": "hi"}, 422, "invalid_sender"),
        ({"sender": "a b", "text": "hi"}, 422, "invalid_sender"),
        ({"sender": "a/../b", "text": "hi"}, 422, "invalid_sender"),
        ({"sender": 42, "text": "hi"}, 422, "invalid_sender"),
        ({"sender": "alice"}, 422, "invalid_text"),
        ({"sender": "alice", "text": None}, 422, "invalid_text"),
        ({"sender": "alice", "text": ["停电"]}, 422, "invalid_text"),
        ({"sender": "alice", "text": 12}, 422, "invalid_text"),
        ({"sender": "alice", "text": "停" * 101}, 422, "text_too_long"),
        ({"sender": "alice", "text": "hi", "message_id": ""}, 422, "invalid_message_id"),
        ({"sender": "alice", "text": "hi", "message_id": "x" * 129}, 422, "invalid_message_id"),
        ({"sender": "alice", "text": "hi", "message_id": {"a": 1}}, 422, "invalid_message_id"),
        ({"sender": "alice", "text": "hi", "message_id": True}, 422, "invalid_message_id"),
        ({"sender": "alice", "text": "hi", "language": "fr"}, 422, "invalid_language"),
        (["sender", "text"], 400, "malformed_json"),
        ("just a string", 400, "malformed_json"),
    ],
)
async def test_invalid_bodies(
    gw: Harness,
    rasa: FakeRasa,
    session_factory: sessionmaker[Session],
    body: Any,
    status: int,
    code: str,
) -> None:
    got, answer = await gw.post(body)
    assert got == status
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]
    assert rasa.turns == []
    assert _count(session_factory) == 0


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b'{"sender": "alice", "text": ', "application/json", 400, "malformed_json"),
        (b"\xff\xfe not utf-8", "application/json", 400, "malformed_json"),
        (b"", "application/json", 400, "malformed_json"),
        (b"sender=alice&text=hi", "application/x-www-form-urlencoded", 415, None),
        (b'{"sender": "alice", "text": "hi"}', "text/plain", 415, None),
        (b'{"sender": "alice", "text": "' + b"a" * 5000 + b'"}', "application/json", 413, None),
    ],
)
async def test_raw_bodies(
    gw: Harness, rasa: FakeRasa, data: bytes, content_type: str, status: int, code: str | None
) -> None:
    response = await gw.client.post(
        "/api/v1/messages", data=data, headers={"Content-Type": content_type}
    )
    assert response.status == status
    answer = await response.json()
    assert answer["error"]["code"] == (
        code or {413: "body_too_large", 415: "unsupported_media_type"}[status]
    )
    assert rasa.turns == []


async def test_oversized_body_without_content_length(gw: Harness) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"sender": "alice", "text": "'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"}'

    response = await gw.client.post(
        "/api/v1/messages", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "body_too_large"


async def test_routing_errors_are_json(gw: Harness) -> None:
    missing = await gw.client.get("/api/v1/nothing")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    wrong = await gw.client.get("/api/v1/messages")
    assert wrong.status == 405
    assert (await wrong.json())["error"]["code"] == "method_not_allowed"
    other = await gw.client.get("/api/v1/conversations/telegram:42/messages")
    assert other.status == 404
    bad_limit = await gw.client.get("/api/v1/conversations/api:alice/messages?limit=0")
    assert bad_limit.status == 422
    assert (await bad_limit.json())["error"]["code"] == "invalid_limit"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
async def test_token_required_when_configured(
    secured: Harness, rasa: FakeRasa, headers: dict[str, str]
) -> None:
    status, body = await secured.post({"sender": "alice", "text": "hi"}, headers=headers)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
    response = await secured.client.get("/api/v1/conversations/api:alice/messages", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert rasa.turns == []


async def test_token_accepted(secured: Harness) -> None:
    status, body = await secured.post({"sender": "alice", "text": "hi"}, headers=AUTH)
    assert status == 200
    assert body["replies"] == [{"text": "收到：hi"}]
    lower = {"Authorization": f"bearer {TOKEN}"}
    response = await secured.client.get("/api/v1/conversations/api:alice/messages", headers=lower)
    assert response.status == 200
    assert (await secured.client.get("/health")).status == 200  # health needs no token


async def test_unexpected_failures_are_json(gw: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any) -> None:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(gw.router, "handle", broken)
    status, body = await gw.post({"sender": "alice", "text": "hi"})
    assert status == 503
    assert body["error"]["code"] == "unavailable"
    assert "database" not in body["error"]["message"]  # details stay in the log

"""Capturing customer messages into the NLU inbox inside the real gateway (fake Rasa, real
database, SQLite and PostgreSQL): low confidence and fallbacks from the router's background
intent read, the messages before a handoff, and agents flagging a bot reply in the console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import bot.handoff.escalation as desk_module
from bot.app import create_app
from nlu.settings import ConfigError, NluSettings
from store.config import default_conf_dir
from store.db import unit_of_work
from store.models import Handoff, Message, NluInboxHit, NluInboxItem
from tests.fakes import rasa as fake_rasa_module
from tests.fakes.console import cheap_password_hashing, running_console
from tests.fakes.gateway import Harness, eventually, message, running_gateway, settings_for
from tests.fakes.rasa import FakeRasa, fake_rasa_server

NLU = NluSettings.load()


@pytest.fixture
async def rasa(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeRasa]:
    """The fake Rasa, which also understands a meter problem (unsure: below conf/nlu.yml's
    0.6) and a complaint."""
    phrases = [("电表", "report_meter_issue", 0.45), ("投诉", "file_complaint", 0.93)]
    monkeypatch.setattr(fake_rasa_module, "INTENTS", [*phrases, *fake_rasa_module.INTENTS])
    async with fake_rasa_server() as fake:
        yield fake


def items(factory: sessionmaker[Session]) -> list[NluInboxItem]:
    with unit_of_work(factory) as session:
        return list(session.scalars(select(NluInboxItem).order_by(NluInboxItem.id)))


def hits(factory: sessionmaker[Session]) -> list[NluInboxHit]:
    with unit_of_work(factory) as session:
        return list(session.scalars(select(NluInboxHit).order_by(NluInboxHit.id)))


def inbound(factory: sessionmaker[Session]) -> list[Message]:
    with unit_of_work(factory) as session:
        return list(
            session.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))
        )


async def intents_recorded(factory: sessionmaker[Session], count: int) -> None:
    await eventually(lambda: sum(1 for m in inbound(factory) if m.intent) >= count)


async def test_unsure_and_fallback_messages_land_in_the_inbox(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    async with running_gateway(settings_for(rasa, db_url), rasa, nlu_settings=NLU) as gw:
        await _unsure_and_fallback(gw, session_factory)


async def _unsure_and_fallback(gw: Harness, session_factory: sessionmaker[Session]) -> None:
    await gw.router.handle(message("查下电费"))  # query_bill 0.91: understood
    await gw.router.handle(message("我家电表跑得好快"))  # report_meter_issue 0.45
    await gw.router.handle(message("嗯嗯嗯"))  # nlu_fallback
    await gw.router.handle(message("嗯嗯嗯嗯"))  # a near-duplicate of it
    await gw.router.handle(message("户号3301000001", chat="43"))  # fallback, other customer
    await gw.router.handle(message("户号3301000005", chat="44"))  # the same, once normalised
    await eventually(lambda: sum(i.count for i in items(session_factory)) == 5)
    await gw.router.close(5)
    # items are created in the order the background tasks finish: found by their texts
    by_key = {i.group_key[:3]: i for i in items(session_factory)}
    assert len(by_key) == 3
    meter, hmm, account = by_key["我家电"], by_key["嗯嗯嗯"], by_key["户号#"]
    assert (meter.text, meter.reasons, meter.count) == ("我家电表跑得好快", ("low_confidence",), 1)
    assert (meter.predicted_intent, meter.confidence) == ("report_meter_issue", 0.45)
    # a fallback records what NLU ranked best behind nlu_fallback (tests/fakes/rasa.py)
    assert (hmm.reasons, hmm.count) == (("fallback",), 2)
    assert hmm.text in ("嗯嗯嗯", "嗯嗯嗯嗯")  # the first one captured
    assert (hmm.predicted_intent, hmm.confidence) == ("query_outage", 0.28)
    assert account.count == 2
    assert account.text in ("户号3301000001", "户号3301000005")
    rows = inbound(session_factory)
    assert sorted(h.message_id or 0 for h in hits(session_factory)) == [r.id for r in rows[1:]]
    assert {h.conversation_id for h in hits(session_factory)} == {"fake:42", "fake:43", "fake:44"}
    # the inbox needs no tracker read: Rasa's answer (the gateway channel) said the intents
    assert gw.rasa.tracker_requests == []


async def test_the_threshold_comes_from_the_settings(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    strict = replace(NLU, inbox=replace(NLU.inbox, confidence_below=0.95))
    async with running_gateway(settings_for(rasa, db_url), rasa, nlu_settings=strict) as gw:
        await gw.router.handle(message("查下电费"))  # 0.91 < 0.95
        await gw.router.handle(message("你好"))  # 0.99
        await intents_recorded(session_factory, 2)
        await eventually(lambda: len(items(session_factory)) == 1)
        await gw.router.close(5)
    (item,) = items(session_factory)
    assert (item.text, item.reasons) == ("查下电费", ("low_confidence",))


async def test_messages_before_a_handoff_land_in_the_inbox(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    settings = settings_for(rasa, db_url, handoff_triggers=True)
    async with running_gateway(settings, rasa, nlu_settings=NLU) as gw:
        await gw.router.handle(message("你好"))
        await gw.router.handle(message("查下电费"))
        await intents_recorded(session_factory, 2)
        result = await gw.router.handle(message("我要投诉你们"))  # complaint: a person takes it
        assert any("人工" in r.text for r in result.replies)
        await eventually(lambda: len(items(session_factory)) == 2)
        await gw.router.close(5)
    bill, complaint = items(session_factory)
    # conf/nlu.yml before_handoff: 2, the bot-answered messages up to the handoff
    assert (bill.text, bill.reasons, bill.count) == ("查下电费", ("handoff",), 1)
    assert (bill.predicted_intent, bill.confidence) == ("query_bill", 0.91)
    assert (complaint.text, complaint.reasons) == ("我要投诉你们", ("handoff",))


async def test_agents_flag_a_wrong_bot_reply(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cheap_password_hashing(monkeypatch)
    async with running_console(rasa, db_url, session_factory) as console:
        await console.router.handle(message("查下电费"))
        await intents_recorded(session_factory, 1)
        with unit_of_work(session_factory) as session:
            customer, bot_reply, *_ = session.scalars(select(Message).order_by(Message.id))
        anonymous = await console.browser()
        response = await anonymous.post("/api/v1/agent/flag", {"message_id": bot_reply.id})
        assert response.status == 401
        agent = await console.browser("agent1")
        response = await agent.post(
            "/api/v1/agent/flag", {"message_id": bot_reply.id}, csrf="wrong"
        )
        assert (response.status, (await response.json())["error"]["code"]) == (403, "csrf")
        assert items(session_factory) == []
        status, body = await agent.json("POST", "/api/v1/agent/flag", {"message_id": 999999})
        assert (status, body["error"]["code"]) == (404, "not_found")
        status, body = await agent.json("POST", "/api/v1/agent/flag", {"message_id": customer.id})
        assert (status, body["error"]["code"]) == (400, "not_a_bot_reply")
        status, body = await agent.json("POST", "/api/v1/agent/flag", {"message_id": "x"})
        assert (status, body["error"]["code"]) == (422, "invalid")
        status, body = await agent.json(
            "POST", "/api/v1/agent/flag", {"message_id": bot_reply.id, "note": "x" * 501}
        )
        assert (status, body["error"]["code"]) == (422, "too_long")
        status, body = await agent.json(
            "POST", "/api/v1/agent/flag", {"message_id": bot_reply.id, "note": " 客户想交电费 "}
        )
        assert status == 200, body
        assert body["ok"] is True
        assert body["item"]["count"] == 1
        # operators may flag too; the same message is not counted twice
        ops = await console.browser("ops")
        status, body = await ops.json("POST", "/api/v1/agent/flag", {"message_id": bot_reply.id})
        assert (status, body["item"]["count"]) == (200, 1)
        await console.router.close(5)
    (item,) = items(session_factory)
    assert (item.text, item.reasons, item.note) == ("查下电费", ("flagged",), "客户想交电费")
    assert (item.predicted_intent, item.confidence) == ("query_bill", 0.91)
    (hit,) = hits(session_factory)
    assert (hit.message_id, hit.flagged_by) == (customer.id, console.staff_ids["agent1"])


async def test_a_broken_nlu_yml_stops_the_gateway(
    rasa: FakeRasa, db_url: str, tmp_path: Path
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    for source in default_conf_dir().glob("*.yml"):
        if source.name != "nlu.yml":
            (conf / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    app = create_app(replace(settings_for(rasa, db_url), conf_dir=conf), channels=False)
    with pytest.raises(ConfigError, match=r"nlu\.yml: file is missing"):
        async with _started(app):
            pass
    text = (default_conf_dir() / "nlu.yml").read_text(encoding="utf-8")
    (conf / "nlu.yml").write_text(text.replace("confidence_below: 0.6", "confidence_below: 7"))
    app = create_app(replace(settings_for(rasa, db_url), conf_dir=conf), channels=False)
    with pytest.raises(ConfigError, match=r"nlu\.yml: inbox\.confidence_below"):
        async with _started(app):
            pass


@asynccontextmanager
async def _started(app: web.Application) -> AsyncIterator[None]:
    client = TestClient(TestServer(app, host="127.0.0.1"))
    try:
        await client.start_server()  # runs the core's start-up, where the conf is read
        yield
    finally:
        await client.close()


async def test_the_inbox_never_stops_a_handoff(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(session: Session, **kw: object) -> list[NluInboxItem]:
        session.execute(select(NluInboxItem.id))
        raise RuntimeError("inbox down")

    monkeypatch.setattr(desk_module.nlu_inbox, "add_handoff_hits", broken)
    settings = settings_for(rasa, db_url, handoff_triggers=True)
    async with running_gateway(settings, rasa, nlu_settings=NLU) as gw:
        result = await gw.router.handle(message("我要投诉你们"))
        assert any("人工" in r.text for r in result.replies)
        await gw.router.close(5)
    with unit_of_work(session_factory) as session:
        (handoff,) = session.scalars(select(Handoff))
        assert (handoff.state, handoff.reason) == ("queued", "complaint")
    assert items(session_factory) == []
    assert "did not reach the NLU inbox" in caplog.text

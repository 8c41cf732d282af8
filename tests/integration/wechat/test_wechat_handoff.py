"""Human handoff on WeChat: the agent's reply in the console reaches the follower as a
customer-service message, the customer's messages wait for the agent (no bot answer), and the
survey after the chat is numbered and answered with a digit; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.models import Rating
from tests.fakes.console import Console, cheap_password_hashing, queue_conversation, running_console
from tests.fakes.gateway import eventually
from tests.fakes.rasa import FakeRasa
from tests.fakes.wechat_api import FakeWeChat
from tests.fakes.wechat_gateway import prepare, transcript, wechat_config, wechat_overrides
from tests.fakes.wechat_server import WeChatPush
from tests.integration.wechat.conftest import OPENID

API = "/api/v1/agent"


@pytest.fixture
async def console(
    rasa: FakeRasa,
    db_url: str,
    session_factory: sessionmaker[Session],
    fake_wechat: FakeWeChat,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Console]:
    cheap_password_hashing(monkeypatch)
    setup = prepare(wechat_config())
    overrides = wechat_overrides(fake_wechat)
    async with running_console(rasa, db_url, session_factory, prepare=setup, **overrides) as c:
        yield c


async def test_an_agent_answers_a_wechat_customer_through_the_customer_service_api(
    console: Console, rasa: FakeRasa, fake_wechat: FakeWeChat
) -> None:
    push = WeChatPush(console.base + "/wechat", fake_wechat, app_id=fake_wechat.app_id)
    assert (await push.post(push.text(OPENID, "你好"))).text == "收到：你好"
    _, handoff_id = queue_conversation(console.factory, OPENID, channel="wechat")
    agent = await console.browser("agent1")
    status, _ = await agent.json("POST", f"{API}/claim/{handoff_id}")
    assert status == 200
    status, body = await agent.json(
        "POST", f"{API}/reply", {"handoff_id": handoff_id, "text": "您好，我是客服小王，请讲"}
    )
    assert status == 200, body
    assert fake_wechat.texts_to(OPENID)[-1] == "您好，我是客服小王，请讲"

    waiting = await push.post(push.text(OPENID, "我家电表走得飞快"))
    assert waiting.body == "success"  # the agent answers, not the bot
    assert rasa.texts() == ["你好"]
    rows = transcript(console.factory, OPENID)
    assert ("in", "customer", "processed", "我家电表走得飞快") in rows

    status, _ = await agent.json("POST", f"{API}/close", {"handoff_id": handoff_id})
    assert status == 200
    survey = fake_wechat.texts_to(OPENID)[-1]
    assert survey.endswith("1 / 2 / 3 / 4 / 5")
    await push.post(push.text(OPENID, "5"))

    def rated() -> list[tuple[int, int | None]]:
        with unit_of_work(console.factory) as session:
            rows = session.execute(select(Rating.rating, Rating.handoff_id))
            return [(int(r), h) for r, h in rows]

    await eventually(lambda: rated() == [(5, handoff_id)])

"""Human handoff through the whole stack: the trained model recognises "转人工" on Telegram, the
gateway queues the chat, an agent (agent API, same routes as the console) claims it and replies;
while the agent owns the chat Rasa hears nothing; the agent hands back, the survey arrives and
the rating is stored with the agent; then the bot answers again.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from store.db import make_engine, make_session_factory
from store.models import Rating
from tests.e2e.conftest import ROOT, Gateway, Stack, _env, say
from tests.fakes.telegram_api import FakeTelegram

PASSWORD = "e2e-agent-password-1"


@pytest.fixture
def gateway_env(tmp_path: Path, e2e_stack: Stack) -> dict[str, str]:
    """Agents answer around the clock (CI runs at any hour) and claim chats themselves."""
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    handoff = yaml.safe_load((conf / "handoff.yml").read_text(encoding="utf-8"))
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    handoff.update(
        hours=[{"days": days, "open": "00:00", "close": "23:59"}],
        auto_assign=False,
        watch_interval_seconds=1,
    )
    (conf / "handoff.yml").write_text(yaml.safe_dump(handoff, allow_unicode=True), "utf-8")
    return {"CONF_DIR": str(conf), "DEMO_AGENT_PASSWORD": PASSWORD}


def user_turns(stack: Stack, sender: str) -> int:
    """How many customer messages Rasa has seen in this conversation."""
    return sum(1 for e in stack.tracker(sender)["events"] if e["event"] == "user")


async def test_agent_takes_over_and_hands_back(
    e2e_stack: Stack, gateway: Gateway, telegram: FakeTelegram, gateway_env: dict[str, str]
) -> None:
    created = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "store", "--url", e2e_stack.database_url, "demo-users",
        cwd=ROOT, env=_env(**gateway_env),
    )  # fmt: skip
    assert await created.wait() == 0

    user = telegram.user(7_200_002)
    conversation = f"telegram:{user['id']}"
    queued = await say(telegram, user, "我要转人工")
    assert "人工" in queued

    api = f"{gateway.url}/api/v1/agent"
    # unsafe: keep cookies of an IP-address host (127.0.0.1), as a browser does
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent:
        async with agent.post(
            f"{api}/login", json={"username": "agent1", "password": PASSWORD}
        ) as response:
            assert response.status == 200
            csrf = (await response.json())["csrf_token"]
        headers = {"X-CSRF-Token": csrf}
        async with agent.post(
            f"{api}/availability", json={"availability": "available"}, headers=headers
        ) as response:
            assert response.status == 200

        async with agent.get(f"{api}/queue") as response:
            assert response.status == 200
            queue = (await response.json())["queue"]
        mine = [h for h in queue if h["conversation_id"] == conversation]
        assert len(mine) == 1, queue
        handoff_id = mine[0]["id"]
        assert mine[0]["reason"] == "request_human"

        before = len(telegram.sent)
        async with agent.post(f"{api}/claim/{handoff_id}", headers=headers) as response:
            assert response.status == 200
        reply = {"handoff_id": handoff_id, "text": "您好，我是值班客服小李，请问有什么可以帮您？"}
        async with agent.post(f"{api}/reply", json=reply, headers=headers) as response:
            assert response.status == 200
        await telegram.wait_for(
            lambda: any("值班客服小李" in str(m.get("text")) for m in telegram.sent[before:]),
            within=15,
        )

        # the customer writes while the agent owns the chat: the agent sees it, the bot is silent
        heard = user_turns(e2e_stack, conversation)
        sent_before = len(telegram.sent)
        await telegram.queue_update(telegram.text_update("电表好像走得特别快", user=user))
        transcript: dict[str, Any] = {}
        for _ in range(40):
            async with agent.get(f"{api}/transcript/{conversation}") as response:
                transcript = await response.json()
            if any(m["text"] == "电表好像走得特别快" for m in transcript["messages"]):
                break
            await asyncio.sleep(0.25)
        else:
            pytest.fail(f"the agent never saw the customer's message: {transcript}")
        await telegram.settle(2)
        assert len(telegram.sent) == sent_before, telegram.sent[sent_before:]
        assert user_turns(e2e_stack, conversation) == heard

        # hand back: the survey arrives with 1-5 buttons; a 5 is stored for this agent
        async with agent.post(
            f"{api}/handback", json={"handoff_id": handoff_id}, headers=headers
        ) as response:
            assert response.status == 200

    def survey() -> list[dict[str, Any]]:
        return [m for m in telegram.sent[sent_before:] if telegram.buttons_of(m)]

    await telegram.wait_for(lambda: bool(survey()), within=15)
    buttons = telegram.buttons_of(survey()[-1])
    assert [b["text"] for b in buttons] == ["1", "2", "3", "4", "5"]
    await telegram.queue_update(telegram.callback_update(survey()[-1], buttons[4]["callback_data"]))
    await telegram.wait_for(
        lambda: any("评价（5分）" in str(m.get("text")) for m in telegram.sent[sent_before:]),
        within=15,
    )
    engine = make_engine(e2e_stack.database_url)
    try:
        with make_session_factory(engine)() as session:
            rating = session.scalars(select(Rating).where(Rating.sender_id == conversation)).one()
            assert (rating.rating, rating.handoff_id) == (5, handoff_id)
            assert rating.agent_id is not None
    finally:
        engine.dispose()

    # the survey's optional comment, kept with the rating
    assert "收到" in await say(telegram, user, "客服很耐心，谢谢")
    engine = make_engine(e2e_stack.database_url)
    try:
        with make_session_factory(engine)() as session:
            rating = session.scalars(select(Rating).where(Rating.sender_id == conversation)).one()
            assert rating.comment == "客服很耐心，谢谢"
    finally:
        engine.dispose()

    # the bot is back
    greeting = await say(telegram, user, "你好")
    assert "供电所" in greeting

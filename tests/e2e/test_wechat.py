"""The WeChat Official Account channel through the whole stack (issue 20): the trained model in
`rasa run`, the real action server and `python -m bot` with the WeChat channel (safe mode, AES),
WeChat's servers played by the fakes (tests/fakes/wechat_server.py posts signed, encrypted XML;
tests/fakes/wechat_api.py is the API the gateway calls).

- a fault reported by voice (WeChat's speech recognition, `Recognition`) gets a ticket of
  `wechat:<openid>`; dispatching it is told to the customer as a customer-service message;
- the menu's 人工客服 button queues the chat for a person; an agent claims it and replies in
  the console's API, and the reply reaches WeChat's customer-service message API; closing the
  chat sends the survey the same way.

Replies go into WeChat's passive reply when the turn is quick enough, else as customer-service
messages: the tests read both, as the customer would. One gateway (and one fake WeChat) for the
module, on the session's shared stack (tests/e2e/conftest.py): no training of its own.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from sqlalchemy import select

from store.conversation_refs import mask
from store.db import make_engine, make_session_factory
from store.models import Handoff, StaffUser, Ticket
from tests.e2e.conftest import Gateway, Stack, running_gateway
from tests.e2e.test_dispatch import PASSWORD, Staff
from tests.e2e.test_handoff import ALL_DAYS, set_agent_hours
from tests.fakes.gateway import eventually
from tests.fakes.loopback import running
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wechat_api import FakeWeChat
from tests.fakes.wechat_gateway import wechat_env
from tests.fakes.wechat_server import WeChatPush
from tests.processes import ROOT, server_env

pytestmark = pytest.mark.asyncio(loop_scope="module")

TICKET = re.compile(r"T\d{10}")
AGENT_API = "/api/v1/agent"
SURVEY_SCALE = "1 / 2 / 3 / 4 / 5"


@dataclass
class WeChat:
    """The module's gateway with WeChat's two sides: what it posts, what the gateway sent."""

    gateway: Gateway
    api: FakeWeChat
    push: WeChatPush

    async def say(self, fields: dict[str, Any]) -> str:
        """One message or event from a follower; everything the customer then reads (the
        passive reply and any customer-service messages that follow), joined."""
        openid = str(fields["FromUserName"])
        before = len(self.api.texts_to(openid))
        answer = await self.push.post(fields)
        assert answer.status == 200, answer.body
        if answer.text is None:  # too slow for the passive reply: the API brings it
            assert answer.body == "success"
            await eventually(lambda: len(self.api.texts_to(openid)) > before, within=60)
        await asyncio.sleep(1.5)  # a turn may send more than its passive reply holds
        later = self.api.texts_to(openid)[before:]
        return "\n".join([answer.text, *later] if answer.text else later)


def _conf(directory: Path) -> Path:
    """conf/ with agents on duty around the clock (CI runs at any hour) who pick chats
    themselves from the queue, and a quick watcher."""
    conf = directory / "conf"
    shutil.copytree(ROOT / "conf", conf)
    handoff = yaml.safe_load((conf / "handoff.yml").read_text(encoding="utf-8"))
    handoff.update(auto_assign=False, watch_interval_seconds=1)
    (conf / "handoff.yml").write_text(yaml.safe_dump(handoff, allow_unicode=True), "utf-8")
    set_agent_hours(conf, [{"days": ALL_DAYS, "open": "00:00", "close": "23:59"}])
    return conf


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def wechat(
    e2e_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[WeChat]:
    work = tmp_path_factory.mktemp("wechat-e2e")
    created = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "store", "--url", e2e_stack.database_url, "demo-users",
        cwd=ROOT, env=server_env(DEMO_AGENT_PASSWORD=PASSWORD),
    )  # fmt: skip
    assert await created.wait() == 0
    async with running(FakeWeChat()) as api, FakeTelegram() as telegram:
        env = {**wechat_env(api), "CONF_DIR": str(_conf(work)), "DEMO_AGENT_PASSWORD": PASSWORD}
        async with running_gateway(e2e_stack, telegram, env, work / "gateway.log") as gateway:
            push = WeChatPush(f"{gateway.url}/wechat", api, app_id=api.app_id)
            yield WeChat(gateway, api, push)


def _ticket(stack: Stack, number: str) -> tuple[str | None, str | None, str | None]:
    engine = make_engine(stack.database_url)
    try:
        with make_session_factory(engine)() as session:
            ticket = session.scalars(select(Ticket).where(Ticket.ticket_no == number)).one()
            return ticket.sender_id, ticket.channel, ticket.contact_phone
    finally:
        engine.dispose()


async def test_a_fault_reported_by_voice_gets_a_ticket_and_its_dispatch_is_told(
    e2e_stack: Stack, wechat: WeChat
) -> None:
    openid = "oE2eV01ce4Fau1tXq9R2sT7uW3yZ"
    push = wechat.push
    reply = await wechat.say(push.voice(openid, "东山村3组停电了"))
    answers = [
        ("哪个村", push.text(openid, "东山村3组")),
        ("情况", push.voice(openid, "只有我家没电")),
        ("电话", push.text(openid, "13905718866")),
    ]
    for _ in range(4):
        if TICKET.search(reply):
            break
        answer = next((a for question, a in answers if question in reply), None)
        assert answer is not None, f"unexpected question: {reply}"
        reply = await wechat.say(answer)
    found = TICKET.search(reply)
    assert found, reply
    number = found.group(0)
    assert "90分钟" in reply, reply  # the rural arrival commitment, said as "typically"
    assert _ticket(e2e_stack, number) == (f"wechat:{openid}", "wechat", "13905718866")

    # staff dispatch a crew: the customer is told as a customer-service message, once
    before = len(wechat.api.texts_to(openid))
    advance = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "store", "--url", e2e_stack.database_url,
        "advance-ticket", number, "dispatched", cwd=ROOT, env=server_env(),
    )  # fmt: skip
    assert await advance.wait() == 0

    def notices() -> list[str]:
        return [t for t in wechat.api.texts_to(openid)[before:] if number in t]

    await eventually(lambda: notices(), within=30)
    await asyncio.sleep(2.5)  # several notifier passes (NOTIFY_INTERVAL 0.5 s): nothing again
    [notice] = notices()
    assert "已派单" in notice, notice
    assert wechat.api.sent[-1]["touser"] == openid


async def _agent_call(agent: Staff, method: str, path: str, body: Any = None) -> Any:
    headers = {"X-CSRF-Token": agent.csrf}
    url = f"{agent.url}{AGENT_API}{path}"
    async with agent.http.request(method, url, json=body, headers=headers) as response:
        assert response.status == 200, f"{method} {path}: {await response.text()}"
        return await response.json()


def _handoff(stack: Stack, handoff_id: int) -> tuple[str, str | None, str | None]:
    engine = make_engine(stack.database_url)
    try:
        with make_session_factory(engine)() as session:
            handoff = session.get(Handoff, handoff_id)
            assert handoff is not None
            agent = session.get(StaffUser, handoff.agent_id) if handoff.agent_id else None
            return handoff.state, handoff.reason, agent.username if agent else None
    finally:
        engine.dispose()


def _user_turns(stack: Stack, conversation_id: str) -> int:
    return sum(1 for e in stack.tracker(conversation_id)["events"] if e["event"] == "user")


async def test_the_menus_person_button_is_answered_by_an_agent_in_the_console(
    e2e_stack: Stack, wechat: WeChat
) -> None:
    openid = "oE2eHum4nAg3ntK5m8N1pQ6rS0tU"
    conversation = f"wechat:{openid}"
    push = wechat.push
    assert "供电所" in await wechat.say(push.event(openid, "subscribe"))  # the greeting
    queued = await wechat.say(push.event(openid, "CLICK", "HUMAN"))  # 办业务 → 人工客服
    assert "人工" in queued, queued

    jar = aiohttp.CookieJar(unsafe=True)  # the gateway is on 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        agent = await Staff(http, wechat.gateway.url).login("agent1")

        async def waiting() -> list[dict[str, Any]]:
            queue = (await _agent_call(agent, "GET", "/queue"))["queue"]
            return [h for h in queue if h["conversation_label"] == mask(conversation)]

        await eventually(waiting, within=15)
        [item] = await waiting()
        assert item["channel"] == "wechat"
        handoff_id = int(item["id"])
        await _agent_call(agent, "POST", f"/claim/{handoff_id}")
        words = "您好，我是值班客服小李，请问有什么可以帮您？"
        body = {"handoff_id": handoff_id, "text": words}
        assert (await _agent_call(agent, "POST", "/reply", body))["status"] == "sent"
        assert wechat.api.sent[-1] == {
            "touser": openid,
            "msgtype": "text",
            "text": {"content": words},
        }  # a customer-service message, as WeChat's API takes it
        assert _handoff(e2e_stack, handoff_id) == ("assigned", "request_human", "agent1")

        # the customer writes while the agent owns the chat: no bot answer, Rasa hears nothing
        heard = _user_turns(e2e_stack, conversation)
        waiting_answer = await push.post(push.text(openid, "电表好像走得特别快"))
        assert waiting_answer.body == "success"
        assert _user_turns(e2e_stack, conversation) == heard

        # the agent closes the chat: the survey follows the same way (and agent1 is free
        # again for the other end-to-end tests on this database)
        await _agent_call(agent, "POST", "/close", {"handoff_id": handoff_id})
    await eventually(lambda: wechat.api.texts_to(openid)[-1].endswith(SURVEY_SCALE), within=15)

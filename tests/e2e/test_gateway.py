"""The gateway in front of the real stack: a trained model in `rasa run`, the action server and
`python -m bot` as a separate process, with python-telegram-bot polling a fake Bot API server.

An outage reported on Telegram gets a ticket number; when staff advance the ticket in the store,
the customer is told on Telegram, once. The JSON API answers from the same model.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from store.db import make_engine, make_session_factory
from store.models import Ticket
from tests.e2e.conftest import ROOT, Stack, _env, _free_port
from tests.fakes.telegram_api import FakeTelegram

TICKET = re.compile(r"T\d{10}")


class Gateway:
    def __init__(self, url: str, process: asyncio.subprocess.Process) -> None:
        self.url = url
        self.process = process


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def gateway(
    e2e_stack: Stack, telegram: FakeTelegram, tmp_path: Any
) -> AsyncIterator[Gateway]:
    port = _free_port()
    env = _env(
        DATABASE_URL=e2e_stack.database_url,
        GATEWAY_PORT=str(port),
        RASA_URL=e2e_stack.api_url,
        RASA_TOKEN=e2e_stack.token,
        ACTION_SERVER_URL=e2e_stack.actions_url,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        NOTIFY_INTERVAL="0.5",
    )
    log = (tmp_path / "gateway.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(120):
                if process.returncode is not None:
                    break
                try:
                    async with http.get(f"{url}/health") as response:
                        if response.status in (200, 503):
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
        if process.returncode is not None:
            pytest.fail(f"the gateway exited:\n{(tmp_path / 'gateway.log').read_text()[-3000:]}")
        # python-telegram-bot is polling once it has asked for updates
        await telegram.wait_for_calls("getUpdates", within=30)
        yield Gateway(url, process)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def say(fake: FakeTelegram, user: dict[str, Any], text: str) -> str:
    """Send a customer message over Telegram; the texts the bot sent back (joined)."""
    chat_id = int(user["id"])
    before = len([m for m in fake.sent if m["chat"]["id"] == chat_id])
    await fake.queue_update(fake.text_update(text, user=user))
    await fake.wait_for_messages(before + 1, chat_id=chat_id, within=60)
    await fake.settle(1.5)  # a turn may send several messages
    sent = [m for m in fake.sent if m["chat"]["id"] == chat_id][before:]
    return "\n".join(str(m.get("text", "")) for m in sent)


async def test_outage_reported_on_telegram_gets_a_ticket_and_a_status_notice(
    e2e_stack: Stack, gateway: Gateway, telegram: FakeTelegram
) -> None:
    user = telegram.user(7_100_001)
    reply = await say(telegram, user, "东山村3组停电了 家里啥都用不了")
    answers = [("哪个村", "东山村3组"), ("情况", "只有我家没电"), ("电话", "13905717777")]
    for _ in range(4):
        if TICKET.search(reply):
            break
        answer = next((a for question, a in answers if question in reply), None)
        assert answer is not None, f"unexpected question: {reply}"
        reply = await say(telegram, user, answer)
    found = TICKET.search(reply)
    assert found, reply
    number = found.group(0)
    assert "90分钟" in reply

    engine = make_engine(e2e_stack.database_url)
    try:
        with make_session_factory(engine)() as session:
            ticket = session.scalars(select(Ticket).where(Ticket.ticket_no == number)).one()
            assert (ticket.sender_id, ticket.channel) == (f"telegram:{user['id']}", "telegram")
            assert ticket.contact_phone == "13905717777"
    finally:
        engine.dispose()

    # staff dispatch a crew: the customer hears about it on Telegram, once
    before = len(telegram.sent)
    advance = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "store", "--url", e2e_stack.database_url,
        "advance-ticket", number, "dispatched", cwd=ROOT, env=_env(),
    )  # fmt: skip
    assert await advance.wait() == 0

    def notices() -> list[dict[str, Any]]:
        return [m for m in telegram.sent[before:] if number in str(m.get("text", ""))]

    await telegram.wait_for(lambda: len(notices()) >= 1, within=30)
    await telegram.settle(2.5)  # several notifier passes: still one notice
    assert len(notices()) == 1
    assert notices()[0]["chat"]["id"] == user["id"]


async def test_json_api_answers_from_the_model(gateway: Gateway) -> None:
    body = {"sender": "e2e-api-1", "text": "居民电价多少钱一度", "message_id": "m-1"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/api/v1/messages", json=body) as response:
            assert response.status == 200
            first = await response.json()
        assert first["conversation_id"] == "api:e2e-api-1"
        text = "\n".join(r["text"] for r in first["replies"])
        assert "元/度" in text, text
        # the same message id again: the stored answer, nothing processed twice
        async with http.post(f"{gateway.url}/api/v1/messages", json=body) as response:
            assert response.status == 200
            again = await response.json()
        assert again["replies"] == first["replies"]
        url = f"{gateway.url}/api/v1/conversations/api:e2e-api-1/messages"
        async with http.get(url) as response:
            assert response.status == 200
            transcript = json.dumps(await response.json(), ensure_ascii=False)
        assert transcript.count("居民电价多少钱一度") == 1

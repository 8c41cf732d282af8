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
from typing import Any

import aiohttp
from sqlalchemy import select

from store.db import make_engine, make_session_factory
from store.models import Ticket
from tests.e2e.conftest import Gateway, Stack, say
from tests.fakes.telegram_api import FakeTelegram
from tests.processes import ROOT, server_env

TICKET = re.compile(r"T\d{10}")


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
        "advance-ticket", number, "dispatched", cwd=ROOT, env=server_env(),
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


async def test_the_gateway_channel_answers_with_what_nlu_understood(e2e_stack: Stack) -> None:
    """rasa_addons/gateway_channel.py in the real Rasa: the REST webhook's replies plus the
    message's parse data and metadata, the same as the tracker then records for that message
    (also inside a form, where the fault report's questions are asked)."""
    base, token = e2e_stack.api_url, {"token": e2e_stack.token}
    sender = "e2e-channel-1"
    async with aiohttp.ClientSession() as http:
        for n, text in enumerate(["你好", "东山村3组停电了", "东山村3组", "居民电价多少钱一度"]):
            body = {
                "sender": sender,
                "message": text,
                "metadata": {"gateway_message_id": f"k{n}"},
                "input_channel": "api",
            }
            async with http.post(f"{base}/webhooks/gateway/webhook", json=body) as response:
                assert response.status == 200
                answer = await response.json()
            assert answer["messages"], answer
            assert all(m["recipient_id"] == sender for m in answer["messages"])
            latest = answer["latest_message"]
            assert latest["text"] == text
            assert latest["metadata"] == {"gateway_message_id": f"k{n}"}
            async with http.get(
                f"{base}/conversations/{sender}/tracker", params={**token, "include_events": "ALL"}
            ) as response:
                tracker = await response.json()
            user = [e for e in tracker["events"] if e["event"] == "user"][-1]
            assert user["metadata"]["gateway_message_id"] == f"k{n}"  # Rasa adds its model id
            assert user["input_channel"] == "api"
            assert latest["intent"] == user["parse_data"]["intent"]
            assert latest["intent_ranking"] == user["parse_data"]["intent_ranking"]
            assert latest["entities"] == user["parse_data"]["entities"]
        assert latest["intent"]["name"] == "ask_tariff"
        # a malformed body is refused, not answered
        async with http.post(f"{base}/webhooks/gateway/webhook", json={"message": "hi"}) as bad:
            assert bad.status == 400

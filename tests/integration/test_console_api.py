"""The agent API inside the real gateway (router, handoff desk, transcript; SQLite and
PostgreSQL): the claim race, the chat cap, replies delivered at once and only by the chat's
agent, transcript with intents, customer panel, notes, transfer, hand-back with the survey,
the supervisor overview, and the live websocket's filtering. Staff see conversations by handle
and masked id only (tests/security/test_access.py tries every route for leaks)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.models import Account, CannedReply, Message, StaffUser, VerificationAttempt
from store.services import transcripts
from tests.fakes.console import (
    Console,
    StaffClient,
    handle_of,
    queue_conversation,
)
from tests.fakes.gateway import message
from tests.fakes.rasa import FakeRasa

API = "/api/v1/agent"


async def claim(who: StaffClient, handoff_id: int) -> tuple[int, Any]:
    return await who.json("POST", f"{API}/claim/{handoff_id}")


async def test_claim_race_one_wins(console: Console) -> None:
    _, handoff_id = queue_conversation(console.factory)
    one, two = await console.browser("agent1"), await console.browser("agent2")
    (s1, b1), (s2, b2) = await asyncio.gather(claim(one, handoff_id), claim(two, handoff_id))
    assert sorted([s1, s2]) == [200, 409]
    winner, loser = (b1, b2) if s1 == 200 else (b2, b1)
    assert winner["handoff"]["state"] == "assigned"
    assert loser["error"]["code"] == "already_claimed"
    status, queue = await one.json("GET", f"{API}/queue")
    assert status == 200
    assert queue["queue"] == []


async def test_queue_is_ordered_by_waiting_time_with_the_reason(console: Console) -> None:
    first, _ = queue_conversation(console.factory, "1", reason="complaint")
    second, _ = queue_conversation(console.factory, "2", reason="fallback")
    agent = await console.browser("agent1")
    status, body = await agent.json("GET", f"{API}/queue")
    assert status == 200
    # complaint is priority 'normal' here (requested directly), so the oldest comes first
    handles = [handle_of(console.factory, cid) for cid in (first, second)]
    assert [h["conversation"] for h in body["queue"]] == handles
    assert [h["conversation_label"] for h in body["queue"]] == ["fake:…", "fake:…"]
    assert [h["reason"] for h in body["queue"]] == ["complaint", "fallback"]
    assert body["queue"][0]["waiting_seconds"] >= 0
    assert body["queue"][0]["last_customer_text"] == "我要找人工"


async def test_chat_cap_is_enforced_on_claim(console: Console) -> None:
    with unit_of_work(console.factory) as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == "agent1")).one()
        user.max_chats = 1
    _, first = queue_conversation(console.factory, "1")
    _, second = queue_conversation(console.factory, "2")
    agent = await console.browser("agent1")
    results = await asyncio.gather(claim(agent, first), claim(agent, second))
    assert sorted(status for status, _ in results) == [200, 409]  # even at the same moment
    refused = next(body for status, body in results if status == 409)
    assert refused["error"]["code"] == "at_capacity"


async def test_reply_only_by_the_chats_agent_and_delivered_at_once(console: Console) -> None:
    conversation_id, handoff_id = queue_conversation(console.factory)
    handle = handle_of(console.factory, conversation_id)
    one, two = await console.browser("agent1"), await console.browser("agent2")
    assert (await claim(one, handoff_id))[0] == 200
    assert console.channel.texts()  # the desk told the customer an agent joined
    status, body = await two.json("POST", f"{API}/reply", {"handoff_id": handoff_id, "text": "x"})
    assert status == 403
    assert body["error"]["code"] == "not_your_chat"
    status, body = await one.json(
        "POST", f"{API}/reply", {"handoff_id": handoff_id, "text": "您好，我是客服小王"}
    )
    assert status == 200, body
    assert body["status"] == "sent"
    assert console.channel.sent[-1][0] == "42"
    assert console.channel.texts()[-1] == "您好，我是客服小王"
    assert (body["conversation"], body["conversation_label"]) == (handle, "fake:…")
    status, transcript = await one.json("GET", f"{API}/transcript/{handle}")
    assert status == 200
    last = transcript["messages"][-1]
    assert (last["sender"], last["text"]) == ("agent", "您好，我是客服小王")
    # a supervisor may step in; an operator may not
    boss = await console.browser("boss")
    status, _ = await boss.json("POST", f"{API}/reply", {"handoff_id": handoff_id, "text": "班长"})
    assert status == 200
    status, body = await one.json("POST", f"{API}/reply", {"handoff_id": handoff_id, "text": ""})
    assert status == 422


async def test_transcript_has_the_bots_part_and_intents(
    console: Console, session_factory: sessionmaker[Session]
) -> None:
    conversation_id, _ = queue_conversation(console.factory)
    with unit_of_work(session_factory) as session:
        message = session.scalars(select(Message)).one()
        transcripts.set_intent(session, message.id, "request_human", 0.93)
    agent = await console.browser("agent1")
    status, body = await agent.json(
        "GET", f"{API}/transcript/{handle_of(console.factory, conversation_id)}"
    )
    assert status == 200
    first = body["messages"][0]
    assert first["sender"] == "customer"
    assert (first["intent"], first["confidence"]) == ("request_human", pytest.approx(0.93))
    for missing in ("999999", "fake:nobody", conversation_id, "%C2%B2", "-1"):
        status, _ = await agent.json("GET", f"{API}/transcript/{missing}")
        assert status == 404, missing


async def test_customer_panel_with_a_verified_account(
    console: Console, seeded: Any, session_factory: sessionmaker[Session]
) -> None:
    conversation_id, _ = queue_conversation(console.factory, "7")
    with unit_of_work(session_factory) as session:
        account = session.scalars(select(Account).where(Account.account_no == "3301000002")).one()
        session.add(
            VerificationAttempt(
                sender_id=conversation_id,
                account_no=account.account_no,
                success=True,
                at=datetime.now(UTC),
            )
        )
    agent = await console.browser("agent1")
    status, body = await agent.json(
        "GET", f"{API}/customer/{handle_of(console.factory, conversation_id)}"
    )
    assert status == 200, body
    assert body["account"]["account_no"] == "3301000002"
    assert body["account"]["holder_name"] == "李秀英"
    assert isinstance(body["tickets"], list)
    assert isinstance(body["applications"], list)
    assert body["earlier_handoffs"] == []


async def test_notes_transfer_handback_and_survey(console: Console) -> None:
    conversation_id, handoff_id = queue_conversation(console.factory)
    with unit_of_work(console.factory) as session:
        session.add(
            CannedReply(title="本站特有", text_zh="我们下午派人上门。", text_en="This afternoon.")
        )
    one, two = await console.browser("agent1"), await console.browser("agent2")
    status, canned = await one.json("GET", f"{API}/canned-replies")
    assert status == 200
    titles = [c["title"] for c in canned["canned_replies"]]
    assert titles[0] == "问候"  # conf/canned_replies.yml first
    assert canned["canned_replies"][0]["id"] == "conf-1"
    assert titles[-1] == "本站特有"  # then the database's
    assert (await claim(one, handoff_id))[0] == 200
    status, note = await one.json(
        "POST", f"{API}/note", {"handoff_id": handoff_id, "text": "老客户"}
    )
    assert status == 200
    assert note["note"]["text"] == "老客户"
    status, _ = await two.json("POST", f"{API}/note", {"handoff_id": handoff_id, "text": "x"})
    assert status == 403
    handle = handle_of(console.factory, conversation_id)
    status, transcript = await one.json("GET", f"{API}/transcript/{handle}")
    assert [n["text"] for n in transcript["notes"]] == ["老客户"]
    sent_before = len(console.channel.texts())
    assert "老客户" not in console.channel.texts()  # private

    status, agents = await one.json("GET", f"{API}/agents")
    target = next(a for a in agents["agents"] if a["username"] == "agent2")
    status, body = await one.json(
        "POST", f"{API}/transfer", {"handoff_id": handoff_id, "to_agent_id": target["id"]}
    )
    assert status == 200, body
    assert body["handoff"]["agent"]["username"] == "agent2"
    status, _ = await one.json("POST", f"{API}/handback", {"handoff_id": handoff_id})
    assert status == 403  # not theirs any more
    status, body = await two.json("POST", f"{API}/handback", {"handoff_id": handoff_id})
    assert status == 200
    assert body["handoff"]["state"] == "returned_to_bot"
    assert len(console.channel.texts()) > sent_before
    survey = console.channel.sent[-1][1][-1]  # the bot is back, and asks for a rating
    assert [b.title for b in survey.buttons] == ["1", "2", "3", "4", "5"]
    status, body = await two.json("POST", f"{API}/close", {"handoff_id": handoff_id})
    assert status == 409  # already back with the bot


async def test_close_sends_the_survey(console: Console) -> None:
    _, handoff_id = queue_conversation(console.factory)
    agent = await console.browser("agent1")
    assert (await claim(agent, handoff_id))[0] == 200
    status, body = await agent.json("POST", f"{API}/close", {"handoff_id": handoff_id})
    assert status == 200
    assert body["handoff"]["state"] == "resolved"
    survey = console.channel.sent[-1][1][-1]
    assert [b.title for b in survey.buttons] == ["1", "2", "3", "4", "5"]


async def test_availability_and_supervisor_overview(console: Console) -> None:
    queue_conversation(console.factory, "1")
    agent = await console.browser("agent1")
    status, body = await agent.json("POST", f"{API}/availability", {"availability": "away"})
    assert (status, body) == (200, {"availability": "away"})
    boss = await console.browser("boss")
    status, overview = await boss.json("GET", f"{API}/supervisor/overview")
    assert status == 200
    assert overview["queue_length"] == 1
    assert overview["longest_wait_seconds"] >= 0
    assert overview["queue"][0]["reason"] == "request_human"
    loads = {a["username"]: a for a in overview["agents"]}
    assert loads["agent1"]["availability"] == "away"
    assert loads["agent1"]["assigned"] == 0
    assert "ops" not in loads  # operators do not take chats
    assert overview["agents_online"] == 2  # agent1 (away) and boss; agent2 never logged in
    ops = await console.browser("ops")
    assert (await ops.json("GET", f"{API}/supervisor/overview"))[0] == 200

    status, _ = await agent.json("POST", f"{API}/availability", {"availability": "available"})
    assert status == 200
    status, me = await agent.json("GET", f"{API}/me")
    assert me["availability"] == "available"
    status, overview = await boss.json("GET", f"{API}/supervisor/overview")
    loads = {a["username"]: a for a in overview["agents"]}
    # available agents may be given queued chats at once (conf/handoff.yml auto_assign)
    assert loads["agent1"]["assigned"] + overview["queue_length"] == 1


async def receive_until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != kind:
        events.append(await ws.receive_json(timeout=10))
    return events


async def test_websocket_streams_only_the_agents_chats(console: Console, rasa: FakeRasa) -> None:
    mine_id, mine = queue_conversation(console.factory, "1")
    other_id, _ = queue_conversation(console.factory, "2")
    agent = await console.browser("agent1")
    boss = await console.browser("boss")
    ws = await agent.http.ws_connect(agent.url("/console/ws"), headers={"Origin": console.origin})
    boss_ws = await boss.http.ws_connect(
        boss.url("/console/ws"), headers={"Origin": console.origin}
    )
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    assert (await boss_ws.receive_json(timeout=5))["type"] == "hello"
    assert (await claim(agent, mine))[0] == 200
    events = await receive_until(ws, "queue_changed")
    assert any(e["type"] == "handoff_changed" and e["state"] == "assigned" for e in events)

    await console.router.handle(message("别人的消息", chat="2"))
    await console.router.handle(message("我的消息", chat="1"))
    events = await receive_until(ws, "message_in")
    assert [e["text"] for e in events if e["type"] == "message_in"] == ["我的消息"]
    mine_handle, other_handle = (handle_of(console.factory, c) for c in (mine_id, other_id))
    assert events[-1]["conversation"] == mine_handle
    assert events[-1]["conversation_label"] == "fake:…"
    assert all("conversation_id" not in e for e in events)  # no frame carries the id
    seen: set[int] = set()
    while seen != {mine_handle, other_handle}:  # supervisors see everything
        event = await boss_ws.receive_json(timeout=5)
        if event["type"] == "message_in":
            seen.add(event["conversation"])
    assert rasa.requests == 0  # both chats are with people: Rasa was never asked
    await ws.close()
    await boss_ws.close()

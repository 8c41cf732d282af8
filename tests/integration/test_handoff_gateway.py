"""Human handoff inside the real gateway (create_app) with the fake Rasa and a recording
channel, on SQLite and PostgreSQL: the gate, agents' messages, triggers, notices and callback
tickets, abandonment, auto-assignment and the survey."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.events import Subscription
from bot.handoff import AgentRef, HandoffDesk
from bot.router import NotYourChat
from store.db import unit_of_work
from store.models import Handoff, HandoffRequest, Message, Rating, Ticket
from store.services import handoff_requests, handoffs, staff
from tests.fakes import rasa as fake_rasa_module
from tests.fakes.gateway import Harness, eventually, message, running_gateway, settings_for
from tests.fakes.rasa import FakeRasa, default_responder

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Monday 10:00 station time: inside the agents' hours of conf/handoff.yml.
IN_HOURS = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
#: Sunday 23:00: outside them.
OUT_OF_HOURS = datetime(2026, 11, 22, 23, 0, tzinfo=SHANGHAI)
CID = "fake:42"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture(autouse=True)
def _more_intents(monkeypatch: pytest.MonkeyPatch) -> None:
    intents = [
        ("投诉", "file_complaint", 0.93),
        ("电线断", "report_safety_hazard", 0.96),
        *fake_rasa_module.INTENTS,
    ]
    monkeypatch.setattr(fake_rasa_module, "INTENTS", intents)


@pytest.fixture
async def gw(
    rasa: FakeRasa, db_url: str, session_factory: sessionmaker[Session]
) -> AsyncIterator[Harness]:
    settings = settings_for(rasa, db_url, handoff_triggers=True)
    async with running_gateway(settings, rasa) as harness:
        yield harness


@pytest.fixture
def clock(gw: Harness) -> Clock:
    clock = Clock(IN_HOURS)
    desk(gw).clock = clock
    return clock


def desk(gw: Harness) -> HandoffDesk:
    assert gw.router.handoff is not None
    return gw.router.handoff


def add_agent(
    factory: sessionmaker[Session],
    name: str,
    *,
    availability: str = "available",
    max_chats: int = 2,
    role: str = "agent",
) -> AgentRef:
    with unit_of_work(factory) as session:
        user = staff.create_user(
            session,
            username=name,
            display_name=f"{name} 王",
            password="pw",
            role=role,
            max_chats=max_chats,
            availability=availability,
            now=IN_HOURS,
        )
        return AgentRef(user.id, user.username, user.display_name, user.role)


def the_handoff(factory: sessionmaker[Session], conversation_id: str = CID) -> Handoff:
    with unit_of_work(factory) as session:
        rows = list(
            session.scalars(
                select(Handoff)
                .join(Handoff.conversation)
                .where(Handoff.conversation.has(conversation_id=conversation_id))
                .order_by(Handoff.id)
            )
        )
        assert rows, "no handoff"
        return rows[-1]


def requesting_person(
    factory: sessionmaker[Session], trigger: str, reply: str, now: datetime
) -> Callable[[str, str, dict[str, Any]], list[dict[str, Any]]]:
    """A fake Rasa answer that does what action_request_human does for a message containing
    `trigger`: records a waiting request and says `reply` (with the request's {id})."""

    def responder(sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        if trigger not in text:
            return default_responder(sender, text, metadata)
        with unit_of_work(factory) as session:
            request = handoff_requests.record_request(
                session,
                sender_id=sender,
                channel="fake",
                reason="customer_request",
                transcript=[],
                now=now,
            )
        return [{"recipient_id": sender, "text": reply.format(id=request.id)}]

    return responder


def handoff_count(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return len(list(session.scalars(select(Handoff.id))))


def transcript(factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with unit_of_work(factory) as session:
        rows = session.scalars(select(Message).order_by(Message.id))
        return [(m.sender, m.status, m.text) for m in rows]


def kinds(sub: Subscription) -> list[str]:
    return [e.kind for e in sub.pending()]


def texts(replies: Any) -> list[str]:
    return [r.text for r in replies]


async def test_gate_agent_messages_return_to_bot_and_survey(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    agent = add_agent(session_factory, "agent1")
    events = gw.router.events.subscribe()
    first = await gw.router.handle(message("你好"))
    assert texts(first.replies) == ["收到：你好"]
    assert [e.kind for e in events.pending()] == ["message_in", "message_out"]

    view = await desk(gw).request(CID, reason="agent_initiated", actor="supervisor")
    assert (view.state, view.agent_id) == ("assigned", agent.id)  # auto-assigned
    assert any("agent1 王" in t for t in gw.channel.texts())
    published = events.pending()
    changed = [e for e in published if e.kind == "handoff_changed"]
    assert [e.data["state"] for e in changed] == ["queued", "assigned"]
    assert "queue_changed" in [e.kind for e in published]

    # the gate: stored, published, and Rasa never asked
    asked = rasa.requests
    during = await gw.router.handle(message("我家停电了，快来人"))
    assert during.replies == ()
    assert rasa.requests == asked
    assert transcript(session_factory)[-1] == ("customer", "processed", "我家停电了，快来人")
    [incoming] = events.pending()
    assert incoming.kind == "message_in"
    assert incoming.conversation_id == CID
    assert (incoming.data["text"], incoming.data["handoff_id"]) == ("我家停电了，快来人", view.id)
    assert incoming.as_json()["type"] == "message_in"

    # the agent answers through the conversation's channel
    sent_before = len(gw.channel.sent)
    assert await gw.router.send_as_agent(CID, "您好，抢修已安排。", agent) == "sent"
    assert gw.channel.sent[sent_before:] == [("42", gw.channel.sent[-1][1])]
    assert gw.channel.texts()[-1] == "您好，抢修已安排。"
    assert transcript(session_factory)[-1] == ("agent", "processed", "您好，抢修已安排。")
    [out] = events.pending()
    assert (out.kind, out.data["sender"], out.data["agent"]) == ("message_out", "agent", "agent1")
    other = add_agent(session_factory, "agent2")
    with pytest.raises(NotYourChat):
        await gw.router.send_as_agent(CID, "hi", other)

    # back to the bot: the customer is told and asked for a rating
    await desk(gw).return_to_bot(view.id, agent.id, why="fault ticket done")
    assert the_handoff(session_factory).state == "returned_to_bot"
    survey = gw.channel.sent[-1][1]
    assert texts(survey)[-1] == "请为本次服务打分（1-5分，5分最满意）。"
    buttons = survey[-1].buttons
    assert [b.title for b in buttons] == ["1", "2", "3", "4", "5"]
    assert buttons[3].payload == '/rate_service{"rating": 4}'
    with pytest.raises(NotYourChat):
        await gw.router.send_as_agent(CID, "还在吗", agent)

    rated = await gw.router.handle(message(buttons[3].payload))
    assert "感谢您的评价（4分）" in rated.replies[0].text
    commented = await gw.router.handle(message("师傅很耐心"))
    assert texts(commented.replies) == ["收到您的意见，谢谢！"]
    assert rasa.requests == asked  # neither went to Rasa
    with unit_of_work(session_factory) as session:
        rating = session.scalars(select(Rating)).one()
        assert (rating.rating, rating.agent_id, rating.handoff_id, rating.comment) == (
            4,
            agent.id,
            view.id,
            "师傅很耐心",
        )

    again = await gw.router.handle(message("查下电费"))
    assert texts(again.replies)[0] == "收到：查下电费"
    assert rasa.requests == asked + 1


async def test_resolve_bare_digit_rating(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    agent = add_agent(session_factory, "agent1")
    await gw.router.handle(message("你好"))
    view = await desk(gw).request(CID, reason="agent_initiated")
    await desk(gw).resolve(view.id, agent.id)
    rated = await gw.router.handle(message("5分"))
    assert "5分" in rated.replies[0].text
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(Rating.agent_id)).one() == agent.id


async def test_request_human_from_the_action_server_queues_the_chat(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    rasa.responder = requesting_person(
        session_factory, "转人工", "已为您转人工，排队号 {id}", IN_HOURS
    )
    events = gw.router.events.subscribe(("handoff_changed", "queue_changed"))
    result = await gw.router.handle(message("我要转人工"))
    # the bot's own words, then (nobody on duty) the offer of a callback
    assert texts(result.replies)[0].startswith("已为您转人工")
    assert "没有空闲的客服" in result.replies[-1].text
    assert [b.payload for b in result.replies[-1].buttons] == ["/callback_yes", "/callback_no"]
    h = the_handoff(session_factory)
    assert (h.state, h.reason, h.priority) == ("queued", "request_human", "normal")
    assert "customer_request" in (h.detail or "")
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(HandoffRequest.status)).one() == "queued"
    assert kinds(events) == ["handoff_changed", "queue_changed"]

    asked = rasa.requests
    waiting = await gw.router.handle(message("有人吗"))
    assert waiting.replies == ()  # told once: no second notice
    assert rasa.requests == asked
    assert handoff_count(session_factory) == 1


def with_triggers(gw: Harness, **changes: Any) -> None:
    config = desk(gw).config
    desk(gw).config = replace(config, triggers=replace(config.triggers, **changes))


async def test_two_fallbacks_in_a_row_queue_the_chat_when_configured(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    with_triggers(gw, fallback_in_a_row=2)  # off in the shipped conf/handoff.yml
    add_agent(session_factory, "agent1", availability="away")
    await gw.router.handle(message("嗯嗯嗯"))
    await gw.router.handle(message("你好"))  # understood: the count starts again
    await gw.router.handle(message("啊这"))
    assert handoff_count(session_factory) == 0
    second = await gw.router.handle(message("哦哦哦"))
    h = the_handoff(session_factory)
    assert (h.state, h.reason) == ("queued", "fallback")
    assert texts(second.replies)[0] == "收到：哦哦哦"
    assert "已为您转接人工客服" in second.replies[1].text
    assert "没有空闲的客服" in second.replies[2].text  # the only agent is away


async def test_misses_in_a_row_never_queue_with_the_shipped_configuration(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    """Issue 13: two messages the bot did not understand used to put the customer into the
    queue unasked; now the assistant offers a person (buttons) and queues only on a yes."""
    add_agent(session_factory, "agent1")
    for text in ("嗯嗯嗯", "啊这", "哦哦哦", "呃呃"):
        result = await gw.router.handle(message(text))
        assert texts(result.replies) == [f"收到：{text}"]  # only the bot's own answer
    assert handoff_count(session_factory) == 0


async def test_rasa_hears_whether_agents_are_on_duty(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    """The assistant answers '转人工' by the schedule the desk queues by (one set of hours)."""
    seen: list[Any] = []

    def responder(sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        seen.append(metadata.get("agents_on_duty"))
        return default_responder(sender, text, metadata)

    rasa.responder = responder
    await gw.router.handle(message("你好"))
    clock.at = OUT_OF_HOURS
    await gw.router.handle(message("你好"))
    assert seen == [True, False]


async def test_a_message_left_out_of_hours_is_queued_without_a_second_notice(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    """Issue 13: '转人工' on a Sunday evening got a promise and then its contradiction. The
    assistant now says it is outside the hours and offers a call-back or a message; when the
    customer leaves a message (the action records the request), the desk queues it quietly."""
    clock.at = OUT_OF_HOURS

    rasa.responder = requesting_person(
        session_factory, "handoff_option", "已为您留言（受理号{id}）", OUT_OF_HOURS
    )
    left = await gw.router.handle(message('/request_human{"handoff_option": "message"}'))
    assert len(left.replies) == 1, texts(left.replies)
    assert left.replies[0].text.startswith("已为您留言")
    h = the_handoff(session_factory)
    assert (h.state, h.reason, h.customer_notice) == ("queued", "request_human", None)


async def test_a_question_after_the_survey_rating_reaches_the_assistant(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    """Issue 13: a question asked after rating the agent was swallowed as the survey comment."""
    agent = add_agent(session_factory, "agent1")
    await gw.router.handle(message("你好"))
    view = await desk(gw).request(CID, reason="agent_initiated")
    await desk(gw).return_to_bot(view.id, agent.id)
    rated = await gw.router.handle(message("5"))
    assert "感谢您的评价（5分）" in rated.replies[0].text
    asked = rasa.requests
    question = await gw.router.handle(message("明天停电吗"))
    assert texts(question.replies) == ["收到：明天停电吗"]  # answered by the assistant
    assert rasa.requests == asked + 1
    request = await gw.router.handle(message("西河村停电了"))
    assert texts(request.replies) == ["收到：西河村停电了"]
    comment = await gw.router.handle(message("客服态度很好"))
    assert texts(comment.replies) == ["收到您的意见，谢谢！"]
    with unit_of_work(session_factory) as session:
        assert session.scalars(select(Rating.comment)).one() == "客服态度很好"


async def test_a_complaint_that_asked_for_a_person_is_not_queued_twice(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    """'我要投诉，转人工' out of hours: the assistant answered the request for a person (its
    offer); the complaint trigger must not queue the chat behind its back."""
    clock.at = OUT_OF_HOURS

    def responder(sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        rasa.trackers[sender].append({"event": "slot", "name": "feedback_type", "value": "handoff"})
        return [{"recipient_id": sender, "text": "现在不是人工客服时间"}]

    rasa.responder = responder
    result = await gw.router.handle(message("我要投诉，转人工"))
    assert texts(result.replies) == ["现在不是人工客服时间"]
    assert handoff_count(session_factory) == 0


async def test_ordinary_turns_never_read_the_whole_conversation(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    """The triggers look at the message's intent first (Rasa's answer on the gateway channel
    says it): a turn whose intent can fire nothing costs no tracker read, however long the
    conversation; the same intent is recorded on the message."""
    for text in ["你好", "查下电费", "你好"]:
        await gw.router.handle(message(text))
    assert handoff_count(session_factory) == 0

    def intents() -> list[str | None]:
        with unit_of_work(session_factory) as session:
            rows = session.scalars(select(Message).where(Message.direction == "in"))
            return [m.intent for m in rows.all()]

    await eventually(lambda: all(intents()))
    assert intents() == ["greet", "query_bill", "greet"]
    assert rasa.tracker_requests == []  # Rasa's answer (the gateway channel) said the intents
    # a fallback may fire a trigger: then the events are read
    await gw.router.handle(message("嗯嗯嗯"))
    assert "ALL" in rasa.tracker_requests


async def test_complaint_and_safety_hazard(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    alerts = gw.router.events.subscribe(("alert",))
    await gw.router.handle(message("我要投诉抄表员", chat="1"))
    complaint = the_handoff(session_factory, "fake:1")
    assert (complaint.reason, complaint.priority) == ("complaint", "high")
    assert alerts.pending() == []

    await gw.router.handle(message("村口电线断了掉在路上", chat="2"))
    hazard = the_handoff(session_factory, "fake:2")
    assert (hazard.reason, hazard.priority) == ("safety_hazard", "urgent")
    [alert] = alerts.pending()
    assert alert.conversation_id == "fake:2"
    assert (alert.data["handoff_id"], alert.data["reason"]) == (hazard.id, "safety_hazard")
    queue = await desk(gw).queue()
    assert [v.id for v in queue] == [hazard.id, complaint.id]  # urgent first


async def test_a_hazard_waits_for_the_bots_form_but_alerts_at_once(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    def responder(sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        # the hazard form asks for the place first, then ends (what the real bot does)
        form = "hazard_location_form" if "电线断" in text else None
        rasa.trackers[sender].append({"event": "active_loop", "name": form})
        return [{"recipient_id": sender, "text": "请告诉我具体位置" if form else "已登记"}]

    rasa.responder = responder
    alerts = gw.router.events.subscribe(("alert",))
    first = await gw.router.handle(message("电线断了"))
    assert texts(first.replies) == ["请告诉我具体位置"]
    assert handoff_count(session_factory) == 0
    [early] = alerts.pending()
    assert (early.data["reason"], early.data["handoff_id"]) == ("safety_hazard", None)
    second = await gw.router.handle(message("石桥村村口"))  # the bot still gets it
    assert texts(second.replies)[0] == "已登记"
    hazard = the_handoff(session_factory)
    assert (hazard.reason, hazard.priority, hazard.state) == ("safety_hazard", "urgent", "queued")
    [alert] = alerts.pending()
    assert alert.data["handoff_id"] == hazard.id


async def test_action_server_failure_queues_the_chat(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    rasa.actions_up = False
    result = await gw.router.handle(message("查电费"))
    assert "已为您转接人工客服" in result.replies[0].text  # instead of "busy, retried later"
    assert the_handoff(session_factory).reason == "action_failure"
    assert transcript(session_factory)[0][:2] == ("customer", "processed")
    rasa.actions_up = True
    asked = rasa.requests
    await gw.router.handle(message("还在吗"))
    assert rasa.requests == asked  # a person has it now


async def test_rasa_refusing_a_message_queues_the_chat(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    rasa.fail_status = 400
    result = await gw.router.handle(message("查电费"))
    assert "暂时处理不了" in result.replies[0].text
    assert "已为您转接人工客服" in result.replies[1].text
    assert the_handoff(session_factory).reason == "action_failure"


async def test_no_agent_notice_once_and_callback_ticket(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    await gw.router.handle(message("你好"))
    result = await desk(gw).request(CID, reason="request_human")
    assert result.customer_notice == "no_agent"
    offers = [t for t in gw.channel.texts() if "没有空闲的客服" in t]
    assert len(offers) == 1
    await gw.router.handle(message("还要等多久"))
    await desk(gw).watch_once()
    clock.at += timedelta(minutes=10)  # past the wait limit: still only one notice
    await desk(gw).watch_once()
    assert [t for t in gw.channel.texts() if "客服" in t and "回电" in t] == offers

    asked = rasa.requests
    yes = await gw.router.handle(message("/callback_yes"))
    h = the_handoff(session_factory)
    assert h.state == "expired"
    assert h.callback_ticket_no is not None
    assert h.callback_ticket_no in yes.replies[0].text
    with unit_of_work(session_factory) as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.ticket_no, ticket.type, ticket.sender_id) == (
            h.callback_ticket_no,
            "callback",
            CID,
        )
    assert rasa.requests == asked
    await gw.router.handle(message("查电费"))
    assert rasa.requests == asked + 1  # the bot is back


async def test_out_of_hours_notice_and_keep_waiting(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    add_agent(session_factory, "agent1")
    clock.at = OUT_OF_HOURS
    await gw.router.handle(message("你好"))
    # (a customer's own request out of hours is answered by the assistant's offer instead)
    view = await desk(gw).request(CID, reason="complaint")
    assert (view.state, view.customer_notice) == ("queued", "out_of_hours")  # no auto-assign
    assert "现在不是人工客服时间" in gw.channel.texts()[-1]
    keep = await gw.router.handle(message("继续等"))
    assert texts(keep.replies) == ["好的，请继续稍候，客服接入后会马上回复您。"]
    assert the_handoff(session_factory).state == "queued"
    # the next morning the watcher hands it to the agent
    clock.at = IN_HOURS + timedelta(days=1)
    await gw.router.handle(message("在吗"))  # keeps the abandon timer from running out
    await desk(gw).watch_once()
    assert the_handoff(session_factory).state == "assigned"


async def test_wait_limit_notice_once(
    gw: Harness,
    rasa: FakeRasa,
    clock: Clock,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_agent(session_factory, "agent1")
    from dataclasses import replace

    monkeypatch.setattr(desk(gw), "config", replace(desk(gw).config, auto_assign=False))
    await gw.router.handle(message("你好"))
    view = await desk(gw).request(CID, reason="request_human")
    assert (view.state, view.customer_notice) == ("queued", None)  # an agent is available
    await desk(gw).watch_once()
    assert not any("久等" in t for t in gw.channel.texts())
    clock.at += timedelta(minutes=6)
    await desk(gw).watch_once()
    await desk(gw).watch_once()
    assert len([t for t in gw.channel.texts() if "抱歉让您久等了" in t]) == 1
    assert the_handoff(session_factory).customer_notice == "wait_limit"


async def test_abandoned_by_words_and_by_silence(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    await gw.router.handle(message("你好"))
    await desk(gw).request(CID, reason="request_human")
    bye = await gw.router.handle(message("算了，不等了"))
    assert texts(bye.replies) == ["好的，已为您取消人工服务。还有问题可以随时找我。"]
    h = the_handoff(session_factory)
    assert h.state == "abandoned"
    with unit_of_work(session_factory) as session:
        assert handoffs.events(session, h.id)[-1].actor == "customer"

    await gw.router.handle(message("你好", chat="7"))
    await desk(gw).request("fake:7", reason="fallback")
    clock.at += timedelta(minutes=29)
    await desk(gw).watch_once()
    assert the_handoff(session_factory, "fake:7").state == "queued"
    clock.at += timedelta(minutes=2)
    await desk(gw).watch_once()
    silent = the_handoff(session_factory, "fake:7")
    assert silent.state == "abandoned"
    with unit_of_work(session_factory) as session:
        assert handoffs.events(session, silent.id)[-1].actor == "system"


async def test_auto_assign_least_loaded_within_max_chats(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    a1 = add_agent(session_factory, "agent1", max_chats=1)
    a2 = add_agent(session_factory, "agent2", max_chats=2)
    add_agent(session_factory, "away1", availability="away", max_chats=5)
    for chat in ("1", "2", "3", "4"):
        await gw.router.handle(message("你好", chat=chat))
    assigned = [
        (await desk(gw).request(f"fake:{c}", reason="request_human")).agent_id
        for c in ("1", "2", "3", "4")
    ]
    # 1 → agent1 (both empty, lower id); 2 → agent2 (agent1 full); 3 → agent2; 4 → nobody
    assert assigned == [a1.id, a2.id, a2.id, None]
    fourth = the_handoff(session_factory, "fake:4")
    assert (fourth.state, fourth.customer_notice) == ("queued", "no_agent")
    load = {x.username: x.assigned for x in await desk(gw).agent_load()}
    assert load == {"agent1": 1, "agent2": 2, "away1": 0}
    # agent1 finishes: the watcher gives them the waiting chat
    await desk(gw).resolve(the_handoff(session_factory, "fake:1").id, a1.id)
    await gw.router.handle(message("在吗", chat="4"))
    await desk(gw).watch_once()
    assert the_handoff(session_factory, "fake:4").agent_id == a1.id


async def test_claim_by_hand_when_auto_assign_is_off(
    gw: Harness,
    rasa: FakeRasa,
    clock: Clock,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace

    monkeypatch.setattr(desk(gw), "config", replace(desk(gw).config, auto_assign=False))
    a1 = add_agent(session_factory, "agent1")
    a2 = add_agent(session_factory, "agent2")
    await gw.router.handle(message("你好"))
    view = await desk(gw).request(CID, reason="request_human")
    assert view.state == "queued"
    claimed = await desk(gw).claim(view.id, a1.id)
    assert (claimed.state, claimed.agent_username) == ("assigned", "agent1")
    with pytest.raises(handoffs.AlreadyClaimed):
        await desk(gw).claim(view.id, a2.id)
    moved = await desk(gw).transfer(view.id, a1.id, a2.id)
    assert moved.agent_id == a2.id
    assert "agent2 王" in gw.channel.texts()[-1]
    note_id = await desk(gw).add_note(view.id, a2.id, "回访电话 139****0001")
    assert note_id > 0


async def test_pending_messages_of_a_taken_chat_are_not_sent_to_rasa(
    gw: Harness, rasa: FakeRasa, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    """Rasa was down (message pending, 'busy' notice); meanwhile a person took the chat: the
    retry worker leaves the message to them."""
    await gw.router.handle(message("你好"))
    await rasa.down()
    busy = await gw.router.handle(message("东山村停电了"))
    assert busy.degraded
    await desk(gw).request(CID, reason="agent_initiated", actor="supervisor")
    asked = rasa.requests
    await rasa.up()
    await eventually(lambda: transcript(session_factory)[2][:2] == ("customer", "processed"))
    assert await gw.router.count_pending() == 0
    assert rasa.requests == asked

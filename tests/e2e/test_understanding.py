"""Issue 13's table: conversations a new user tried that took the wrong path, each replayed
through the trained model and the real servers (Rasa's REST channel, or the gateway on the fake
Telegram Bot API where the gateway takes part). Each test failed on the code before the fix."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from store.demodata.featured import CURRENT_OUTAGE, OPEN_REPAIRS, ZHAO_APPLICATION
from store.models import Handoff, Ticket
from tests.e2e.conftest import ROOT, Gateway, Stack, say
from tests.e2e.test_conversations import TICKET, sender
from tests.e2e.test_handoff import ALL_DAYS, set_agent_hours
from tests.fakes.telegram_api import FakeTelegram

_CJK = re.compile(r"[\u4e00-\u9fff]")


def rows(stack: Stack, query: Callable[[Session], list[Any]]) -> list[Any]:
    engine = create_engine(stack.database_url)
    try:
        with Session(engine) as session:
            found = query(session)
            session.expunge_all()
            return found
    finally:
        engine.dispose()


@pytest.mark.parametrize("text", ["我要报修", "报修", "我想报修"])
def test_asking_to_report_a_repair_starts_the_report(e2e_stack: Stack, text: str) -> None:
    reply = e2e_stack.texts(sender(), text)
    assert "哪个村" in reply, reply  # the fault form's first question
    assert "单号" not in reply  # not "send me your ticket number" (track_repair)


def test_asking_whether_a_village_has_power_tells_the_known_outage(e2e_stack: Stack) -> None:
    me = sender()
    answer = e2e_stack.chat(me, "西河村现在停电吗")
    text = "\n".join(str(r.get("text", "")) for r in answer)
    assert "故障停电" in text, text  # the known outage, with its cause
    assert "预计" in text  # and when power is expected back
    assert "哪个村" not in text
    assert "电话" not in text
    offer = [b for r in answer for b in r.get("buttons", []) if "notify_outage" in b["payload"]]
    assert offer, answer
    registered = e2e_stack.texts(me, offer[0]["payload"])
    found = TICKET.search(registered)
    assert found, registered
    [ticket] = rows(
        e2e_stack, lambda s: list(s.scalars(select(Ticket).filter_by(ticket_no=found.group(0))))
    )
    assert (ticket.status, ticket.sender_id) == ("merged", me)  # told when power is back


def test_a_report_in_the_outage_village_hears_of_the_outage_before_the_phone(
    e2e_stack: Stack,
) -> None:
    me = sender()
    first = e2e_stack.texts(me, "西河村停电了")
    assert CURRENT_OUTAGE in first, first  # right after the address
    assert "情况" not in first  # "only your house?" is not asked: the whole village is out
    position = first.find(CURRENT_OUTAGE)
    if "电话" in first:
        assert position < first.find("电话")
    final = first if TICKET.search(first) else e2e_stack.texts(me, "附近都停电了 13905714444")
    if not TICKET.search(final):
        final = e2e_stack.texts(me, "13905714444")
    assert TICKET.search(final), final


def test_a_gas_leak_gets_gas_safety_never_the_fault_form(e2e_stack: Stack) -> None:
    reply = e2e_stack.texts(sender(), "家里煤气漏了")
    assert "119" in reply, reply
    assert "哪个村" not in reply  # no fault form
    assert "手机号" not in reply


def test_this_months_bill_before_it_is_issued_shows_the_latest(e2e_stack: Stack) -> None:
    me = sender()
    e2e_stack.texts(me, "查下电费")
    e2e_stack.texts(me, "3301000002")
    e2e_stack.texts(me, "0002")
    reply = e2e_stack.texts(me, "这个月电费咋这么高")
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    this_month = f"{now:%Y-%m}"
    assert "没有找到" not in reply, reply
    assert f"{this_month}的账单还没出" in reply
    assert "电费合计" in reply  # the latest bill, explained


def test_noise_inside_a_chinese_conversation_keeps_chinese(e2e_stack: Stack) -> None:
    me = sender()
    assert _CJK.search(e2e_stack.texts(me, "你好"))
    for noise in ("asdfgh", "😀"):
        reply = e2e_stack.texts(me, noise)
        assert reply.strip(), noise
        assert _CJK.search(reply), (noise, reply)


def test_a_complaint_starts_with_an_apology_and_what_happened(e2e_stack: Stack) -> None:
    me = sender()
    first = e2e_stack.texts(me, "我要投诉")
    assert "抱歉" in first, first
    assert "发生了什么" in first
    assert "电话" not in first
    second = e2e_stack.texts(me, "昨天抢修的师傅态度很差，还让我自己去买零件")
    assert "电话" in second, second
    done = e2e_stack.texts(me, "13905713333")
    found = TICKET.search(done)
    assert found, done
    [ticket] = rows(
        e2e_stack, lambda s: list(s.scalars(select(Ticket).filter_by(ticket_no=found.group(0))))
    )
    assert ticket.type == "complaint"
    assert "态度很差" in ticket.description


def test_the_documented_demo_numbers_exist(e2e_stack: Stack) -> None:
    reply = e2e_stack.texts(sender(), f"{ZHAO_APPLICATION}到哪一步了")
    assert "没有查到" not in reply, reply
    assert ZHAO_APPLICATION in reply
    _, _, on_site = OPEN_REPAIRS[0]
    repair = e2e_stack.texts(sender(), f"报修单{on_site}到哪了")
    assert "没有查到" not in repair, repair
    assert on_site in repair


# --- through the gateway: its handoff desk decides when people are on duty ----------------


def _conf(tmp_path: Path, hours: list[dict[str, Any]]) -> dict[str, str]:
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf", conf)
    set_agent_hours(conf, hours)
    return {"CONF_DIR": str(conf)}


def _handoffs(stack: Stack, conversation: str) -> list[Handoff]:
    return rows(
        stack,
        lambda s: list(
            s.scalars(select(Handoff).where(Handoff.conversation.has(conversation_id=conversation)))
        ),
    )


def _not_today() -> str:
    """A weekday three days away (station time): agents are never on duty during the test."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).weekday()
    return ALL_DAYS[(today + 3) % 7]


@pytest.mark.parametrize(
    "gateway_env",
    [pytest.param("off_hours", id="off-hours")],
    indirect=True,
)
async def test_asking_for_a_person_out_of_hours_gets_one_answer_and_a_choice(
    e2e_stack: Stack, gateway: Gateway, telegram: FakeTelegram
) -> None:
    user = telegram.user(7_300_001)
    conversation = f"telegram:{user['id']}"
    before = len(telegram.sent)
    reply = await say(telegram, user, "转人工")
    sent = [m for m in telegram.sent[before:] if m["chat"]["id"] == user["id"]]
    assert len(sent) == 1, [m.get("text") for m in sent]  # one answer, no contradiction
    assert "不是人工客服时间" in reply, reply
    assert "17:30" in reply  # the one schedule: conf/service.yml agent_hours
    titles = [b["text"] for b in telegram.buttons_of(sent[0])]
    assert titles[:2] == ["登记回电", "留言给客服"], titles
    assert _handoffs(e2e_stack, conversation) == []  # not queued unasked

    message_button = telegram.buttons_of(sent[0])[1]
    before = len(telegram.sent)
    await telegram.queue_update(telegram.callback_update(sent[0], message_button["callback_data"]))
    await telegram.wait_for(
        lambda: any("已为您留言" in str(m.get("text")) for m in telegram.sent[before:]), within=30
    )
    await telegram.settle(1.5)
    later = [str(m.get("text")) for m in telegram.sent[before:] if m["chat"]["id"] == user["id"]]
    assert not any("需要我们登记回电吗" in t for t in later), later
    [queued] = _handoffs(e2e_stack, conversation)
    assert (queued.state, queued.reason) == ("queued", "request_human")


@pytest.mark.parametrize("gateway_env", [pytest.param("on_duty", id="on-duty")], indirect=True)
async def test_a_complaint_that_asks_for_a_person_is_handed_over(
    e2e_stack: Stack, gateway: Gateway, telegram: FakeTelegram
) -> None:
    user = telegram.user(7_300_002)
    reply = await say(telegram, user, "我要投诉，转人工")
    assert "转接人工客服" in reply, reply
    assert "请留一个联系电话" not in reply  # not the complaint form
    [handoff] = _handoffs(e2e_stack, f"telegram:{user['id']}")
    assert (handoff.state, handoff.reason) in {("queued", "request_human"),
                                               ("assigned", "request_human")}  # fmt: skip


@pytest.fixture
def gateway_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if getattr(request, "param", "on_duty") == "off_hours":
        return _conf(tmp_path, [{"days": [_not_today()], "open": "08:30", "close": "17:30"}])
    return _conf(tmp_path, [{"days": ALL_DAYS, "open": "00:00", "close": "23:59"}])


def test_button_payloads_in_this_file_are_json() -> None:
    """The notify button's payload is Rasa's /intent{json} form (guards the test's parsing)."""
    payload = "/query_outage_info" + json.dumps({"notify_outage": CURRENT_OUTAGE})
    assert json.loads(payload.split("info", 1)[1]) == {"notify_outage": CURRENT_OUTAGE}
    assert yaml.safe_load("a: 1") == {"a": 1}

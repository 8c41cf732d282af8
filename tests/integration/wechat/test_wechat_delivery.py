"""Replies out: the passive reply when the answer is quick, "success" and a customer-service
message when it is not (also when WeChat has given up on the request and retried), messages
the bot starts (notifications, '系统繁忙' then the late answer), the customer-service window
with the template message or nothing, WeChat's errors, each noted in the transcript;
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.channels.wechat.config import Template, TemplateField
from bot.messages import Button, Reply
from store.db import unit_of_work
from store.models import Message
from tests.fakes.gateway import eventually
from tests.fakes.rasa import FakeRasa
from tests.fakes.wechat_api import FakeWeChat
from tests.fakes.wechat_gateway import WeChatGateway, transcript
from tests.integration.wechat.conftest import OPENID, Start

CID = f"wechat:{OPENID}"
TEMPLATE = Template(
    id="TPL_service_notice",
    fields={"thing1": TemplateField("{text}", 20), "time2": TemplateField("{time}")},
)


async def _follower(gateway: WeChatGateway) -> None:
    """The customer wrote once (the conversation and the window exist)."""
    answer = await gateway.push.post(gateway.push.text(OPENID, "你好"))
    assert answer.text == "收到：你好"


async def test_a_slow_answer_is_success_then_a_customer_service_message(
    gateway: WeChatGateway, rasa: FakeRasa, fake_wechat: FakeWeChat
) -> None:
    rasa.delay = 1.5  # the passive reply waits 1 s here (WeChat: 5 s, conf/wechat.yml 4 s)
    started = time.monotonic()
    answer = await gateway.push.post(gateway.push.text(OPENID, "我家停电了"))
    assert answer.body == "success"
    assert time.monotonic() - started < 1.4
    await eventually(lambda: fake_wechat.texts_to(OPENID) == ["收到：我家停电了"])
    assert fake_wechat.token_requests == 1


async def test_wechat_retrying_a_slow_message_gets_it_processed_and_answered_once(
    rasa: FakeRasa,
    session_factory: sessionmaker[Session],
    fake_wechat: FakeWeChat,
    start: Start,
) -> None:
    rasa.delay = 1.2
    async with start(passive_reply_seconds=3.0) as gateway:
        gateway.push.retry_after = 0.5  # WeChat gives up after 5 s, here after 0.5 s
        answer = await gateway.push.deliver(gateway.push.text(OPENID, "停电好久了"))
        assert answer.tries > 1
        assert answer.body == "success"  # a retry while the first is answered
        # the first request was given up: its passive reply goes out as a message instead
        await eventually(lambda: fake_wechat.texts_to(OPENID) == ["收到：停电好久了"])
        await asyncio.sleep(0.5)
    assert fake_wechat.texts_to(OPENID) == ["收到：停电好久了"]  # once
    assert rasa.texts() == ["停电好久了"]
    inbound = [r for r in transcript(session_factory, OPENID) if r[0] == "in"]
    assert len(inbound) == 1


async def test_busy_then_the_late_answer_through_the_customer_service_api(
    gateway: WeChatGateway, rasa: FakeRasa, fake_wechat: FakeWeChat
) -> None:
    await rasa.down()
    answer = await gateway.push.post(gateway.push.text(OPENID, "东山村停电了"))
    assert answer.text is not None
    assert answer.text.startswith("系统繁忙")
    await rasa.up()
    await eventually(lambda: fake_wechat.texts_to(OPENID) == ["收到：东山村停电了"], within=15)


async def test_a_notification_goes_out_as_a_customer_service_message(
    gateway: WeChatGateway, fake_wechat: FakeWeChat, session_factory: sessionmaker[Session]
) -> None:
    await _follower(gateway)
    status = await gateway.router.deliver(CID, [Reply("工单 T2611230001 已派单")])
    assert status == "sent"
    assert fake_wechat.texts_to(OPENID) == ["工单 T2611230001 已派单"]
    assert transcript(session_factory, OPENID)[-1] == (
        "out",
        "system",
        "processed",
        "工单 T2611230001 已派单",
    )


async def test_buttons_in_a_customer_service_message_are_numbered_too(
    gateway: WeChatGateway, fake_wechat: FakeWeChat
) -> None:
    await _follower(gateway)
    scale = tuple(Button(str(n), f'/rate_service{{"rating": {n}}}') for n in range(1, 6))
    survey = Reply("请为本次服务打分", buttons=scale)
    await gateway.router.deliver(CID, [survey])
    assert fake_wechat.texts_to(OPENID) == [
        "请为本次服务打分\n\n请回复数字选择：\n1 / 2 / 3 / 4 / 5"
    ]


async def test_with_msgmenu_buttons_are_tappable_in_customer_service_messages(
    fake_wechat: FakeWeChat, rasa: FakeRasa, start: Start
) -> None:
    async with start(buttons="msgmenu") as gateway:
        await _follower(gateway)
        buttons = (Button("满意", "/affirm"), Button("不满意", "/deny"))
        await gateway.router.deliver(CID, [Reply("问题解决了吗？", buttons=buttons)])
        [menu] = fake_wechat.sent
        assert menu["msgtype"] == "msgmenu"
        assert menu["msgmenu"]["head_content"] == "问题解决了吗？"
        assert menu["msgmenu"]["list"] == [
            {"id": "1", "content": "满意"},
            {"id": "2", "content": "不满意"},
        ]
        tap = gateway.push.text(OPENID, "不满意", bizmsgmenuid="2")  # what WeChat posts
        await gateway.push.post(tap)
    assert rasa.texts()[-1] == "/deny"


def _age_the_conversation(factory: sessionmaker[Session], hours: int) -> None:
    """The customer's messages were written `hours` ago."""
    before = datetime.now(UTC) - timedelta(hours=hours)
    with unit_of_work(factory) as session:
        session.execute(update(Message).where(Message.direction == "in").values(created_at=before))


async def test_outside_the_window_nothing_is_sent_without_a_template_and_staff_see_why(
    gateway: WeChatGateway, fake_wechat: FakeWeChat, session_factory: sessionmaker[Session]
) -> None:
    await _follower(gateway)
    _age_the_conversation(session_factory, 49)
    status = await gateway.router.deliver(CID, [Reply("您的工单已办结")])
    assert status == "stored"  # kept in the transcript only
    assert fake_wechat.sent == []
    assert fake_wechat.template_messages == []
    assert transcript(session_factory, OPENID)[-2:] == [
        ("out", "system", "failed", "您的工单已办结"),
        (
            "out",
            "system",
            "failed",
            "【微信】这条消息未送达客户：客户超过 48 小时未互动，未配置模板消息（错误码 45015）。",
        ),
    ]


async def test_outside_the_window_the_template_message_is_sent_and_noted(
    session_factory: sessionmaker[Session],
    fake_wechat: FakeWeChat,
    start: Start,
) -> None:
    async with start(template=TEMPLATE) as gateway:
        await _follower(gateway)
        fake_wechat.window = 0  # WeChat says the window closed (45015)
        status = await gateway.router.deliver(CID, [Reply("抢修人员已到达现场，正在排查故障")])
    assert status == "sent"
    assert fake_wechat.refused == [("/cgi-bin/message/custom/send", 45015)]
    [sent] = fake_wechat.template_messages
    assert sent["touser"] == OPENID
    assert sent["template_id"] == "TPL_service_notice"
    assert sent["data"]["thing1"]["value"] == "抢修人员已到达现场，正在排查故障"
    assert len(sent["data"]["time2"]["value"]) == len("2026-11-23 10:00")
    assert transcript(session_factory, OPENID)[-1] == (
        "out",
        "system",
        "failed",
        "【微信】客服消息无法送达（客户超过 48 小时未互动或已取消关注），已改发模板消息。",
    )


async def test_too_many_messages_falls_back_to_the_template_and_a_long_text_is_cut(
    session_factory: sessionmaker[Session],
    fake_wechat: FakeWeChat,
    start: Start,
) -> None:
    async with start(template=TEMPLATE) as gateway:
        await _follower(gateway)
        fake_wechat.quota = 1
        await gateway.router.deliver(CID, [Reply("第一条")])
        await gateway.router.deliver(CID, [Reply("第二条：您申请的新装用电已完成装表接电，请查收")])
    assert fake_wechat.texts_to(OPENID) == ["第一条"]
    assert fake_wechat.refused == [("/cgi-bin/message/custom/send", 45047)]
    value = fake_wechat.template_messages[0]["data"]["thing1"]["value"]
    assert len(value) == 20
    assert value.endswith("…")
    assert "客服消息条数已达上限" in transcript(session_factory, OPENID)[-1][3]


async def test_no_permission_is_noted_and_the_channel_keeps_working(
    gateway: WeChatGateway, fake_wechat: FakeWeChat, session_factory: sessionmaker[Session]
) -> None:
    await _follower(gateway)
    fake_wechat.custom_allowed = False
    status = await gateway.router.deliver(CID, [Reply("您的申请已受理")])
    assert status == "stored"
    assert transcript(session_factory, OPENID)[-1][3] == (
        "【微信】这条消息未送达客户：公众号没有客服消息接口权限（错误码 48001）。"
    )
    answer = await gateway.push.post(gateway.push.text(OPENID, "在吗"))
    assert answer.text == "收到：在吗"  # the passive reply needs no permission


async def test_wechat_busy_keeps_an_answer_and_sends_it_again_later(
    gateway: WeChatGateway, rasa: FakeRasa, fake_wechat: FakeWeChat
) -> None:
    rasa.delay = 1.5  # too late for the passive reply: a customer-service message
    fake_wechat.fail_next = [-1, -1]  # "system error" twice: WeChat says try again later
    answer = await gateway.push.post(gateway.push.text(OPENID, "东山村停电了"))
    assert answer.body == "success"
    await eventually(lambda: fake_wechat.texts_to(OPENID) == ["收到：东山村停电了"])
    assert [code for _, code in fake_wechat.refused] == [-1, -1]


async def test_a_notification_wechat_cannot_take_now_stays_in_the_transcript(
    gateway: WeChatGateway, fake_wechat: FakeWeChat, session_factory: sessionmaker[Session]
) -> None:
    await _follower(gateway)
    fake_wechat.fail_next = [-1]
    assert await gateway.router.deliver(CID, [Reply("稍后送达")]) == "stored"
    assert fake_wechat.sent == []
    assert transcript(session_factory, OPENID)[-1] == ("out", "system", "failed", "稍后送达")


async def test_an_expired_or_revoked_token_is_fetched_again_and_the_call_repeated(
    gateway: WeChatGateway, fake_wechat: FakeWeChat
) -> None:
    await _follower(gateway)
    await gateway.router.deliver(CID, [Reply("一")])
    fake_wechat.revoke_tokens()  # 40001
    await gateway.router.deliver(CID, [Reply("二")])
    fake_wechat.expire_tokens()  # 42001
    await gateway.router.deliver(CID, [Reply("三")])
    assert fake_wechat.texts_to(OPENID) == ["一", "二", "三"]
    assert fake_wechat.token_requests == 3
    codes = [code for _, code in fake_wechat.refused]
    assert codes == [40001, 42001]


async def test_a_token_close_to_expiry_is_refreshed_before_wechat_refuses_it(
    fake_wechat: FakeWeChat,
    start: Start,
) -> None:
    fake_wechat.token_lifetime = 301  # the margin is 300 s: every token is due at once
    async with start() as gateway:
        await _follower(gateway)
        await gateway.router.deliver(CID, [Reply("一")])
        await asyncio.sleep(1.1)
        await gateway.router.deliver(CID, [Reply("二")])
    assert fake_wechat.token_requests == 2
    assert fake_wechat.refused == []


async def test_replicas_share_one_token_through_the_database(
    fake_wechat: FakeWeChat,
    start: Start,
) -> None:
    fake_wechat.quota = 10  # WeChat allows 5 messages per customer message; six here
    async with start() as one, start() as two:
        await _follower(one)
        await asyncio.gather(
            *(
                g.router.deliver(CID, [Reply(f"通知{n}")])
                for n, g in enumerate((one, two, one, two))
            )
        )
        assert fake_wechat.token_requests == 1
        fake_wechat.revoke_tokens()
        await one.router.deliver(CID, [Reply("换了令牌")])  # 40001: replica one fetches
        await two.router.deliver(CID, [Reply("还是同一个令牌")])  # 40001, then the stored one
        assert fake_wechat.token_requests == 2
        assert one.service.tokens is not None
        assert two.service.tokens is not None
        assert (one.service.tokens.fetches, two.service.tokens.fetches) in ((2, 0), (1, 1))
    sent = fake_wechat.texts_to(OPENID)
    assert sorted(sent) == sorted([f"通知{n}" for n in range(4)] + ["换了令牌", "还是同一个令牌"])


async def test_replicas_refresh_a_missing_token_once_between_them(
    fake_wechat: FakeWeChat,
    start: Start,
) -> None:
    async with start() as one, start() as two:
        assert one.service.tokens is not None
        assert two.service.tokens is not None
        tokens = await asyncio.gather(one.service.tokens.get(), two.service.tokens.get())
    assert tokens[0] == tokens[1]
    assert fake_wechat.token_requests == 1

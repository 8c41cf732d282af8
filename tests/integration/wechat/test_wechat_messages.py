"""Messages in: the server URL's verification, every kind of message and event WeChat posts
(signed, encrypted in safe mode), each stored once and answered in WeChat's passive reply,
buttons as a numbered list answered with a digit; SQLite and PostgreSQL."""

from __future__ import annotations

import time

import aiohttp
import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.db import unit_of_work
from store.services import wechat
from tests.fakes.rasa import FakeRasa
from tests.fakes.wechat_api import FakeWeChat
from tests.fakes.wechat_gateway import WeChatGateway, transcript
from tests.fakes.wechat_server import TOKEN, sign
from tests.integration.wechat.conftest import OPENID, Start

NOT_TEXT = "暂时只能看懂文字消息"
"""The start of conf/gateway.yml's non_text reply."""


async def test_the_url_is_verified_with_the_echostr_and_a_wrong_signature_refused(
    gateway: WeChatGateway,
) -> None:
    stamp, nonce = str(int(time.time())), "n0nce"
    query = {"timestamp": stamp, "nonce": nonce, "echostr": "7261895437"}
    async with aiohttp.ClientSession() as http:
        right_query = {**query, "signature": sign(TOKEN, stamp, nonce)}
        async with http.get(gateway.url, params=right_query) as right:
            assert (right.status, await right.text()) == (200, "7261895437")
        wrong_query = {**query, "signature": sign("x", stamp, nonce)}
        async with http.get(gateway.url, params=wrong_query) as wrong:
            assert wrong.status == 403
            assert "7261895437" not in await wrong.text()


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
async def test_a_text_is_stored_and_answered_passively_in_every_security_mode(
    mode: str,
    rasa: FakeRasa,
    session_factory: sessionmaker[Session],
    fake_wechat: FakeWeChat,
    start: Start,
) -> None:
    async with start(mode=mode) as gateway:
        answer = await gateway.push.post(gateway.push.text(OPENID, "我家停电了"))
    assert answer.status == 200
    assert answer.reply is not None
    assert ("Encrypt" in answer.body) == (mode != "plaintext")
    assert answer.reply["ToUserName"] == OPENID
    assert answer.reply["MsgType"] == "text"
    assert answer.text == "收到：我家停电了"
    assert rasa.turns[-1].sender == f"wechat:{OPENID}"
    assert transcript(session_factory, OPENID) == [
        ("in", "customer", "processed", "我家停电了"),
        ("out", "bot", "processed", "收到：我家停电了"),
    ]
    assert not fake_wechat.sent  # answered in the request: no customer-service message


async def test_a_voice_message_with_recognition_is_understood_as_its_transcript(
    gateway: WeChatGateway, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    answer = await gateway.push.post(gateway.push.voice(OPENID, "东山村停电了。"))
    assert answer.text == "收到：东山村停电了。"
    assert rasa.texts() == ["东山村停电了。"]
    assert transcript(session_factory, OPENID)[0] == (
        "in",
        "customer",
        "processed",
        "东山村停电了。",
    )


async def test_a_voice_message_without_recognition_gets_a_request_to_type(
    gateway: WeChatGateway, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    answer = await gateway.push.post(gateway.push.voice(OPENID, None))
    assert answer.text is not None
    assert answer.text.startswith(NOT_TEXT)
    assert rasa.turns == []
    rows = transcript(session_factory, OPENID)
    assert [(d, s) for d, s, _, _ in rows] == [("in", "customer"), ("out", "system")]


async def test_images_and_other_media_get_a_clear_reply_and_are_kept(
    gateway: WeChatGateway, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    push = gateway.push
    image = push.fields(OPENID, "image", PicUrl="http://mmbiz.qpic.cn/x.jpg", MediaId="m1")
    video = push.fields(OPENID, "shortvideo", MediaId="m2", ThumbMediaId="t2")
    link = push.fields(OPENID, "link", Title="停电通知", Description="d", Url="https://x.cn")
    for fields in (image, video, link):
        answer = await push.post(fields)
        assert answer.text is not None
        assert answer.text.startswith(NOT_TEXT)
    assert rasa.turns == []
    assert len([r for r in transcript(session_factory, OPENID) if r[0] == "in"]) == 3


async def test_a_location_names_the_nearest_village_or_is_answered_by_the_channel(
    gateway: WeChatGateway, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    near = await gateway.push.post(gateway.push.location(OPENID, 30.0571, 119.4899, "东山村口"))
    assert near.text == "收到：东山村"
    assert rasa.texts() == ["东山村"]
    far = await gateway.push.post(gateway.push.location(OPENID, 39.9, 116.4, "北京"))
    assert far.text is not None
    assert "不在本所服务的村" in far.text
    assert len(transcript(session_factory, OPENID)) == 2  # the far one is not stored


async def test_following_greets_with_the_menu_and_unfollowing_is_recorded(
    gateway: WeChatGateway, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    followed = await gateway.push.post(gateway.push.event(OPENID, "subscribe"))
    assert followed.text == "收到：你好"  # the fake Rasa greets by echoing
    assert rasa.texts() == ["你好"]
    app_id = gateway.service.secrets.app_id
    with unit_of_work(session_factory) as session:
        row = wechat.follower(session, app_id=app_id, openid=OPENID)
        assert row is not None
        assert row.subscribed
    unfollow = gateway.push.event(OPENID, "unsubscribe")
    left = await gateway.push.post(unfollow)
    again = await gateway.push.post(unfollow)  # WeChat's retry: recorded once
    assert (left.body, again.body) == ("success", "success")
    with unit_of_work(session_factory) as session:
        row = wechat.follower(session, app_id=app_id, openid=OPENID)
        assert row is not None
        assert not row.subscribed
        assert row.unsubscribed_at is not None
    notes = [r for r in transcript(session_factory, OPENID) if "取消关注" in r[3]]
    assert notes == [
        ("out", "system", "failed", "【微信】客户已取消关注公众号，此后的消息无法送达。")
    ]


async def test_menu_clicks_mean_what_the_configuration_says(
    gateway: WeChatGateway, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    answer = await gateway.push.post(gateway.push.event(OPENID, "CLICK", "REPAIR"))
    assert answer.text == "收到：/report_fault"
    await gateway.push.post(gateway.push.event(OPENID, "CLICK", "HUMAN"))
    unknown = await gateway.push.post(gateway.push.event(OPENID, "CLICK", "NOT_IN_CONF"))
    view = await gateway.push.post(gateway.push.event(OPENID, "VIEW", "https://example.cn"))
    assert (unknown.body, view.body) == ("success", "success")
    assert rasa.texts() == ["/report_fault", "/request_human"]
    assert len([r for r in transcript(session_factory, OPENID) if r[0] == "in"]) == 2


async def test_a_redelivered_message_is_processed_once(
    gateway: WeChatGateway, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    message = gateway.push.text(OPENID, "还是没电")
    first = await gateway.push.post(message)
    again = await gateway.push.post(message)  # WeChat retries with the same MsgId
    click = gateway.push.event(OPENID, "CLICK", "BILL")
    await gateway.push.post(click)
    await gateway.push.post(click)  # an event: the same FromUserName + CreateTime
    assert first.text == "收到：还是没电"
    assert again.body == "success"
    assert rasa.texts() == ["还是没电", "/query_bill"]
    assert len([r for r in transcript(session_factory, OPENID) if r[0] == "in"]) == 2


async def test_buttons_are_numbered_and_a_digit_answers_them(
    gateway: WeChatGateway, rasa: FakeRasa
) -> None:
    offered = await gateway.push.post(gateway.push.text(OPENID, "查电费"))
    assert offered.text == "收到：查电费\n\n请选择\n\n请回复数字选择：\n1. 查本月\n2. 转人工"
    await gateway.push.post(gateway.push.text(OPENID, "２"))  # a full-width digit
    assert rasa.texts()[-1] == "/request_human"
    await gateway.push.post(gateway.push.text(OPENID, "2"))  # no buttons since: just a digit
    assert rasa.texts()[-1] == "2"


async def test_a_msgmenu_tap_answers_the_buttons_by_its_id(
    gateway: WeChatGateway, rasa: FakeRasa
) -> None:
    await gateway.push.post(gateway.push.text(OPENID, "电费"))
    tap = gateway.push.text(OPENID, "查本月", bizmsgmenuid="1")
    await gateway.push.post(tap)
    assert rasa.texts()[-1] == "/query_bill"


async def test_typed_command_syntax_goes_to_rasa_as_plain_words(
    gateway: WeChatGateway, rasa: FakeRasa
) -> None:
    await gateway.push.post(gateway.push.text(OPENID, '/inform{"verified": true}'))
    await gateway.push.post(gateway.push.text(OPENID, "/request_human"))
    assert rasa.texts() == ['inform{"verified": true}', "request_human"]


async def test_an_unknown_message_type_is_answered_politely_and_not_stored(
    gateway: WeChatGateway, rasa: FakeRasa, session_factory: sessionmaker[Session]
) -> None:
    answer = await gateway.push.post(gateway.push.fields(OPENID, "hologram", Data="x"))
    assert answer.status == 200
    assert answer.text is not None
    assert "暂时无法处理这类消息" in answer.text
    assert rasa.turns == []
    assert transcript(session_factory, OPENID) == []

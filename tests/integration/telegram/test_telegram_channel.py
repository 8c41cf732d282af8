"""The Telegram channel end to end: the real python-telegram-bot against a fake Bot API server
(tests/fakes/telegram_api.py), in long-polling and webhook mode, inside a minimal gateway app
built with `bot.channels.telegram.setup`, with a small fake router.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from telegram.error import Forbidden

from bot.channels.base import RecipientGone, SendLater
from bot.channels.telegram import TELEGRAM
from bot.channels.telegram.config import TelegramConfig
from bot.messages import Button, Inbound, Reply
from bot.settings import ConfigError, GatewaySettings
from store.logmask import install_log_masking
from tests.fakes.telegram_api import SECRET_HEADER, FakeTelegram
from tests.fakes.telegram_channel import (
    NOT_TEXT,
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    FakeRouter,
    Gateway,
    eventually,
    make_app,
    running_gateway,
    settings_for,
)

LONG_PAYLOAD = '/inform{"address": "东山村3组12号", "fault_type": "停电"}'
DONGSHAN = (30.0561, 119.4899)  # a few hundred metres from 东山村's centre


@pytest.fixture(params=["polling", "webhook"])
async def gateway(
    request: pytest.FixtureRequest, fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> AsyncIterator[Gateway]:
    async with running_gateway(fake, router, config, request.param) as gw:
        yield gw


@pytest.fixture
async def webhook(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> AsyncIterator[Gateway]:
    async with running_gateway(fake, router, config, "webhook") as gw:
        yield gw


# ------------------------------------------------------------------------------ start-up


async def test_polling_deletes_the_webhook_then_long_polls(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    fake.webhook.url = "https://old.example.test/hook"  # left over from an earlier deployment
    async with running_gateway(fake, router, config, "polling") as gw:
        polls = await fake.wait_for_calls("getUpdates")
        methods = [c.method for c in fake.calls]
        assert methods.index("getMe") < methods.index("deleteWebhook") < methods.index("getUpdates")
        assert polls[0].params["allowed_updates"] == [
            "message",
            "edited_message",
            "callback_query",
            "my_chat_member",
        ]
        assert polls[-1].params["timeout"] == 1
        assert gw.service.running
        assert router.channels["telegram"] is gw.service.channel
    assert not gw.service.running
    assert not fake.calls_of("setWebhook")


async def test_webhook_mode_registers_url_secret_and_route(
    fake: FakeTelegram, router: FakeRouter, config: TelegramConfig
) -> None:
    async with running_gateway(fake, router, config, "webhook") as gw:
        assert fake.webhook.url == WEBHOOK_URL
        assert fake.webhook.secret_token == WEBHOOK_SECRET
        assert fake.webhook.allowed_updates == [
            "message",
            "edited_message",
            "callback_query",
            "my_chat_member",
        ]
        assert not fake.calls_of("getUpdates")
        assert gw.service.webhook_path == "/telegram/webhook"
        assert router.channels["telegram"] is gw.service.channel
    assert not gw.service.running


async def test_no_token_no_channel(router: FakeRouter, config: TelegramConfig) -> None:
    app = make_app(GatewaySettings(), router, config)
    assert TELEGRAM not in app
    assert not app.cleanup_ctx


async def test_rejected_token_stops_start_up_without_logging_it(
    fake: FakeTelegram,
    router: FakeRouter,
    config: TelegramConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = dataclasses.replace(
        settings_for(fake, "polling"), telegram_token="7012345678:AAWrongTokenWrongTokenWrong"
    )
    app = make_app(settings, router, config)
    server = TestServer(app)
    with pytest.raises(ConfigError, match="rejected"):
        await server.start_server()
    await server.close()
    assert "AAWrongToken" not in caplog.text


async def test_unreachable_bot_api_is_retried_in_the_background(
    router: FakeRouter, config: TelegramConfig
) -> None:
    down = FakeTelegram()
    await down.start()
    await down.close()  # the Bot API is down when the gateway starts
    app = make_app(settings_for(down, "polling"), router, config)
    service = app[TELEGRAM]
    service._retry_delays = (0.1,)
    server = TestServer(app)
    await server.start_server()  # the gateway starts anyway
    revived = FakeTelegram(port=down.port)
    try:
        assert not service.running
        with pytest.raises(ConnectionError):
            await service.channel.send("424242", [Reply("你好")])
        await revived.start()
        await revived.wait_for_calls("getUpdates", within=10)
        assert service.running
        await revived.deliver(revived.text_update("停电了"))
        await revived.wait_for_messages(1)
    finally:
        await server.close()
        await revived.close()
    assert not service.running


async def test_the_bot_token_stays_out_of_the_logs(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await fake.deliver(fake.text_update("停电了"))
    await fake.wait_for_messages(1)
    assert "getMe" in caplog.text or "sendMessage" in caplog.text  # the API calls were logged
    assert fake.token.partition(":")[2] not in caplog.text


# ----------------------------------------------------------------------------- messages


async def test_text_round_trip(gateway: Gateway, fake: FakeTelegram, router: FakeRouter) -> None:
    update = fake.text_update("东山村3组停电了")
    await fake.deliver(update)
    [message] = await router.wait_for(1)
    assert message == Inbound(
        channel="telegram",
        chat_id="424242",
        user_id="424242",
        text="东山村3组停电了",
        external_id=str(update["update_id"]),
        language=None,
        metadata={"telegram_message_id": update["message"]["message_id"]},
    )
    [sent] = await fake.wait_for_messages(1)
    assert sent["chat"]["id"] == 424242
    assert sent["text"] == "收到：东山村3组停电了"
    assert [b["text"] for b in fake.buttons_of(sent)] == ["是", "否"]
    assert [b["callback_data"] for b in fake.buttons_of(sent)] == ["p:/affirm", "p:/deny"]
    assert sent["reply_markup"]["inline_keyboard"] == [fake.buttons_of(sent)]  # one row of two


async def test_english_user_gets_a_language_hint(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    user = fake.user(777, first_name="Tom", language_code="en-GB")
    await fake.deliver(fake.text_update("no power at my house", user=user))
    [message] = await router.wait_for(1)
    assert message.language == "en"
    assert message.chat_id == "777"
    await fake.wait_for_messages(1, chat_id=777)


async def test_typing_is_shown_while_the_router_works(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    router.delay = 0.4  # typing repeats every 0.05 s in these tests (4 s in conf/telegram.yml)
    await fake.deliver(fake.text_update("电费咋这么高"))
    [sent] = await fake.wait_for_messages(1)
    assert len(fake.chat_actions) >= 3
    assert set(fake.chat_actions) == {(424242, "typing")}
    first_action = fake.calls_of("sendChatAction")[0].at
    assert first_action <= fake.calls_of("sendMessage")[0].at
    count = len(fake.chat_actions)
    await fake.settle(0.2)
    assert len(fake.chat_actions) == count  # stopped once the reply was out
    assert sent["text"] == "收到：电费咋这么高"


async def test_long_payload_button_and_callback(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    router.answer = lambda m: (
        (Reply("您说的是东山村3组12号停电吗？", buttons=(Button("对，就是这里", LONG_PAYLOAD),)),)
        if not m.text.startswith("/")
        else (Reply(f"按钮：{m.text}"),)
    )
    await fake.deliver(fake.text_update("我家没电了"))
    [question] = await fake.wait_for_messages(1)
    [button] = fake.buttons_of(question)
    data = button["callback_data"]
    assert data.startswith("t:")
    assert len(data.encode()) <= 64
    press = fake.callback_update(question, data)
    await fake.deliver(press)
    inbound = await router.wait_for(2)
    assert inbound[1].text == LONG_PAYLOAD
    assert inbound[1].external_id == str(press["update_id"])
    assert inbound[1].chat_id == "424242"
    [answer] = fake.callback_answers
    assert answer["callback_query_id"] == press["callback_query"]["id"]
    assert "text" not in answer
    [_, reply] = await fake.wait_for_messages(2)
    assert reply["text"] == f"按钮：{LONG_PAYLOAD}"


async def test_short_payload_button_survives_restarts(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    await fake.deliver(fake.text_update("停电了"))
    [sent] = await fake.wait_for_messages(1)
    gateway.service.channel.tokens = type(gateway.service.channel.tokens)()  # a restart
    await fake.deliver(fake.callback_update(sent, fake.buttons_of(sent)[0]["callback_data"]))
    inbound = await router.wait_for(2)
    assert inbound[1].text == "/affirm"


async def test_a_forged_command_button_is_not_routed(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    """Callback data is whatever the client sends: a bare intent (`p:/restart`) the bot never
    offered in this chat is a stale button, though it has the form of a harmless one."""
    await fake.deliver(fake.text_update("停电了"))  # offered: /affirm and /deny
    [sent] = await fake.wait_for_messages(1)
    for forged in ("p:/restart", "p:/request_human", "p:/session_start"):
        await fake.deliver(fake.callback_update(sent, forged))
    await fake.deliver(fake.callback_update(sent, "p:/deny"))  # offered: routed
    inbound = await router.wait_for(2)
    assert [m.text for m in inbound] == ["停电了", "/deny"]
    await fake.wait_for(lambda: len(fake.callback_answers) == 4)
    answers = [a.get("text") for a in fake.callback_answers]
    assert answers.count("这个按钮已失效，请直接输入您的问题。") == 3
    await fake.settle()
    assert len(router.inbound) == 2


async def test_stale_button_is_answered_and_not_routed(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    await fake.deliver(fake.text_update("停电了"))
    [sent] = await fake.wait_for_messages(1)
    await fake.deliver(fake.callback_update(sent, "t:AAAAAAAAAAAA"))
    await fake.deliver(fake.callback_update(sent, 'p:/inform{"verified": true}'))  # forged
    await fake.wait_for(lambda: len(fake.callback_answers) == 2)
    assert [a["text"] for a in fake.callback_answers] == [
        "这个按钮已失效，请直接输入您的问题。"
    ] * 2
    await fake.settle()
    assert len(router.inbound) == 1
    assert len(fake.sent) == 1


@pytest.mark.parametrize(
    ("text", "language_code", "routed"),
    [
        ("/start", "zh-hans", "你好"),
        ("/start", "en", "hi"),
        ("/start@qingxi_power_bot", None, "你好"),
        ("/start ref-poster-2026", "zh-hans", "你好"),
        ("/help", "en-US", "what can you do"),
        ('/inform{"account": "3301000001"}', "zh-hans", 'inform{"account": "3301000001"}'),
        # what Rasa strips, and what the router removes, cannot hide a command
        ("/ /restart", "zh-hans", "restart"),
        ("\u3000/\t/session_start", "zh-hans", "session_start"),
        ("\x00/restart", "zh-hans", "restart"),
    ],
)
async def test_commands(
    webhook: Gateway,
    fake: FakeTelegram,
    router: FakeRouter,
    text: str,
    language_code: str | None,
    routed: str,
) -> None:
    user = fake.user(language_code=language_code)
    await fake.deliver(fake.text_update(text, user=user))
    [message] = await router.wait_for(1)
    assert message.text == routed
    await fake.wait_for_messages(1)


async def test_location_fills_the_village(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    lat, lon = DONGSHAN
    update = fake.message_update(location={"latitude": lat, "longitude": lon})
    await fake.deliver(update)
    [message] = await router.wait_for(1)
    assert message.text == "东山村"
    assert message.external_id == str(update["update_id"])
    [attachment] = message.attachments
    assert attachment.kind == "location"
    assert attachment.data["latitude"] == lat
    assert attachment.data["longitude"] == lon
    assert attachment.data["area_code"] == "QX03"
    assert attachment.data["distance_km"] < 1
    await fake.wait_for_messages(1)


async def test_location_in_english_and_from_a_venue(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    user = fake.user(language_code="en")
    venue_location = {"latitude": 30.0276, "longitude": 119.4580}
    await fake.deliver(
        fake.message_update(
            user=user,
            location=venue_location,
            venue={"location": venue_location, "title": "南塘村委会", "address": "南塘村"},
        )
    )
    [message] = await router.wait_for(1)
    assert message.text == "Nantang Village"
    assert message.attachments[0].data["venue"] == {"title": "南塘村委会", "address": "南塘村"}


async def test_location_far_away_is_answered_not_routed(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    await fake.deliver(fake.message_update(location={"latitude": 39.9042, "longitude": 116.4074}))
    [sent] = await fake.wait_for_messages(1)
    assert sent["text"].startswith("您发送的位置不在本所服务的村")
    assert not router.inbound


VOICE = {"file_id": "AwACAgVoice", "file_unique_id": "v1", "duration": 4, "mime_type": "audio/ogg"}
PHOTO = [
    {"file_id": "AgACsmall", "file_unique_id": "p1", "width": 90, "height": 67},
    {"file_id": "AgACbig", "file_unique_id": "p2", "width": 1280, "height": 960},
]
STICKER = {
    "file_id": "CAACsticker",
    "file_unique_id": "s1",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
    "emoji": "👍",
}


@pytest.mark.parametrize(
    ("content", "kind", "data"),
    [
        ({"voice": VOICE}, "voice", {"file_id": "AwACAgVoice", "duration": 4}),
        ({"photo": PHOTO}, "photo", {"file_id": "AgACbig", "width": 1280}),
        ({"sticker": STICKER}, "sticker", {"emoji": "👍"}),
        (
            {
                "video_note": {
                    "file_id": "DQAC",
                    "file_unique_id": "n1",
                    "length": 240,
                    "duration": 3,
                }
            },
            "video",
            {"telegram_type": "video_note"},
        ),
        (
            {"contact": {"phone_number": "13905710001", "first_name": "建国", "user_id": 424242}},
            "contact",
            {"phone_number": "13905710001"},
        ),
        (
            {"dice": {"emoji": "🎲", "value": 3}},
            "other",
            {"telegram_type": "dice"},
        ),
    ],
    ids=["voice", "photo", "sticker", "video_note", "contact", "dice"],
)
async def test_non_text_is_routed_with_its_attachment(
    gateway: Gateway,
    fake: FakeTelegram,
    router: FakeRouter,
    content: dict[str, Any],
    kind: str,
    data: dict[str, Any],
) -> None:
    await fake.deliver(fake.message_update(**content))
    [message] = await router.wait_for(1)
    assert message.text == ""
    [attachment] = message.attachments
    assert attachment.kind == kind
    assert data.items() <= attachment.data.items()
    [sent] = await fake.wait_for_messages(1)
    assert sent["text"] == NOT_TEXT


async def test_photo_caption_is_the_text(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    await fake.deliver(fake.message_update(photo=PHOTO, caption="  电线杆歪了  "))
    [message] = await router.wait_for(1)
    assert message.text == "电线杆歪了"
    assert message.attachments[0].kind == "photo"


async def test_group_chats_are_declined_once(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    group = fake.group_chat()
    await fake.deliver(fake.text_update("停电了", chat=group))
    await fake.deliver(fake.text_update("有人吗", chat=group))
    await fake.deliver(fake.message_update(chat=group, voice=VOICE))
    [sent] = await fake.wait_for_messages(1)
    assert sent["chat"]["id"] == group["id"]
    assert "请点击我的头像，私聊我" in sent["text"]
    assert "only help in private chats" in sent["text"]
    await fake.settle()
    assert len(fake.sent) == 1
    assert not router.inbound
    # a private message right after is served normally
    await fake.deliver(fake.text_update("停电了"))
    await router.wait_for(1)


async def test_button_pressed_in_a_group_is_answered_not_routed(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    group = fake.group_chat()
    message = {"message_id": 5, "date": 1_790_000_000, "chat": group, "text": "?"}
    await fake.deliver(fake.callback_update(message, "p:/affirm", user=fake.user()))
    await fake.wait_for(lambda: len(fake.callback_answers) == 1)
    [sent] = await fake.wait_for_messages(1)  # the one-time decline
    assert sent["chat"]["id"] == group["id"]
    await fake.settle()
    assert not router.inbound


async def test_added_to_a_group_declines_there(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    group = fake.group_chat(-4001, kind="group")
    bot = {k: fake.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
    update = {
        "update_id": fake.next_update_id(),
        "my_chat_member": {
            "chat": group,
            "from": fake.user(),
            "date": 1_790_000_000,
            "old_chat_member": {"user": bot, "status": "left"},
            "new_chat_member": {"user": bot, "status": "member"},
        },
    }
    await fake.deliver(update)
    [sent] = await fake.wait_for_messages(1)
    assert sent["chat"]["id"] == -4001
    await fake.deliver(fake.text_update("停电了", chat=group))
    await fake.settle()
    assert len(fake.sent) == 1
    assert not router.inbound


async def test_edited_message_gets_a_polite_answer(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    await fake.deliver(fake.message_update(kind="edited_message", text="东山村3组"))
    [sent] = await fake.wait_for_messages(1)
    assert sent["text"].startswith("修改过的消息我看不到")
    # live locations arrive as edits every few seconds: silently ignored
    await fake.deliver(
        fake.message_update(
            kind="edited_message", location={"latitude": 30.05, "longitude": 119.46}
        )
    )
    await fake.settle()
    assert len(fake.sent) == 1
    assert not router.inbound


async def test_unknown_and_unwanted_updates_do_not_crash(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter, caplog: pytest.LogCaptureFixture
) -> None:
    # In long-polling mode the fake, like Telegram, holds back the types not asked for.
    caplog.set_level(logging.INFO, logger="bot.channels.telegram")
    channel_chat = {"id": -100777, "type": "channel", "title": "青溪镇公告"}
    poll = {
        "id": "5",
        "question": "停电了吗",
        "options": [{"text": "是", "voter_count": 1, "persistent_id": "o1"}],
        "total_voter_count": 1,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
        "allows_revoting": False,
        "members_only": False,
    }
    updates: list[dict[str, Any]] = [
        {"update_id": fake.next_update_id(), "a_future_update_type": {"id": 1}},
        {"update_id": fake.next_update_id(), "poll": poll},
        fake.message_update(kind="channel_post", chat=channel_chat, text="明天检修停电"),
        fake.message_update(new_chat_title="新群名"),  # a service message in a private chat
        fake.message_update(a_future_content={"x": 1}),  # content this version does not know
        {"update_id": fake.next_update_id()},
    ]
    for update in updates:
        await fake.deliver(update)
    await fake.settle()
    assert not router.inbound
    assert not fake.sent
    if gateway.mode == "webhook":
        assert "(a_future_update_type) is not handled" in caplog.text
        assert "(poll) is not handled" in caplog.text
    await fake.deliver(fake.message_update(poll=poll))  # a poll sent in the private chat
    [message] = await router.wait_for(1)
    assert message.attachments[0].kind == "other"
    await fake.deliver(fake.text_update("停电了"))  # still working
    await fake.wait_for_messages(2)


async def test_channel_send_for_notifications(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    channel = router.channels["telegram"]
    long_text = "维修进度：" + "抢修人员已出发。" * 700  # more than one Telegram message
    await channel.send(
        "424242",
        [
            Reply(
                "您的报修单 T2611230001 状态更新：已派工",
                buttons=(Button("查看进度", "/track_repair"),),
            ),
            Reply(long_text),
            Reply("", buttons=(Button("满意", "/rate_service"),)),
            Reply("现场照片", image="https://example.test/photo.jpg"),
        ],
    )
    sent = await fake.wait_for_messages(5)
    assert sent[0]["text"].startswith("您的报修单")
    assert fake.buttons_of(sent[0])[0]["callback_data"] == "p:/track_repair"
    assert all(len(m["text"]) <= 4096 for m in sent[1:3])
    assert sent[1]["text"] + sent[2]["text"] == long_text
    assert sent[3]["text"] == "👇"
    assert fake.buttons_of(sent[3])[0]["text"] == "满意"
    assert sent[4]["photo_url"] == "https://example.test/photo.jpg"
    assert sent[4]["caption"] == "现场照片"
    await channel.typing("424242")
    assert fake.chat_actions == [(424242, "typing")]


async def test_channel_send_raises_on_delivery_failure(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    """A blocked bot and a rate limit are raised in the channels' own terms (bot/channels/base.py),
    what Telegram said kept as the cause."""
    channel = router.channels["telegram"]
    fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(RecipientGone) as gone:
        await channel.send("424242", [Reply("通知")])
    assert isinstance(gone.value.__cause__, Forbidden)
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(SendLater) as later:
        await channel.send("424242", [Reply("通知")])
    assert later.value.retry_after == 7.0


async def test_router_failure_is_apologised_for_and_logged_masked(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter, caplog: pytest.LogCaptureFixture
) -> None:
    original = logging.getLogRecordFactory()
    install_log_masking()  # what the gateway's entry point does
    try:
        router.error = RuntimeError("database down while handling 13905710001")
        await fake.deliver(fake.text_update("我的电话13905710001"))
        [sent] = await fake.wait_for_messages(1)
    finally:
        logging.setLogRecordFactory(original)
    assert sent["text"].startswith("抱歉，系统出了点问题")
    assert "the router failed" in caplog.text
    assert "RuntimeError: database down while handling 139****0001" in caplog.text
    assert "13905710001" not in caplog.text


async def test_a_failed_delivery_is_logged_and_the_channel_carries_on(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter, caplog: pytest.LogCaptureFixture
) -> None:
    """The router sends the replies (push) and logs what Telegram refused (the real router
    marks them failed: tests/integration/test_gateway_crash.py)."""
    fake.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await fake.deliver(fake.text_update("停电了"))
    await router.wait_for(1)
    await eventually(lambda: "bot was blocked by the user" in caplog.text)
    assert "Forbidden" in caplog.text
    assert not fake.sent
    await fake.deliver(fake.text_update("又停电了"))  # the channel carries on
    await fake.wait_for_messages(1)


async def test_messages_of_one_chat_are_handled_in_order(
    gateway: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    router.delay = 0.1
    texts = ["一", "二", "三", "四"]
    for text in texts:
        await fake.deliver(fake.text_update(text))
    sent = await fake.wait_for_messages(4)
    assert [m["text"] for m in sent] == [f"收到：{t}" for t in texts]


# ------------------------------------------------------------------------------ webhook


@pytest.mark.parametrize(
    "headers",
    [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: ""}, {SECRET_HEADER: WEBHOOK_SECRET + "x"}],
    ids=["missing", "wrong", "empty", "longer"],
)
async def test_webhook_refuses_a_wrong_secret(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter, headers: dict[str, str]
) -> None:
    response = await webhook.client.post(
        "/telegram/webhook", json=fake.text_update("停电了"), headers=headers
    )
    assert response.status == 403
    await fake.settle()
    assert not router.inbound
    assert not fake.sent


async def test_fake_pushes_with_the_secret_and_a_wrong_one_is_refused(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    assert await fake.push_update(fake.text_update("停电了"), secret="nope") == 403
    assert await fake.push_update(fake.text_update("停电了")) == 200
    await router.wait_for(1)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"text"', b'{"message": {}}', b'{"update_id": "7"}', b"\xff\xfe"],
    ids=["syntax", "array", "string", "no-update-id", "string-id", "not-utf8"],
)
async def test_webhook_rejects_malformed_bodies(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter, body: bytes
) -> None:
    response = await webhook.client.post(
        "/telegram/webhook",
        data=body,
        headers={SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"},
    )
    assert response.status == 400
    await fake.deliver(fake.text_update("停电了"))  # and it keeps working
    await fake.wait_for_messages(1)
    assert len(router.inbound) == 1


async def test_webhook_drops_an_update_it_cannot_read(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    broken = {"update_id": fake.next_update_id(), "message": {"message_id": 1}}  # no chat, date
    assert await fake.push_update(broken) == 200  # not redelivered forever
    await fake.settle()
    assert not router.inbound


async def test_webhook_redelivery_is_routed_with_the_same_id_and_answered_once(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    update = fake.text_update("东山村停电了")
    assert await fake.push_update(update) == 200
    assert await fake.push_update(json.dumps(update)) == 200
    first, second = await router.wait_for(2)
    assert first.external_id == second.external_id == str(update["update_id"])
    await fake.wait_for_messages(1)
    await fake.settle()
    assert len(fake.sent) == 1


async def test_webhook_answers_before_the_router_is_done(
    webhook: Gateway, fake: FakeTelegram, router: FakeRouter
) -> None:
    router.delay = 1.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await fake.push_update(fake.text_update("停电了")) == 200
    assert loop.time() - started < 0.5
    await fake.wait_for_messages(1)

"""The WeChat channel's parts without I/O: safe mode's crypto against WeChat's side written
apart (tests/fakes/wechat_server.py), the XML, reading messages, numbered buttons, the passive
slots, the account menu's limits, the configuration and the secrets' checks."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bot.channels.wechat.account_menu import load_menu
from bot.channels.wechat.buttons import (
    choice_of,
    chosen_payload,
    offered_buttons,
    reply_text,
    split_bytes,
)
from bot.channels.wechat.config import load_wechat_config
from bot.channels.wechat.credentials import WeChatConfigError, check_secrets
from bot.channels.wechat.crypto import CryptoError, MessageCrypto, aes_key, signature, signature_ok
from bot.channels.wechat.envelope import EnvelopeError, parse_xml, render_xml
from bot.channels.wechat.mapping import (
    Ignore,
    NotAMessage,
    Notice,
    Route,
    classify,
    read_message,
)
from bot.channels.wechat.passive import PassiveSlots
from bot.messages import Button, Reply, TranscriptEntry
from bot.settings import GatewaySettings
from store.config import default_conf_dir
from store.configuration.yamlfile import ConfigError, Label, Node
from tests.fakes.wechat_server import AES_KEY, TOKEN, Seal, sign

APP_ID = "wx51fa4e0cd2b7a913"
CONFIG = load_wechat_config()


# --- crypto ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 7, 11, 12, 43, 44, 100, 3000])
def test_safe_mode_opens_what_wechat_seals_and_wechat_opens_what_it_seals(size: int) -> None:
    message = "<xml><Content>" + "电" * size + "</Content></xml>"
    crypto = MessageCrypto(AES_KEY, APP_ID)
    wechat = Seal(AES_KEY, APP_ID)
    assert crypto.decrypt(wechat.seal(message)).decode() == message
    assert wechat.open(crypto.encrypt(message.encode())) == message


def test_a_full_block_of_padding_is_read_and_written() -> None:
    crypto = MessageCrypto(AES_KEY, APP_ID)
    body = b"x" * (64 - 16 - 4 - len(APP_ID))  # plaintext of exactly 64 bytes: 32 bytes pad
    sealed = crypto.encrypt(body, random16=bytes(16))
    assert len(Seal(AES_KEY, APP_ID).open(sealed)) == len(body)
    assert crypto.decrypt(sealed) == body


def test_a_message_for_another_account_or_key_or_no_message_at_all_is_refused() -> None:
    crypto = MessageCrypto(AES_KEY, APP_ID)
    with pytest.raises(CryptoError, match="another AppID"):
        crypto.decrypt(Seal(AES_KEY, "wxother").seal("<xml/>"))
    with pytest.raises(CryptoError):
        crypto.decrypt(Seal("B" * 43, APP_ID).seal("<xml/>"))
    for junk in ("", "!!!", "QUJD", "A" * 44):
        with pytest.raises(CryptoError):
            crypto.decrypt(junk)


def test_signatures_are_wechats() -> None:
    assert signature(TOKEN, "1700000000", "n1") == sign(TOKEN, "1700000000", "n1")
    assert signature("b", "a", "c") == signature("c", "b", "a")
    given = sign(TOKEN, "1700000000", "n1")
    assert signature_ok(given.upper(), TOKEN, "1700000000", "n1")
    assert not signature_ok(given, TOKEN, "1700000001", "n1")
    assert not signature_ok("", TOKEN, "1700000000", "n1")


@pytest.mark.parametrize("key", ["A" * 42, "A" * 44, "A" * 42 + "!", ""])
def test_an_encoding_aes_key_is_43_letters_and_digits(key: str) -> None:
    with pytest.raises(ValueError, match="EncodingAESKey"):
        aes_key(key)


# --- XML ------------------------------------------------------------------------------------


def test_xml_with_a_dtd_or_another_root_or_encoding_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="DTD"):
        parse_xml(b'<!DOCTYPE x [<!ENTITY e "e">]><xml><A>&e;</A></xml>')
    with pytest.raises(EnvelopeError, match="root"):
        parse_xml(b"<message><A>x</A></message>")
    with pytest.raises(EnvelopeError, match="UTF-8"):
        parse_xml("<xml><A>停</A></xml>".encode("utf-16"))
    declared = '<?xml version="1.0" encoding="UTF-16"?><xml><A>停电</A></xml>'.encode()
    assert parse_xml(declared) == {"A": "停电"}  # read as UTF-8, whatever it declares


def test_replies_survive_cdata_breakers_and_drop_what_xml_cannot_carry() -> None:
    text = "a]]>b <c> & \x07d"
    document = render_xml({"Content": text, "CreateTime": 42})
    root = ET.fromstring(document)
    assert root.findtext("Content") == "a]]>b <c> & d"
    assert root.findtext("CreateTime") == "42"


# --- reading messages -----------------------------------------------------------------------


def _message(**fields: str) -> dict[str, str]:
    return {"FromUserName": "oUser1", "ToUserName": "gh_1", "CreateTime": "1796600000", **fields}


def test_every_kind_of_message_is_routed_answered_or_ignored() -> None:
    def action(**fields: str) -> Route | Notice | Ignore:
        return classify(read_message(_message(**fields)), CONFIG)

    text = action(MsgType="text", Content="停电了", MsgId="101")
    assert isinstance(text, Route)
    assert (text.inbound.text, text.inbound.external_id, text.trusted) == ("停电了", "101", False)
    voice = action(MsgType="voice", MediaId="m", Recognition="没电了", MsgId="102")
    assert isinstance(voice, Route)
    assert voice.inbound.text == "没电了"
    assert voice.inbound.attachments[0].kind == "voice"
    image = action(MsgType="image", PicUrl="http://x", MediaId="m", MsgId="103")
    assert isinstance(image, Route)
    assert (image.inbound.text, image.inbound.attachments[0].kind) == ("", "photo")
    click = action(MsgType="event", Event="CLICK", EventKey="BILL")
    assert isinstance(click, Route)
    assert (click.inbound.text, click.trusted) == ("/query_bill", True)
    assert click.inbound.external_id == "ev:1796600000:click:BILL"
    subscribe = action(MsgType="event", Event="subscribe", EventKey="qrscene_1")
    assert isinstance(subscribe, Route)
    assert subscribe.inbound.text == CONFIG.subscribe_text.zh
    assert isinstance(action(MsgType="event", Event="unsubscribe"), Ignore)
    assert isinstance(action(MsgType="event", Event="LOCATION", Latitude="30"), Ignore)
    assert isinstance(action(MsgType="location", Location_X="0", Location_Y="0"), Notice)
    assert isinstance(action(MsgType="hologram"), Notice)


@pytest.mark.parametrize(
    "fields",
    [
        {"MsgType": "text", "CreateTime": "1"},
        {"FromUserName": "o 1", "MsgType": "text", "CreateTime": "1"},
        {"FromUserName": "o1", "CreateTime": "1"},
        {"FromUserName": "o1", "MsgType": "text", "CreateTime": "-1"},
        {"FromUserName": "o1", "MsgType": "text", "CreateTime": "1" * 13},
    ],
)
def test_fields_that_are_no_message_are_refused(fields: dict[str, str]) -> None:
    with pytest.raises(NotAMessage):
        read_message(fields)


def test_a_long_event_key_still_makes_a_short_redelivery_key() -> None:
    message = read_message(_message(MsgType="event", Event="VIEW", EventKey="https://" + "x" * 900))
    assert len(message.key) <= 64


# --- buttons --------------------------------------------------------------------------------

BUTTONS = (Button("查本月", "/query_bill"), Button("转人工", "/request_human"))


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("2", 2),
        ("２", 2),
        (" 2 ", 2),
        ("2.", 2),
        ("2号", 2),
        ("12", 12),
        ("二", None),
        ("2分钟", None),
    ],
)
def test_a_typed_choice_is_a_number_of_one_or_two_digits(typed: str, number: int | None) -> None:
    assert choice_of(typed) == number


def test_a_digit_means_the_newest_buttons_since_the_customer_last_wrote() -> None:
    history = [
        TranscriptEntry("in", "查电费"),
        TranscriptEntry("out", "请选择", BUTTONS),
        TranscriptEntry("out", "【微信】一条给员工的说明"),
    ]
    assert offered_buttons(history) == BUTTONS
    assert chosen_payload(history, 2) == "/request_human"
    assert chosen_payload(history, 3) is None
    assert chosen_payload([*history, TranscriptEntry("in", "算了")], 1) is None


def test_replies_show_their_buttons_numbered_in_the_customers_language() -> None:
    intro = Label("请回复数字选择：", "Reply with a number:")
    assert reply_text(Reply("请选择", BUTTONS), intro) == (
        "请选择\n\n请回复数字选择：\n1. 查本月\n2. 转人工"
    )
    english = reply_text(Reply("How can I help you today?", BUTTONS[:1]), intro)
    assert english.endswith("Reply with a number:\n1. 查本月")
    scale = tuple(Button(str(n), f"/rate{n}") for n in range(1, 4))
    assert reply_text(Reply("打分", scale), intro).endswith("\n1 / 2 / 3")
    assert reply_text(Reply("看图", image="https://x/y.png"), intro) == "看图\n\nhttps://x/y.png"


def test_long_texts_are_cut_into_wechat_sized_pieces_at_line_breaks() -> None:
    text = "\n".join(f"第{n}行：" + "电" * 40 for n in range(100))
    pieces = split_bytes(text, 2000)
    assert all(len(p.encode()) <= 2000 for p in pieces)
    assert "\n".join(pieces) == text
    assert all(p.startswith("第") for p in pieces)


# --- passive slots --------------------------------------------------------------------------


async def test_a_waiting_request_takes_replies_until_it_is_full() -> None:
    slots = PassiveSlots(limit=30)
    slot = slots.open("o1")
    assert await slots.offer("o1", "一二三")
    assert not await slots.offer("o2", "别人的")  # no request of that chat waits
    sending = asyncio.create_task(slots.offer("o1", "四" * 20))  # does not fit: seals it
    await asyncio.sleep(0.05)
    assert slot.sealed.is_set()
    assert not sending.done()  # it waits for the sealed request to answer first
    assert slots.take(slot) == "一二三"
    slots.close(slot)
    assert await sending is False


# --- configuration --------------------------------------------------------------------------


def test_the_shipped_menu_is_wechats_shape() -> None:
    menu = CONFIG.menu.as_json()
    assert [b["name"] for b in menu["button"]] == ["报修", "查电费", "办业务"]
    assert menu["button"][0] == {"type": "click", "name": "报修", "key": "REPAIR"}
    assert CONFIG.menu.clicks["HUMAN"] == "/request_human"


@pytest.mark.parametrize(
    ("menu", "wrong"),
    [
        ([{"name": f"b{n}", "key": f"K{n}", "send": "x"} for n in range(4)], "1 to 3 buttons"),
        ([{"name": "报修报修报修", "key": "K", "send": "x"}], "16 bytes"),
        (
            [{"name": "a", "key": "K", "send": "x"}, {"name": "b", "key": "K", "send": "y"}],
            "key no",
        ),
        (
            [{"name": "a", "sub": [{"name": "b", "key": f"K{n}", "send": "x"} for n in range(6)]}],
            "1 to 5",
        ),
        ([{"name": "a", "url": "ftp://x"}], "http"),
        ([{"name": "a", "key": "bad key", "send": "x"}], "characters"),
    ],
)
def test_a_menu_wechat_would_refuse_stops_start_up(menu: list[object], wrong: str) -> None:
    with pytest.raises(ConfigError, match=wrong):
        load_menu(Node(Path("wechat.yml"), "menu", menu))


def test_a_placeholder_typo_in_the_configuration_stops_start_up(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    shutil.copytree(default_conf_dir(), conf)
    path = conf / "wechat.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("（{reason}），已改发", "（{reasn}），已改发"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notes\.template_sent"):
        load_wechat_config(conf)


@pytest.mark.parametrize(
    ("shipped", "changed", "named"),
    [
        ("  45011: 60\n", "", r"retry_after_seconds: expected a wait in seconds for each of"),
        ("  45009: 3600\n", "  45009: 0\n", r"retry_after_seconds\.45009: expected a number"),
        ("  45009: 3600\n", "  45009: 3600\n  45015: 60\n", r"retry_after_seconds: expected"),
    ],
)
def test_a_wait_for_each_of_wechats_rate_limits_and_only_those(
    tmp_path: Path, shipped: str, changed: str, named: str
) -> None:
    assert CONFIG.retry_after == {45047: 60, 45011: 60, 45009: 3600}
    conf = tmp_path / "conf"
    shutil.copytree(default_conf_dir(), conf)
    path = conf / "wechat.yml"
    text = path.read_text(encoding="utf-8")
    assert text.count(shipped) == 1
    path.write_text(text.replace(shipped, changed), encoding="utf-8")
    with pytest.raises(ConfigError, match=named):
        load_wechat_config(conf)


def test_the_secrets_are_checked_with_the_variable_named() -> None:
    good = GatewaySettings(
        wechat_app_id=APP_ID,
        wechat_app_secret="s3cret",
        wechat_token=TOKEN,
        wechat_encoding_aes_key=AES_KEY,
    )
    assert check_secrets(good, "safe").encoding_aes_key == AES_KEY
    assert check_secrets(dataclasses.replace(good, wechat_encoding_aes_key=None), "plaintext")
    for change, variable in [
        ({"wechat_encoding_aes_key": None}, "WECHAT_ENCODING_AES_KEY"),
        ({"wechat_encoding_aes_key": "x" * 43 + "!"}, "WECHAT_ENCODING_AES_KEY"),
        ({"wechat_token": "a b"}, "WECHAT_TOKEN"),
        ({"wechat_app_secret": None}, "WECHAT_APP_SECRET"),
        ({"wechat_app_id": "x"}, "WECHAT_APP_ID"),
    ]:
        with pytest.raises(WeChatConfigError, match=variable):
            check_secrets(dataclasses.replace(good, **change), "safe")


def test_secrets_without_the_app_id_are_a_configuration_error() -> None:
    from bot.settings import ConfigError as SettingsError

    with pytest.raises(SettingsError, match="WECHAT_APP_ID"):
        GatewaySettings.from_env({"WECHAT_TOKEN": TOKEN})
    assert GatewaySettings.from_env({"WECHAT_APP_ID": APP_ID}).wechat_app_id == APP_ID

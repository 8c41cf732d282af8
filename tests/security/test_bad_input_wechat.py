"""Bad input on the WeChat channel's URL, the counterpart of test_bad_input.py's Telegram and
JSON cases: the real gateway (create_app with the web chat and WeChat in safe mode) on SQLite
and PostgreSQL, WeChat's push side of tests/fakes/wechat_server.py.

Every forged or broken request is refused with a 4xx (a wrong signature or msg_signature 403,
a body that is not a WeChat message 400, a huge one 413) and stores nothing (every table's row
count the same before and after); a message type WeChat never told us about is answered
politely and stores nothing; hostile texts WeChat can carry are stored as text and answered,
never obeyed. After each group the gateway still answers a customer.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

import aiohttp
import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.channels.wechat.envelope import MAX_FIELDS
from tests.fakes.gateway import eventually, row_counts
from tests.fakes.loopback import free_port, running
from tests.fakes.rasa import FakeRasa, fake_rasa_server
from tests.fakes.wechat_api import FakeWeChat
from tests.fakes.wechat_gateway import wechat_settings
from tests.fakes.wechat_server import ACCOUNT, AES_KEY, TOKEN, Seal, WeChatPush, sign, to_xml
from tests.security.test_bad_input import HOSTILE_TEXTS, MALFORMED_BODIES

pytestmark = pytest.mark.slow

OPENID: Final = "oMallory0123456789abcdefghij"
BIG: Final = 64 * 1024
"""GatewaySettings.max_body_bytes (the default)."""


def _wrong_queries(stamp: str, nonce: str) -> list[dict[str, str]]:
    right = sign(TOKEN, stamp, nonce)
    base = {"timestamp": stamp, "nonce": nonce}
    return [
        base,
        {**base, "signature": ""},
        {**base, "signature": sign("wrongToken", stamp, nonce)},
        {**base, "signature": right[:-1]},
        {**base, "signature": right + "0"},
        {**base, "signature": sign(TOKEN, str(int(stamp) + 1), nonce)},
        {"timestamp": stamp, "signature": right},
        {"nonce": nonce, "signature": right},
        {**base, "signature": "' OR 1=1 --"},
    ]


BROKEN_MESSAGES: Final = (
    "<xml></xml>",
    "<xml><ToUserName>gh</ToUserName></xml>",
    "<xml><FromUserName>o1</FromUserName><CreateTime>1</CreateTime></xml>",
    "<xml><FromUserName>o 1</FromUserName><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>",
    "<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType><CreateTime>x</CreateTime></xml>",
    "<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType><CreateTime>99999999999999</CreateTime></xml>",
    "<message><FromUserName>o1</FromUserName></message>",
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    "<xml><FromUserName>&b;</FromUserName></xml>",
    '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>',
    "<xml>" + "".join(f"<F{n}>x</F{n}>" for n in range(MAX_FIELDS + 1)) + "</xml>",
    "<xml>" + "<a>" * 5_000 + "</a>" * 5_000 + "</xml>",
)
"""Bodies, or decrypted messages, that are no WeChat message (each signed correctly)."""


@dataclass
class Stack:
    rasa: FakeRasa
    wechat: FakeWeChat
    push: WeChatPush
    factory: sessionmaker[Session]
    problems: list[str] = field(default_factory=list)
    probes: int = 0

    def rows(self) -> dict[str, int]:
        return row_counts(self.factory)

    async def probe(self, where: str, query: dict[str, str], body: bytes, expect: int) -> None:
        """One request that must be refused with `expect` and change no row."""
        before = self.rows()
        answer = await self.push.raw(query, body)
        self.probes += 1
        if answer.status != expect:
            self.problems.append(f"{where}: status {answer.status}, expected {expect}")
        grown = {t: n - before[t] for t, n in self.rows().items() if n != before[t]}
        if grown:
            self.problems.append(f"{where}: refused, yet rows changed: {grown}")

    async def still_answers(self) -> None:
        answer = await self.push.post(self.push.text("oCustomerAfterTheAttack01", "我家停电了"))
        assert answer.text == "收到：我家停电了"

    def verdict(self, minimum: int) -> None:
        assert not self.problems, "\n".join(self.problems[:40])
        assert self.probes >= minimum


@pytest.fixture
async def stack(db_url: str, session_factory: sessionmaker[Session]) -> AsyncIterator[Stack]:
    async with fake_rasa_server() as rasa, running(FakeWeChat()) as fake:
        app = create_app(wechat_settings(rasa, db_url, fake))  # web chat and WeChat (safe mode)
        runner = aiohttp.web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            push = WeChatPush(f"http://127.0.0.1:{port}/wechat", fake, app_id=fake.app_id)
            yield Stack(rasa, fake, push, session_factory)
        finally:
            await runner.cleanup()


def _stamp() -> tuple[str, str]:
    return str(int(time.time())), "n0nce42"


async def test_wrong_signatures_are_refused_and_nothing_is_stored(stack: Stack) -> None:
    _, body = stack.push.signed(to_xml(stack.push.text(OPENID, "停电了")))
    stamp, nonce = _stamp()
    queries = _wrong_queries(stamp, nonce)
    for n, query in enumerate(queries):
        aes = {"encrypt_type": "aes", "msg_signature": "0" * 40}
        await stack.probe(f"signature case {n}", {**query, **aes}, body.encode(), 403)
    async with (
        aiohttp.ClientSession() as http,
        http.get(stack.push.url, params={**queries[2], "echostr": "42"}) as verify,
    ):
        assert verify.status == 403
    await stack.still_answers()
    stack.verdict(len(queries))


async def test_encrypted_messages_that_do_not_open_are_refused(stack: Stack) -> None:
    push = stack.push
    xml = to_xml(push.text(OPENID, "停电了"))
    query, body = push.signed(xml)
    stamp, nonce = query["timestamp"], query["nonce"]
    other_app = Seal(AES_KEY, "wxsomeoneelse0000").seal(xml)
    other_key = Seal("A" * 43, push.app_id).seal(xml)
    cases: list[tuple[str, dict[str, str], str, int]] = [
        ("wrong msg_signature", {**query, "msg_signature": sign("x", stamp, nonce)}, body, 403),
        ("no encrypt_type in safe mode", _plain(query), xml, 400),
        ("sealed for another AppID", *_sealed(query, other_app), 400),
        ("sealed with another key", *_sealed(query, other_key), 400),
        ("not base64", *_sealed(query, "%%%not base64%%%"), 400),
        ("not whole blocks", *_sealed(query, "QUJD"), 400),
    ]
    for where, case_query, case_body, expect in cases:
        await stack.probe(where, case_query, case_body.encode(), expect)
    await stack.still_answers()
    stack.verdict(len(cases))


def _plain(query: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}


def _sealed(query: dict[str, str], sealed: str) -> tuple[dict[str, str], str]:
    """A query and body carrying `sealed` with a right msg_signature (so the seal is tried)."""
    signed = sign(TOKEN, query["timestamp"], query["nonce"], sealed)
    return {**query, "msg_signature": signed}, to_xml({"ToUserName": ACCOUNT, "Encrypt": sealed})


async def test_bodies_that_are_no_wechat_message_are_refused(stack: Stack) -> None:
    push = stack.push
    for n, body in enumerate(MALFORMED_BODIES):  # the outer envelope is not even XML
        query, _ = push.signed("<xml/>")
        await stack.probe(f"malformed body {n}", query, body, 400)
    for n, message in enumerate(BROKEN_MESSAGES):  # sealed correctly, broken inside
        query, body = push.signed(message)
        await stack.probe(f"broken message {n}", query, body.encode(), 400)
    for n, message in enumerate(BROKEN_MESSAGES):  # and as the outer body itself
        query, _ = push.signed("<xml/>")
        await stack.probe(f"broken envelope {n}", query, message.encode(), 400)
    query, _ = push.signed("<xml/>")
    await stack.probe("huge body", query, b"<xml>" + b"x" * BIG + b"</xml>", 413)
    await stack.still_answers()
    stack.verdict(len(MALFORMED_BODIES) + 2 * len(BROKEN_MESSAGES) + 1)


async def test_unknown_kinds_are_answered_politely_and_not_stored(stack: Stack) -> None:
    push = stack.push
    kinds = ["hologram", "miniprogrampage", "", "TEXT2", "<script>", "event\x01"]
    for kind in kinds:
        before = stack.rows()
        fields = push.fields(OPENID, kind or "x", Content="x")
        if not kind:
            fields.pop("MsgType")
        answer = await push.post(fields)
        stack.probes += 1
        if answer.status == 200 and not kind:
            stack.problems.append("a message without MsgType was accepted")
        if answer.status == 200 and kind and "暂时无法处理这类消息" not in (answer.text or ""):
            stack.problems.append(f"kind {kind!r}: answered {answer.body[:80]!r}")
        if stack.rows() != before:
            stack.problems.append(f"kind {kind!r}: rows changed")
    assert stack.rasa.turns == []
    stack.verdict(len(kinds))


async def test_hostile_texts_are_stored_as_text_and_never_obeyed(stack: Stack) -> None:
    push = stack.push
    carried = [t for t in HOSTILE_TEXTS if _xml_can_carry(t)]
    later: list[str] = []
    for n, text in enumerate(carried):
        openid = f"oHostile{n:04d}abcdefghijkl"
        answer = await push.post(push.text(openid, text))
        stack.probes += 1
        if answer.status != 200:
            stack.problems.append(f"text {n} {text[:30]!r}: {answer.status} {answer.body[:60]!r}")
        elif not answer.text:  # too long for one message: as customer-service messages
            later.append(openid)
    await eventually(lambda: all(stack.wechat.texts_to(openid) for openid in later))
    said = stack.rasa.texts()
    assert not [t for t in said if t.startswith("/")], said  # no command reached Rasa
    assert len(carried) >= 15
    stack.verdict(len(carried))


def _xml_can_carry(text: str) -> bool:
    """Whether WeChat could post the text at all (XML 1.0 has no place for most control
    characters or lone surrogates: such bodies are refused above, as malformed)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 32 and c not in "\t\n\r" for c in text)

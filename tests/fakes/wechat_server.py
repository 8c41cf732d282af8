"""WeChat's servers posting an Official Account's messages to its server URL, as WeChat does,
written from WeChat's documentation (接收普通消息, 接收事件推送, 消息加解密说明) apart from the
channel's code:

- every request signed: `signature` = SHA-1 of the Token, timestamp and nonce, sorted;
- plaintext mode posts the XML; safe mode posts `<xml><ToUserName/><Encrypt/></xml>` with
  `encrypt_type=aes` and `msg_signature` (SHA-1 of Token, timestamp, nonce and Encrypt), the
  message sealed with AES-256-CBC (key = base64(EncodingAESKey + "="), IV = its first 16
  bytes, PKCS#7 to 32 bytes, plaintext = 16 random bytes + length + XML + AppID), and expects
  the reply sealed the same way, which `Answer` opens (checking its MsgSignature and AppID);
- `deliver` behaves like WeChat when the answer is slow: it gives the request up after
  `retry_after` seconds (WeChat: 5) and posts the same message again, three tries in all;
- each message makes the customer-service window open on the fake API (`FakeWeChat.interacted`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.fakes.wechat_api import FakeWeChat

TOKEN = "wxTestToken2026"
AES_KEY = "kWxPqR7sT2uV9wXyZ0aB1cD3eF4gH5iJ6kL8mN0oP2q"
ACCOUNT = "gh_3f1c2e9a8b7d"
"""The account's original id (ToUserName of what customers send)."""
_ids = count(24_000_000_000_000_000)


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def to_xml(fields: dict[str, Any]) -> str:
    inner = "".join(
        f"<{k}>{v if isinstance(v, int) else _cdata(str(v))}</{k}>" for k, v in fields.items()
    )
    return f"<xml>{inner}</xml>"


class Seal:
    """WeChat's side of safe mode for one account."""

    def __init__(self, aes_key: str, app_id: str) -> None:
        self.key = base64.b64decode(aes_key + "=")
        self.app_id = app_id.encode()

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def seal(self, xml: str, *, app_id: bytes | None = None) -> str:
        plain = os.urandom(16) + struct.pack(">I", len(xml.encode())) + xml.encode()
        plain += self.app_id if app_id is None else app_id
        pad = 32 - len(plain) % 32
        encryptor = self._cipher().encryptor()
        return base64.b64encode(
            encryptor.update(plain + bytes([pad] * pad)) + encryptor.finalize()
        ).decode()

    def open(self, sealed: str) -> str:
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(base64.b64decode(sealed)) + decryptor.finalize()
        plain = plain[: -plain[-1]]
        (length,) = struct.unpack(">I", plain[16:20])
        assert plain[20 + length :] == self.app_id, "the reply was sealed for another AppID"
        return plain[20 : 20 + length].decode()


@dataclass
class Answer:
    status: int
    body: str
    tries: int = 1
    reply: dict[str, str] | None = None
    """The passive reply's fields (opened in safe mode), None for "success" or an error."""

    @property
    def text(self) -> str | None:
        return self.reply.get("Content") if self.reply else None


@dataclass
class WeChatPush:
    """Posts messages to the gateway's WeChat URL (`url`, e.g. http://127.0.0.1:8080/wechat)."""

    url: str
    api: FakeWeChat | None = None
    token: str = TOKEN
    mode: str = "safe"
    aes_key: str = AES_KEY
    app_id: str = "wx51fa4e0cd2b7a913"
    retry_after: float = 5.0
    posts: list[dict[str, str]] = field(default_factory=list)

    # --- messages as WeChat writes them ----------------------------------------------------

    def fields(self, openid: str, kind: str, **extra: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "ToUserName": ACCOUNT,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": kind,
        }
        if kind != "event":
            extra.setdefault("MsgId", next(_ids))
        return {**base, **extra}

    def text(self, openid: str, content: str, **extra: Any) -> dict[str, Any]:
        return self.fields(openid, "text", Content=content, **extra)

    def voice(self, openid: str, recognition: str | None) -> dict[str, Any]:
        extra = {"MediaId": "media-voice-1", "Format": "amr"}
        if recognition is not None:
            extra["Recognition"] = recognition
        return self.fields(openid, "voice", **extra)

    def location(self, openid: str, lat: float, lon: float, label: str = "") -> dict[str, Any]:
        return self.fields(
            openid, "location", Location_X=str(lat), Location_Y=str(lon), Scale=15, Label=label
        )

    def event(self, openid: str, event: str, key: str = "", **extra: Any) -> dict[str, Any]:
        return self.fields(openid, "event", Event=event, EventKey=key, **extra)

    # --- posting ----------------------------------------------------------------------------

    def signed(self, xml: str, *, wrong: bool = False) -> tuple[dict[str, str], str]:
        """(query, body) of a request carrying `xml` in the push's security mode."""
        stamp, nonce = str(int(time.time())), secrets.token_hex(5)
        query = {"signature": sign(self.token, stamp, nonce), "timestamp": stamp, "nonce": nonce}
        if wrong:
            query["signature"] = sign("not-the-token", stamp, nonce)
        if self.mode == "plaintext":
            return query, xml
        sealed = Seal(self.aes_key, self.app_id).seal(xml)
        query.update(encrypt_type="aes", msg_signature=sign(self.token, stamp, nonce, sealed))
        return query, to_xml({"ToUserName": ACCOUNT, "Encrypt": sealed})

    async def post(self, fields: dict[str, Any], *, seconds: float = 30.0) -> Answer:
        """One POST of a message (the customer's window opens on the fake API)."""
        if self.api is not None and fields.get("Event") != "unsubscribe":
            self.api.interacted(str(fields["FromUserName"]))
        self.posts.append({k: str(v) for k, v in fields.items()})
        query, body = self.signed(to_xml(fields))
        return await self.raw(query, body.encode(), seconds=seconds)

    async def raw(self, query: dict[str, str], body: bytes, *, seconds: float = 30.0) -> Answer:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session,
            session.post(self.url, params=query, data=body) as response,
        ):
            text = await response.text()
        return Answer(
            response.status, text, reply=self._open(text) if response.status == 200 else None
        )

    async def deliver(self, fields: dict[str, Any], *, tries: int = 3) -> Answer:
        """Like WeChat: no answer within `retry_after` seconds, the same message again."""
        for attempt in range(1, tries + 1):
            try:
                answer = await asyncio.wait_for(self.post(fields), self.retry_after)
            except TimeoutError:
                continue  # WeChat closes the connection and tries again
            answer.tries = attempt
            return answer
        return Answer(0, "", tries=tries)

    def _open(self, text: str) -> dict[str, str] | None:
        if not text.strip().startswith("<xml>"):
            return None
        fields = {child.tag: child.text or "" for child in ET.fromstring(text)}
        if "Encrypt" not in fields:
            return fields
        expected = sign(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
        assert fields["MsgSignature"] == expected, "the reply's MsgSignature is wrong"
        inner = Seal(self.aes_key, self.app_id).open(fields["Encrypt"])
        return {child.tag: child.text or "" for child in ET.fromstring(inner)}

"""The XML WeChat posts and expects back, opened and sealed as the account's security mode says.

WeChat's XML is flat: `<xml><ToUserName>…</ToUserName>…</xml>`. The body is read with the
standard library's parser after refusing any DTD (`<!DOCTYPE`, `<!ENTITY`): WeChat never
sends one, and a DTD is how entity expansion attacks (billion laughs, external entities)
get in. Replies are written with CDATA sections, as WeChat's own examples are.

Security modes (conf/wechat.yml `security_mode`): `plaintext` reads the fields as they are;
`safe` requires `encrypt_type=aes`, checks `msg_signature` over the `Encrypt` field and reads
the decrypted XML; `compatible` accepts both and answers in the form it was asked in.
"""

from __future__ import annotations

import re
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from bot.channels.wechat.crypto import CryptoError, MessageCrypto, signature, signature_ok

_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_FIELDS = 64


class EnvelopeError(ValueError):
    """The body is not a WeChat message (malformed, or not in the account's security mode)."""


class SignatureError(EnvelopeError):
    """The encrypted message's msg_signature is wrong."""


def parse_xml(body: bytes) -> dict[str, str]:
    """The fields of a flat WeChat XML body (nested elements are left out)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvelopeError("the body is not UTF-8") from None
    if _DTD.search(text):
        raise EnvelopeError("a DTD in the body")
    parser = ET.XMLParser(encoding="utf-8")  # whatever the body declares: checked as UTF-8
    try:
        parser.feed(body)
        root = parser.close()
    except (ET.ParseError, ValueError) as exc:
        raise EnvelopeError(f"malformed XML: {exc}") from None
    if root.tag != "xml":
        raise EnvelopeError(f"root element <{root.tag[:40]}>, not <xml>")
    children = list(root)
    if len(children) > MAX_FIELDS:
        raise EnvelopeError("too many fields")
    return {child.tag: (child.text or "") for child in children if len(child) == 0}


def cdata(text: str) -> str:
    """`text` as CDATA (a "]]>" inside split across two sections; characters XML forbids
    removed)."""
    clean = _XML_UNSAFE.sub("", text)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_xml(fields: Mapping[str, str | int]) -> str:
    """A flat WeChat XML document: texts as CDATA, numbers as they are."""
    inner = "".join(
        f"<{name}>{value if isinstance(value, int) else cdata(value)}</{name}>"
        for name, value in fields.items()
    )
    return f"<xml>{inner}</xml>"


@dataclass(frozen=True)
class Opened:
    fields: dict[str, str]
    encrypted: bool
    """Whether the request was encrypted: the reply is then encrypted too."""


class Envelopes:
    """Opens requests and seals replies for one account in its security mode."""

    def __init__(self, mode: str, token: str, crypto: MessageCrypto | None) -> None:
        if mode != "plaintext" and crypto is None:
            raise ValueError(f"security mode {mode} needs the EncodingAESKey")
        self.mode = mode
        self._token = token
        self._crypto = crypto

    def open(self, body: bytes, query: Mapping[str, str]) -> Opened:
        """The message's fields (its `signature` was checked by the caller)."""
        wants_aes = query.get("encrypt_type", "").lower() == "aes"
        if self.mode == "safe" and not wants_aes:
            raise EnvelopeError("a plaintext message while the account is in safe mode")
        fields = parse_xml(body)
        if not wants_aes or self.mode == "plaintext" or self._crypto is None:
            return Opened(fields, encrypted=False)
        encrypted = fields.get("Encrypt", "")
        given = query.get("msg_signature", "")
        stamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        if not encrypted:
            raise EnvelopeError("encrypt_type=aes without an Encrypt field")
        if not signature_ok(given, self._token, stamp, nonce, encrypted):
            raise SignatureError("wrong msg_signature")
        try:
            inner = self._crypto.decrypt(encrypted)
        except CryptoError as exc:
            raise EnvelopeError(f"cannot decrypt: {exc}") from None
        return Opened(parse_xml(inner), encrypted=True)

    def seal(self, reply_xml: str, encrypted: bool) -> str:
        """The reply as WeChat expects it: as it is, or encrypted with its msg_signature."""
        if not encrypted or self._crypto is None:
            return reply_xml
        sealed = self._crypto.encrypt(reply_xml.encode("utf-8"))
        stamp, nonce = str(int(time.time())), secrets.token_hex(8)
        return render_xml(
            {
                "Encrypt": sealed,
                "MsgSignature": signature(self._token, stamp, nonce, sealed),
                "TimeStamp": int(stamp),
                "Nonce": nonce,
            }
        )

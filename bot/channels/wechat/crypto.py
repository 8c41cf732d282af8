"""WeChat's message security, as its documentation (消息加解密说明) describes it, on the
`cryptography` package:

- signatures: SHA-1 of the parts (the Token, the timestamp, the nonce and, in safe mode, the
  encrypted message) sorted and joined: `signature` on every request, `msg_signature` on an
  encrypted one and on the encrypted reply;
- safe mode: AES-256-CBC with the key `base64(EncodingAESKey + "=")` (32 bytes) and its first
  16 bytes as the IV, PKCS#7 padding to 32-byte blocks; the plaintext is 16 random bytes, the
  message's length (4 bytes, big-endian), the message, and the AppID (checked on the way in).

Why not wechatpy: it installs and runs on Python 3.11, but only its crypto fits this gateway
(its client is synchronous `requests`, its token cache is not our database); the crypto is
these few lines on `cryptography`, which the rest of the ecosystem keeps current.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
"""WeChat pads to 32 bytes (not AES's 16)."""
AES_KEY_CHARS = 43


class CryptoError(ValueError):
    """A message that cannot be decrypted, or that was sealed for another AppID."""


def signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 (hex) of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_ok(given: str, *parts: str) -> bool:
    """Whether `given` is the signature of the parts (compared in constant time)."""
    return hmac.compare_digest(given.strip().lower().encode(), signature(*parts).encode())


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey (ValueError when it is not one)."""
    if len(encoding_aes_key) != AES_KEY_CHARS or not encoding_aes_key.isalnum():
        raise ValueError(f"an EncodingAESKey is {AES_KEY_CHARS} letters and digits")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("the EncodingAESKey is not valid base64") from exc
    if len(key) != BLOCK:
        raise ValueError("the EncodingAESKey does not decode to 32 bytes")
    return key


class MessageCrypto:
    """Safe mode's envelope for one account."""

    def __init__(self, encoding_aes_key: str, app_id: str) -> None:
        self._key = aes_key(encoding_aes_key)
        self._app_id = app_id.encode("utf-8")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, message: bytes, *, random16: bytes | None = None) -> str:
        """The base64 `Encrypt` value of a message (a reply) from this account."""
        prefix = random16 if random16 is not None else os.urandom(16)
        plain = prefix + struct.pack(">I", len(message)) + message + self._app_id
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(sealed).decode("ascii")

    def decrypt(self, encrypted: str) -> bytes:
        """The message inside a base64 `Encrypt` value; CryptoError when it is not one sealed
        with this key for this AppID."""
        try:
            sealed = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("Encrypt is not base64") from exc
        if not sealed or len(sealed) % 16:
            raise CryptoError("Encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(sealed) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding: not sealed with this EncodingAESKey")
        content = plain[16:-pad]
        if len(content) < 4:
            raise CryptoError("too short")
        (length,) = struct.unpack(">I", content[:4])
        message, app_id = content[4 : 4 + length], content[4 + length :]
        if len(message) != length:
            raise CryptoError("the length does not match")
        if not hmac.compare_digest(app_id, self._app_id):
            raise CryptoError("sealed for another AppID")
        return message

"""Reply buttons → Telegram inline keyboards, and pressed buttons' callback data → payloads.

Telegram limits `callback_data` to 64 bytes, and the client sends back whatever the data
says, so a button's payload is carried in one of two forms:

- `p:<payload>`: the payload itself, when it fits and is harmless: plain text, or a bare
  intent such as `/affirm`. Survives restarts.
- `t:<token>`: a short random token for anything else (long payloads, and intents with
  entities such as `/inform{"area": "东山村"}`, which a forged callback must not be able to
  inject). Tokens live in a bounded in-memory map: after a restart, or once evicted, the button
  is stale and the customer is asked to type instead.

A few payloads with entities are constants the code names (`durable`): they carry no customer
data and do nothing harmful when forged, and their buttons must outlive the gateway that sent
them (the outage notices' unsubscribe button, pressed days later or on another replica). They
travel as `p:<payload>` too.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.messages import Button

MAX_CALLBACK_BYTES = 64
_DIRECT = "p:"
_TOKEN = "t:"
_BARE_INTENT = re.compile(r"/[A-Za-z][A-Za-z0-9_]{0,60}")
_ENTITY_SYNTAX = re.compile(r"[{}\[\]@]")


def _direct_allowed(payload: str) -> bool:
    if not payload or len((_DIRECT + payload).encode("utf-8")) > MAX_CALLBACK_BYTES:
        return False
    if payload.startswith("/"):
        return _BARE_INTENT.fullmatch(payload) is not None
    return _ENTITY_SYNTAX.search(payload) is None


class CallbackTokens:
    """Encodes button payloads into callback data (≤ 64 bytes) and back."""

    def __init__(self, capacity: int = 20_000, durable: Iterable[str] = ()) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self._durable = frozenset(durable)
        for payload in self._durable:
            if len((_DIRECT + payload).encode("utf-8")) > MAX_CALLBACK_BYTES:
                raise ValueError(f"a durable payload must fit in callback data: {payload!r}")
        self._capacity = capacity
        self._payloads: OrderedDict[str, str] = OrderedDict()
        self._tokens: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._payloads)

    def _direct(self, payload: str) -> bool:
        return payload in self._durable or _direct_allowed(payload)

    def encode(self, payload: str) -> str:
        if self._direct(payload):
            return _DIRECT + payload
        token = self._tokens.get(payload)
        if token is None:
            token = secrets.token_urlsafe(9)  # 12 characters, 72 random bits
            while token in self._payloads:
                token = secrets.token_urlsafe(9)
            self._tokens[payload] = token
            self._payloads[token] = payload
            while len(self._payloads) > self._capacity:
                _, evicted = self._payloads.popitem(last=False)
                self._tokens.pop(evicted, None)
        else:
            self._payloads.move_to_end(token)
        return _TOKEN + token

    def decode(self, data: str | None) -> str | None:
        """The payload of a pressed button, or None when the button is stale or unknown."""
        if not data:
            return None
        if data.startswith(_DIRECT):
            payload = data[len(_DIRECT) :]
            return payload if self._direct(payload) else None
        if data.startswith(_TOKEN):
            return self._payloads.get(data[len(_TOKEN) :])
        return None


def build_markup(buttons: Sequence[Button], tokens: CallbackTokens) -> InlineKeyboardMarkup | None:
    """One button per row; two per row when there are several short titles (e.g. 是 / 否)."""
    if not buttons:
        return None
    keys = [
        InlineKeyboardButton(
            text=b.title or b.payload or "…", callback_data=tokens.encode(b.payload)
        )
        for b in buttons
    ]
    per_row = 2 if len(keys) >= 2 and all(len(b.title) <= 8 for b in buttons) else 1
    rows = [keys[i : i + per_row] for i in range(0, len(keys), per_row)]
    return InlineKeyboardMarkup(rows)

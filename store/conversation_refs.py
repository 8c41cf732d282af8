"""How staff refer to a conversation without seeing its id.

A web chat's conversation id (`web:<uuid>`) is a bearer secret: whoever holds it can resume
that customer's chat and read its history. Staff therefore never see a conversation id in
full: the console shows `mask(conversation_id)` (e.g. `web:3f2a…9c1d`) and its routes take the
conversation's database id (`conversations.id`), which proves nothing by itself. Every channel
is treated alike (a Telegram chat id is no secret, but one rule is easier to check than two).
"""

from __future__ import annotations

from typing import Final

ELLIPSIS: Final = "…"
KEEP_MAX: Final = 4
"""At most this many characters are kept at each end of the chat id."""


def mask(conversation_id: str) -> str:
    """`<channel>:<head>…<tail>`: at most a quarter of the chat id is kept at each end (at
    most 4 characters), so at least half of it, and of a web chat's UUID 24 of 32 hex
    digits, stays hidden."""
    channel, colon, chat = conversation_id.partition(":")
    if not colon:
        channel, chat = "", conversation_id
    keep = min(KEEP_MAX, len(chat) // 4)
    shown = f"{chat[:keep]}{ELLIPSIS}{chat[-keep:]}" if keep else ELLIPSIS
    return f"{channel}:{shown}" if channel else shown

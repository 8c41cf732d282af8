"""Reply buttons on WeChat, which has none: a numbered list under the text that the customer
answers with a digit (or, in customer-service messages with `buttons: msgmenu`, WeChat's
tappable menu message, whose tap comes back as a text with `bizmsgmenuid`).

Which buttons a digit means is read from the transcript, not kept in memory (any replica may
receive the answer, after a restart too): the newest bot message with buttons since the
customer's last message. A digit outside that list, or with no list since, is just a digit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from bot.messages import Button, Reply, TranscriptEntry
from store.configuration.yamlfile import Label
from store.i18n import detect_language
from store.statuses import MessageDirection

_CHOICE = re.compile(r"\s*(\d{1,2})\s*[.。、号]?\s*")


def choice_of(text: str) -> int | None:
    """The number a customer typed as an answer ("2", "２", "2." …), else None."""
    match = _CHOICE.fullmatch(unicodedata.normalize("NFKC", text))
    return int(match.group(1)) if match else None


def offered_buttons(entries: Sequence[TranscriptEntry]) -> tuple[Button, ...]:
    """The buttons of the newest bot message with buttons since the customer last wrote."""
    for entry in reversed(entries):
        if entry.direction == MessageDirection.IN:
            return ()
        if entry.buttons:
            return entry.buttons
    return ()


def chosen_payload(entries: Sequence[TranscriptEntry], number: int) -> str | None:
    """The payload of button `number` (from 1) of the offered list, if there is one."""
    buttons = offered_buttons(entries)
    return buttons[number - 1].payload if 1 <= number <= len(buttons) else None


def _numbered(buttons: Sequence[Button]) -> str:
    titles = [b.title or b.payload for b in buttons]
    if all(title == str(n) for n, title in enumerate(titles, 1)):
        return " / ".join(titles)  # a scale (the survey's 1-5): the digits say it all
    return "\n".join(f"{n}. {title}" for n, title in enumerate(titles, 1))


def reply_text(reply: Reply, intro: Label) -> str:
    """A reply as one WeChat text: its text, the image's address, the numbered buttons."""
    parts = [reply.text.strip()] if reply.text.strip() else []
    if reply.image:
        parts.append(reply.image)
    if reply.buttons:
        language = detect_language(reply.text, "zh")
        head = intro.en if language == "en" else intro.zh
        parts.append(f"{head}\n{_numbered(reply.buttons)}")
    return "\n\n".join(parts)


def menu_message(reply: Reply) -> dict[str, Any]:
    """A reply with buttons as WeChat's msgmenu (customer-service messages only)."""
    items = [
        {"id": str(n), "content": (b.title or b.payload)[:40]}
        for n, b in enumerate(reply.buttons, 1)
    ]
    head = reply.text.strip() or " "
    return {
        "msgtype": "msgmenu",
        "msgmenu": {"head_content": head, "list": items, "tail_content": ""},
    }


def split_bytes(text: str, limit: int) -> list[str]:
    """WeChat-sized chunks (`limit` bytes of UTF-8), cut at a line break where possible."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest.encode("utf-8")) > limit:
        head = rest.encode("utf-8")[:limit].decode("utf-8", "ignore")
        cut = head.rfind("\n")
        if cut < len(head) // 2:
            cut = len(head)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks

"""Pure translations from Telegram objects to the gateway's message vocabulary.

Message contents are read from the Bot API JSON (`to_dict()`), not from python-telegram-bot's
attributes, so that newer or deprecated fields never raise warnings and unknown kinds of
content still map to an `other` attachment.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from telegram import Message, User
from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.commands import defuse, is_command
from bot.inbound import clean_text
from bot.messages import Attachment, AttachmentKind
from store.configuration.yamlfile import Label

# Bot API message fields that carry a customer's non-text content, in the order they are
# checked, and the attachment kind each becomes. `location` is handled before these (a venue
# carries a location too).
_CONTENT_KINDS: tuple[tuple[str, AttachmentKind], ...] = (
    ("voice", "voice"),
    ("audio", "audio"),
    ("photo", "photo"),
    ("sticker", "sticker"),
    ("video", "video"),
    ("video_note", "video"),
    ("animation", "video"),
    ("document", "document"),
    ("contact", "contact"),
)
_OTHER_CONTENT = (
    "dice",
    "poll",
    "game",
    "invoice",
    "story",
    "paid_media",
    "live_photo",
    "passport_data",
    "checklist",
)
_KEPT_FIELDS = frozenset(
    {
        "file_id",
        "file_unique_id",
        "duration",
        "mime_type",
        "file_name",
        "file_size",
        "width",
        "height",
        "emoji",
        "is_animated",
        "is_video",
        "title",
        "performer",
        "phone_number",
        "first_name",
        "last_name",
        "user_id",
    }
)
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@[A-Za-z0-9_]+)?(?:\s+.*)?", re.DOTALL)


def language_hint(user: User | None) -> str | None:
    """'en' for users whose Telegram is in English; otherwise no hint (Chinese is the default)."""
    code = (user.language_code or "") if user is not None else ""
    return "en" if code.lower().startswith("en") else None


def routed_text(text: str, commands: Mapping[str, Label], language: str | None) -> str:
    """The text to route for a typed message.

    Known commands (/start, also /start@bot and deep links /start <param>) become their
    configured text. Rasa reads a leading "/" as an intent with entities, which a customer must
    not be able to type, so every other text loses its leading slashes (bot/commands.py: also
    those behind spaces or control characters the router would remove).
    """
    stripped = clean_text(text)
    if not is_command(stripped):
        return stripped
    match = _COMMAND.fullmatch(stripped)
    if match is not None:
        label = commands.get(match.group(1).lower())
        if label is not None:
            return label.en if language == "en" else label.zh
    return defuse(stripped)


def location_of(message: Message) -> tuple[float, float, dict[str, Any]] | None:
    """(latitude, longitude, attachment data) of a shared location or venue."""
    raw = message.to_dict()
    location = raw.get("location")
    if not isinstance(location, dict):
        venue = raw.get("venue")
        location = venue.get("location") if isinstance(venue, dict) else None
    if not isinstance(location, dict):
        return None
    lat, lon = location.get("latitude"), location.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    data: dict[str, Any] = {"latitude": float(lat), "longitude": float(lon)}
    for key in ("horizontal_accuracy", "live_period"):
        if key in location:
            data[key] = location[key]
    venue = raw.get("venue")
    if isinstance(venue, dict):
        data["venue"] = {k: venue[k] for k in ("title", "address") if k in venue}
    return float(lat), float(lon), data


def _kept(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k in _KEPT_FIELDS}


def attachment_of(message: Message) -> Attachment | None:
    """The non-text content of a message (not a location), or None for a plain/service message."""
    raw = message.to_dict()
    for field, kind in _CONTENT_KINDS:
        value = raw.get(field)
        if not value:
            continue
        if field == "photo" and isinstance(value, list):
            value = value[-1]  # Telegram lists the sizes smallest first
        data = _kept(value)
        if field != kind:
            data["telegram_type"] = field
        return Attachment(kind, data)
    for field in _OTHER_CONTENT:
        if raw.get(field):
            return Attachment("other", {"telegram_type": field})
    return None


def update_kind(payload: Mapping[str, Any]) -> str:
    """The type of an update ('message', 'poll', ...) from its JSON, for logs."""
    kinds = [k for k in payload if k != "update_id"]
    return ",".join(kinds) or "empty"


MAX_TEXT = 4096


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Telegram-sized chunks, cut at a line break (or a space) where possible."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def retry_seconds(error: RetryAfter) -> float:
    """The wait a 429 asks for, in seconds (python-telegram-bot 22 warns on reading it as an
    int and will make it a timedelta: both are accepted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)

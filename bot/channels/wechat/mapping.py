"""WeChat's messages and events, read into the gateway's vocabulary: pure functions, no I/O.

Every message WeChat posts is one of:

- `Route`: a customer message for the router (text; voice with WeChat's speech recognition
  `Recognition` as its text, or without it a voice note the router answers with its polite
  request to type; a location near a served village, named like Telegram's; image, video,
  link, file: kept with their WeChat fields and answered by the router's non-text reply;
  following the account, as the configured greeting; a menu click, as what the button means);
- `Notice`: answered here, nothing stored (a location outside the service area, a kind of
  message WeChat has not told us about);
- `Ignore`: nothing to say (unfollowing, which is recorded; menu links; WeChat's own reports).

Redelivery keys (`Inbound.external_id`, unique per conversation, so per follower): WeChat's
`MsgId` for messages; for events, which have none, their `CreateTime` as WeChat advises
(FromUserName + CreateTime), with the event's name and key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from bot.channels.wechat.config import WeChatConfig
from bot.geo import nearest_place
from bot.messages import Attachment, AttachmentKind, Inbound
from store.configuration.yamlfile import Label

CHANNEL_NAME: Final = "wechat"
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_MEDIA_KINDS: Final[Mapping[str, AttachmentKind]] = {
    "image": "photo",
    "video": "video",
    "shortvideo": "video",
    "link": "other",
    "file": "document",
}
_KEPT: Final = frozenset(
    {"MediaId", "PicUrl", "Format", "ThumbMediaId", "Title", "Description", "Url", "FileKey"}
)
SUBSCRIBE_EVENTS: Final = frozenset({"subscribe"})


class NotAMessage(ValueError):
    """The fields lack what every WeChat message has (sender, type, time)."""


@dataclass(frozen=True)
class WeChatMessage:
    """One message or event as WeChat posted it (its XML fields)."""

    fields: Mapping[str, str]

    @property
    def openid(self) -> str:
        return self.fields["FromUserName"]

    @property
    def msg_type(self) -> str:
        return self.fields["MsgType"].strip().lower()

    @property
    def event(self) -> str:
        return self.fields.get("Event", "").strip()

    @property
    def created(self) -> int:
        return int(self.fields["CreateTime"])

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.created, UTC)

    @property
    def key(self) -> str:
        """The redelivery key: MsgId, or the event's time, name and key (two menu clicks in
        one second are two clicks; WeChat's retries repeat all three)."""
        msg_id = self.fields.get("MsgId", "").strip()
        if msg_id and self.msg_type != "event":
            return msg_id[:64]
        event_key = self.fields.get("EventKey", "").strip()
        if len(event_key) > 40 or not _OPENID.fullmatch(event_key or "-"):
            event_key = hashlib.sha1(event_key.encode("utf-8")).hexdigest()[:16]
        return f"ev:{self.created}:{self.event.lower()[:30]}:{event_key}"


def read_message(fields: Mapping[str, str]) -> WeChatMessage:
    """The message in the fields; NotAMessage when they are not one."""
    openid = fields.get("FromUserName", "").strip()
    if not _OPENID.fullmatch(openid):
        raise NotAMessage("FromUserName is missing or not an openid")
    if not fields.get("MsgType", "").strip():
        raise NotAMessage("MsgType is missing")
    created = fields.get("CreateTime", "").strip()
    if not created.isdigit() or len(created) > 12:
        raise NotAMessage("CreateTime is not a time")
    return WeChatMessage({**fields, "FromUserName": openid})


@dataclass(frozen=True)
class Route:
    inbound: Inbound
    trusted: bool = False
    """A menu click: its text comes from our configuration (an intent is allowed), not the
    customer; a typed text is screened like every channel's (bot/commands.py)."""


@dataclass(frozen=True)
class Notice:
    text: Label


@dataclass(frozen=True)
class Ignore:
    why: str


Action = Route | Notice | Ignore


def _inbound(
    message: WeChatMessage,
    text: str,
    attachments: tuple[Attachment, ...] = (),
    metadata: Mapping[str, Any] | None = None,
) -> Inbound:
    return Inbound(
        channel=CHANNEL_NAME,
        chat_id=message.openid,
        user_id=message.openid,
        text=text,
        external_id=message.key,
        attachments=attachments,
        metadata={"wechat_type": message.msg_type, **(metadata or {})},
    )


def _location(message: WeChatMessage, config: WeChatConfig) -> Action:
    """A shared location: the nearest served village (WeChat's coordinates are GCJ-02, a few
    hundred metres off WGS-84: well inside the matching radius)."""
    try:
        lat = float(message.fields["Location_X"])
        lon = float(message.fields["Location_Y"])
    except (KeyError, ValueError):
        return Notice(config.location_outside)
    match = nearest_place(lat, lon, config.places, config.location_radius_km)
    if match is None:
        return Notice(config.location_outside)
    place = match.place
    data = {
        "latitude": lat,
        "longitude": lon,
        "datum": "gcj02",
        "label": message.fields.get("Label", "")[:200],
        "area_code": place.code,
        "area": place.name,
        "distance_km": round(match.distance_km, 2),
    }
    return Route(_inbound(message, place.name, (Attachment("location", data),)))


def _event(message: WeChatMessage, config: WeChatConfig) -> Action:
    event = message.event.lower()
    if event in SUBSCRIBE_EVENTS:
        return Route(_inbound(message, config.subscribe_text.zh), trusted=True)
    if event == "click":
        meaning = config.menu.clicks.get(message.fields.get("EventKey", "").strip())
        if meaning is None:
            return Ignore("a click on a menu key the configuration does not have")
        return Route(_inbound(message, meaning), trusted=True)
    return Ignore(f"event {event[:40] or '(none)'}")


def classify(message: WeChatMessage, config: WeChatConfig) -> Action:
    """What to do with a message (unsubscribe is `Ignore`d here: the service records it)."""
    kind = message.msg_type
    fields = message.fields
    if kind == "text":
        menu_id = fields.get("bizmsgmenuid", "").strip()
        extra = {"wechat_menu_id": menu_id} if menu_id else {}
        return Route(_inbound(message, fields.get("Content", ""), metadata=extra))
    if kind == "voice":
        recognised = fields.get("Recognition", "").strip()
        data: dict[str, Any] = {k: v for k, v in fields.items() if k in _KEPT}
        data["recognised"] = bool(recognised)
        return Route(_inbound(message, recognised, (Attachment("voice", data),)))
    if kind == "location":
        return _location(message, config)
    if kind in _MEDIA_KINDS:
        media = {k: v[:500] for k, v in fields.items() if k in _KEPT}
        media["wechat_type"] = kind
        return Route(_inbound(message, "", (Attachment(_MEDIA_KINDS[kind], media),)))
    if kind == "event":
        return _event(message, config)
    return Notice(config.unsupported)

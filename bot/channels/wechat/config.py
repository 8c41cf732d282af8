"""The WeChat channel's options, texts, template and menu (conf/wechat.yml), and the areas'
coordinates a shared location is matched against (conf/areas.yml). Validated once at start-up:
a wrong value stops it with the file and key named."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.channels.wechat.account_menu import AccountMenu, load_menu
from bot.channels.wechat.api import DAILY_QUOTA, MINUTE_QUOTA, TOO_MANY
from bot.geo import DEFAULT_RADIUS_KM, Place, load_places
from store.config import default_conf_dir
from store.configuration.yamlfile import Label, Node, read_yaml

FILE_NAME = "wechat.yml"
SECURITY_MODES = ("plaintext", "compatible", "safe")
BUTTON_STYLES = ("numbered", "msgmenu")
RATE_LIMIT_CODES = (TOO_MANY, MINUTE_QUOTA, DAILY_QUOTA)
WECHAT_TEXT_LIMIT = 2048
"""Bytes of one text message WeChat takes."""


@dataclass(frozen=True)
class TemplateField:
    value: str
    """With {text} (the message) and {time} (station time)."""
    max_chars: int | None = None


@dataclass(frozen=True)
class Template:
    """The template message sent outside the customer-service window (`id` "": none)."""

    id: str = ""
    url: str = ""
    fields: Mapping[str, TemplateField] = field(default_factory=dict)


@dataclass(frozen=True)
class Notes:
    """Staff's notes in the transcript (Chinese): when a message went out as a template, did not
    go out, or the customer unfollowed the account; `reasons` by WeChat error code or cause."""

    template_sent: str
    not_sent: str
    unsubscribed: str
    reasons: Mapping[str, str]

    def reason(self, cause: str | int, hours: int) -> str:
        text = self.reasons.get(str(cause)) or self.reasons["other"]
        return text.format(hours=hours)


@dataclass(frozen=True)
class WeChatConfig:
    path: str
    security_mode: str
    passive_reply_seconds: float
    window_hours: int
    token_refresh_margin_seconds: float
    api_timeout_seconds: float
    max_text_bytes: int
    buttons: str
    subscribe_text: Label
    menu_intro: Label
    location_outside: Label
    unsupported: Label
    notes: Notes
    template: Template
    menu: AccountMenu
    timezone: ZoneInfo
    """The station's (conf/commitments.yml): {time} in template messages."""
    retry_after: Mapping[int, float]
    """Seconds to wait after each of WeChat's rate limits (bot/channels/wechat/limits.py)."""
    places: tuple[Place, ...] = ()
    location_radius_km: float = DEFAULT_RADIUS_KM


def _number(node: Node | None, default: float, low: float, high: float) -> float:
    if node is None:
        return default
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float) or not low < value <= high:
        node.fail(f"a number above {low:g}, at most {high:g}")
    return float(value)


def _placeholders(node: Node, allowed: frozenset[str]) -> str:
    """A text whose {placeholders} are all in `allowed` (a typo stops start-up)."""
    text = node.as_str()
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        node.fail("a text with well-formed {placeholders}")
    if not used <= allowed:
        offered = ", ".join("{" + p + "}" for p in sorted(allowed)) or "none"
        node.fail(f"a text using only the placeholders offered here ({offered})")
    return text


def _path(node: Node) -> str:
    path = node.as_str()
    if not path.startswith("/") or any(c in path for c in "?#{} "):
        node.fail("a path starting with / (no query, no spaces)")
    return path


def _notes(root: Node) -> Notes:
    notes = root["notes"]
    reasons = {
        key: _placeholders(value, frozenset({"hours"})) for key, value in root["reasons"].items()
    }
    if "other" not in reasons:
        root["reasons"]["other"]  # raises: names the missing key
    return Notes(
        template_sent=_placeholders(notes["template_sent"], frozenset({"reason"})),
        not_sent=_placeholders(notes["not_sent"], frozenset({"reason", "code"})),
        unsubscribed=_placeholders(notes["unsubscribed"], frozenset()),
        reasons=reasons,
    )


def _template(node: Node) -> Template:
    template_id = str(node.mapping().get("id") or "").strip()
    url = str(node.mapping().get("url") or "").strip()
    fields: dict[str, TemplateField] = {}
    if template_id:
        for name, spec in node["fields"].items():
            limit = spec.get("max_chars")
            value = _placeholders(spec["value"], frozenset({"text", "time"}))
            fields[name] = TemplateField(value, limit.as_int() if limit is not None else None)
    return Template(template_id, url, fields)


def _retry_after(node: Node) -> dict[int, float]:
    """`retry_after_seconds`: a wait for each of WeChat's rate limits, and only those."""
    waits = {int(code) if code.isdigit() else 0: value for code, value in node.items()}
    if set(waits) != set(RATE_LIMIT_CODES):
        node.fail("a wait in seconds for each of " + ", ".join(map(str, RATE_LIMIT_CODES)))
    return {code: _number(value, 0, 0, 86_400) for code, value in waits.items()}


def _timezone(node: Node) -> ZoneInfo:
    try:
        return ZoneInfo(node.as_str())
    except (ValueError, ZoneInfoNotFoundError):
        node.fail("an IANA time zone such as Asia/Shanghai")


def load_wechat_config(conf_dir: Path | None = None) -> WeChatConfig:
    """Read conf/wechat.yml and the coordinates of conf/areas.yml; ConfigError names the key."""
    directory = Path(conf_dir) if conf_dir is not None else default_conf_dir()
    root = read_yaml(directory / FILE_NAME)
    texts = root["texts"]
    places, radius = load_places(directory)
    max_bytes = root.get("max_text_bytes")
    return WeChatConfig(
        path=_path(root["path"]),
        security_mode=root["security_mode"].choice(SECURITY_MODES),
        passive_reply_seconds=_number(root.get("passive_reply_seconds"), 4.0, 0, 4.8),
        window_hours=root["window_hours"].as_int(),
        token_refresh_margin_seconds=_number(
            root.get("token_refresh_margin_seconds"), 300, 0, 3600
        ),
        api_timeout_seconds=_number(root.get("api_timeout_seconds"), 10, 0, 60),
        max_text_bytes=int(_number(max_bytes, 2000, 100, WECHAT_TEXT_LIMIT)),
        buttons=root["buttons"].choice(BUTTON_STYLES),
        subscribe_text=root["subscribe_text"].as_label(),
        menu_intro=texts["menu_intro"].as_label(),
        location_outside=texts["location_outside"].as_label(),
        unsupported=texts["unsupported"].as_label(),
        notes=_notes(root),
        template=_template(root["template"]),
        menu=load_menu(root["menu"]),
        retry_after=_retry_after(root["retry_after_seconds"]),
        places=places,
        location_radius_km=radius,
        timezone=_timezone(read_yaml(directory / "commitments.yml")["timezone"]),
    )

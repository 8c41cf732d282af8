"""The Telegram channel's own texts and options (conf/telegram.yml) and the areas' coordinates."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.geo import DEFAULT_RADIUS_KM, Place, load_places
from store.config import default_conf_dir
from store.configuration.yamlfile import Label, Node, read_yaml


def pick(label: Label, language: str | None) -> str:
    """The English text for English users, else the Chinese one."""
    return label.en if language == "en" else label.zh


@dataclass(frozen=True)
class TelegramConfig:
    commands: dict[str, Label]
    """Command name (without "/") → the text routed instead, e.g. start → 你好 / hi."""
    group_declined: str
    edited_message: Label
    stale_button: Label
    location_outside: Label
    error: Label
    buttons_only: str
    typing_interval: float = 4.0
    poll_timeout: int = 30
    places: tuple[Place, ...] = field(default=())
    location_radius_km: float = DEFAULT_RADIUS_KM


def _seconds(node: Node | None, default: float, maximum: float) -> float:
    if node is None:
        return default
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
        node.fail(f"a number of seconds between 0 and {maximum:g}")
    return float(value)


def load_telegram_config(conf_dir: Path | None = None) -> TelegramConfig:
    """Read conf/telegram.yml and the coordinates of conf/areas.yml; ConfigError names the key."""
    directory = Path(conf_dir) if conf_dir is not None else default_conf_dir()
    root = read_yaml(directory / "telegram.yml")
    texts = root["texts"]
    commands = {
        name.lstrip("/").lower(): node.as_label() for name, node in root["commands"].items()
    }
    places, radius = load_places(directory)
    return TelegramConfig(
        commands=commands,
        group_declined=texts["group_declined"].as_str(),
        edited_message=texts["edited_message"].as_label(),
        stale_button=texts["stale_button"].as_label(),
        location_outside=texts["location_outside"].as_label(),
        error=texts["error"].as_label(),
        buttons_only=texts["buttons_only"].as_str(),
        typing_interval=_seconds(root.get("typing_interval_seconds"), 4.0, 60),
        poll_timeout=int(_seconds(root.get("poll_timeout_seconds"), 30, 120)),
        places=places,
        location_radius_km=radius,
    )

"""Conversation behaviour settings (conf/assistant.yml) and intent labels (conf/intents.yml).

Loaded once and validated; a missing or wrong key stops the action server with a message that
names the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from store.config import ConfigError, default_conf_dir


@dataclass(frozen=True)
class IntentLabel:
    zh: str
    en: str


@dataclass(frozen=True)
class AssistantConfig:
    max_chars: int
    description_max_chars: int
    address_max_chars: int
    misses_before_human: int
    fallback_options: int
    outage_horizon_days: int
    bill_list_months: int
    intent_labels: dict[str, IntentLabel]
    person_words: tuple[str, ...]
    complaint_opening_words: tuple[str, ...]
    min_story_chars: int


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _positive_int(data: dict[str, Any], path: Path, section: str, key: str) -> int:
    value = (data.get(section) or {}).get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{path}: {section}.{key} must be a positive integer, got {value!r}")
    return value


def _words(data: dict[str, Any], path: Path, section: str, key: str) -> tuple[str, ...]:
    value = (data.get(section) or {}).get(key)
    if not isinstance(value, list) or not value or not all(isinstance(w, str) for w in value):
        raise ConfigError(f"{path}: {section}.{key} must be a non-empty list of strings")
    # longest first, so removing '我要投诉' happens before '投诉'
    return tuple(sorted((w.lower() for w in value), key=len, reverse=True))


@lru_cache(maxsize=4)
def load_assistant_config(conf_dir: Path | None = None) -> AssistantConfig:
    directory = conf_dir or default_conf_dir()
    path = directory / "assistant.yml"
    data = _read(path)
    labels_path = directory / "intents.yml"
    labels: dict[str, IntentLabel] = {}
    for name, value in (_read(labels_path).get("intents") or {}).items():
        if not isinstance(value, dict) or not value.get("zh") or not value.get("en"):
            raise ConfigError(f"{labels_path}: intents.{name} needs zh and en labels")
        labels[str(name)] = IntentLabel(str(value["zh"]), str(value["en"]))
    return AssistantConfig(
        max_chars=_positive_int(data, path, "messages", "max_chars"),
        description_max_chars=_positive_int(data, path, "messages", "description_max_chars"),
        address_max_chars=_positive_int(data, path, "messages", "address_max_chars"),
        misses_before_human=_positive_int(data, path, "fallback", "misses_before_human"),
        fallback_options=_positive_int(data, path, "fallback", "options"),
        outage_horizon_days=_positive_int(data, path, "outages", "horizon_days"),
        bill_list_months=_positive_int(data, path, "bills", "list_months"),
        intent_labels=labels,
        person_words=_words(data, path, "complaints", "person_words"),
        complaint_opening_words=_words(data, path, "complaints", "opening_words"),
        min_story_chars=_positive_int(data, path, "complaints", "min_story_chars"),
    )

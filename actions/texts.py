"""Phrases from conf/texts.yml, in the customer's language, with {placeholders} filled."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from store.config import ConfigError, default_conf_dir


@lru_cache(maxsize=4)
def _load(conf_dir: Path) -> dict[str, dict[str, dict[str, str]]]:
    path = conf_dir / "texts.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    for section, entries in (data or {}).items():
        for key, value in (entries or {}).items():
            if not isinstance(value, dict) or "zh" not in value or "en" not in value:
                raise ConfigError(f"{path}: {section}.{key} needs zh and en")
    return dict(data)


def phrase(key: str, language: str, section: str = "phrases", **values: Any) -> str:
    """Look up `section.key` in the customer's language and fill its placeholders."""
    entry = _load(default_conf_dir())[section].get(key)
    if entry is None:
        raise ConfigError(f"texts.yml: {section}.{key} is missing")
    template = entry["en" if language == "en" else "zh"]
    return template.format(**values) if values else template


def has_phrase(key: str, section: str) -> bool:
    return key in _load(default_conf_dir()).get(section, {})

"""A notice's words, written once in both languages when it is made (conf/outages.yml texts).

Times are absolute ("11月26日 08:00"), never "tomorrow": a notice held by the quiet hours is
read hours after it was written. Staff write the reason and advice in Chinese, and in English
when they can; an English reader gets the Chinese wording when no English one was given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from store.config import Label, Settings
from store.configuration.outages import OutageConfig
from store.models import Outage, OutageKind
from store.outages.targets import Target, describe

_EN_TIME = "%d %b %H:%M"


@dataclass(frozen=True)
class Extra:
    """What a notice says beyond the outage itself."""

    note: str | None = None
    previous: tuple[datetime, datetime | None] | None = None
    """The times before a postponement."""


PLAIN = Extra()
"""A notice that says nothing beyond the outage."""


def moment(value: datetime | None, settings: Settings, config: OutageConfig, lang: str) -> str:
    if value is None:
        return config.texts.unknown_time.en if lang == "en" else config.texts.unknown_time.zh
    local = value.astimezone(settings.tz)
    if lang == "en":
        return local.strftime(_EN_TIME).lstrip("0")
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _sentence(text: str | None, lang: str) -> str:
    """Staff's words as a sentence of their own (empty when none)."""
    if not text or not text.strip():
        return ""
    text = text.strip()
    chinese = "\u4e00" <= text[-1] <= "\u9fff"
    if lang == "en" and not chinese:
        return text if text.endswith((".", "!", "?")) else f"{text}. "
    ending = "" if text.endswith(("。", "！", "？", ".", "!", "?")) else "。"
    return f"{text}{ending}" + (" " if lang == "en" else "")


def _values(
    outage: Outage,
    targets: Sequence[Target],
    settings: Settings,
    config: OutageConfig,
    lang: str,
    extra: Extra,
) -> dict[str, str]:
    en = lang == "en"
    kind = config.texts.kinds[outage.kind]
    window = ""
    if extra.previous is not None:
        start, end = extra.previous
        joiner = " to " if en else "至"
        window = joiner.join(moment(t, settings, config, lang) for t in (start, end))
    return {
        "station": settings.station.name_en if en else settings.station.name,
        "outage_no": outage.outage_no,
        "kind": kind.en if en else kind.zh,
        "areas": describe(targets, lang),
        "start": moment(outage.starts_at, settings, config, lang),
        "end": moment(outage.expected_restore_at, settings, config, lang),
        "restored": moment(outage.restored_at, settings, config, lang),
        "reason": (outage.cause_en or outage.cause) if en else outage.cause,
        "advice": _sentence((outage.advice_en or outage.advice) if en else outage.advice, lang),
        "hotline": settings.service.hotline,
        "previous": window,
        "note": _sentence(extra.note, lang),
    }


def template(config: OutageConfig, outage: Outage, kind: str) -> Label:
    """The notice text of `kind` for this outage (a fault's first notice has its own)."""
    if kind == "published" and outage.kind == OutageKind.FAULT:
        return config.texts.notices["fault_published"]
    return config.texts.notices[kind]


def write(
    outage: Outage,
    kind: str,
    targets: Sequence[Target],
    settings: Settings,
    config: OutageConfig,
    extra: Extra = PLAIN,
) -> Label:
    """The notice in Chinese and English."""
    label = template(config, outage, kind)
    zh = label.zh.format_map(_values(outage, targets, settings, config, "zh", extra)).strip()
    en = label.en.format_map(_values(outage, targets, settings, config, "en", extra)).strip()
    return Label(zh, en)

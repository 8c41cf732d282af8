"""conf/handoff.yml: handoff triggers, queue settings, service hours and customer texts."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.configuration.service import OpeningHours, hours_label, load_agent_hours, on_duty
from store.configuration.yamlfile import ConfigError, Label, Node, read_yaml

FILE_NAME = "handoff.yml"

TEXT_PLACEHOLDERS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "queued": frozenset({"position"}),
        "assigned": frozenset({"agent"}),
        "no_agent": frozenset({"hours", "hotline"}),
        "out_of_hours": frozenset({"hours", "hotline"}),
        "wait_limit": frozenset({"hours", "hotline"}),
        "callback_yes": frozenset(),
        "callback_no": frozenset(),
        "callback_created": frozenset({"number"}),
        "keep_waiting": frozenset(),
        "abandoned": frozenset(),
        "returned": frozenset(),
        "survey": frozenset(),
        "survey_thanks": frozenset({"rating"}),
        "comment_thanks": frozenset(),
        "callback_description": frozenset({"reason"}),
    }
)


@dataclass(frozen=True)
class Triggers:
    request_human: bool
    fallback_in_a_row: int
    fallback_intents: frozenset[str]
    complaint: bool
    complaint_intents: frozenset[str]
    safety_hazard: bool
    safety_hazard_intents: frozenset[str]
    action_failure: bool
    rasa_timeout: bool

    def off(self) -> Triggers:
        """Every automatic trigger off (the gate and the console still work)."""
        return Triggers(False, 0, frozenset(), False, frozenset(), False, frozenset(), False, False)


@dataclass(frozen=True)
class HandoffConfig:
    triggers: Triggers
    auto_assign: bool
    timezone: ZoneInfo
    hours: tuple[OpeningHours, ...]
    wait_limit: timedelta
    abandon_after: timedelta
    survey_window: timedelta
    comment_window: timedelta
    watch_interval: float
    leave_words: tuple[str, ...]
    question_marks: tuple[str, ...]
    request_words: tuple[str, ...]
    yes_words: tuple[str, ...]
    no_words: tuple[str, ...]
    texts: Mapping[str, Label]

    def text(self, key: str, language: str | None, **values: Any) -> str:
        label = self.texts[key]
        template = label.en if language == "en" else label.zh
        return template.format_map(dict(values)).strip()

    def reads_as_comment(self, text: str) -> bool:
        """A survey comment, not a question or a new request for the assistant."""
        lowered = f"{text.strip().lower()} "
        return not any(w in lowered for w in (*self.question_marks, *self.request_words))

    def in_service_hours(self, moment: datetime) -> bool:
        return on_duty(self.hours, moment.astimezone(self.timezone))

    def hours_text(self, language: str | None) -> str:
        return hours_label(self.hours, language)


def _label(node: Node, allowed: frozenset[str]) -> Label:
    label = node.as_label()
    for language, template in (("zh", label.zh), ("en", label.en)):
        try:
            used = {n for _, n, _, _ in string.Formatter().parse(template) if n is not None}
        except ValueError as exc:
            raise ConfigError(f"{node.path}: {node.key}.{language}: {exc}") from exc
        unknown = sorted(used - allowed)
        if unknown:
            raise ConfigError(
                f"{node.path}: {node.key}.{language}: unknown placeholder {{{unknown[0]}}}"
            )
    return label


def _words(node: Node) -> tuple[str, ...]:
    return tuple(n.as_str().lower() for n in node.as_list())


def load_handoff_config(conf_dir: Path) -> HandoffConfig:
    """Read and check conf/handoff.yml; ConfigError names the file and key of any problem."""
    root = read_yaml(Path(conf_dir) / FILE_NAME)
    t = root["triggers"]
    triggers = Triggers(
        request_human=t["request_human"].as_bool(),
        fallback_in_a_row=t["fallback_in_a_row"].as_int(minimum=0),
        fallback_intents=frozenset(_words(t["fallback_intents"])),
        complaint=t["complaint"].as_bool(),
        complaint_intents=frozenset(_words(t["complaint_intents"])),
        safety_hazard=t["safety_hazard"].as_bool(),
        safety_hazard_intents=frozenset(_words(t["safety_hazard_intents"])),
        action_failure=t["action_failure"].as_bool(),
        rasa_timeout=t["rasa_timeout"].as_bool(),
    )
    tz_node = root["timezone"]
    try:
        tz = ZoneInfo(tz_node.as_str())
    except (ZoneInfoNotFoundError, ValueError):
        tz_node.fail("an IANA time zone such as Asia/Shanghai")
    texts_node = root["texts"]
    texts = {key: _label(texts_node[key], allowed) for key, allowed in TEXT_PLACEHOLDERS.items()}
    return HandoffConfig(
        triggers=triggers,
        auto_assign=root["auto_assign"].as_bool(),
        timezone=tz,
        hours=load_agent_hours(read_yaml(Path(conf_dir) / "service.yml")),
        wait_limit=timedelta(minutes=root["wait_limit_minutes"].as_int()),
        abandon_after=timedelta(minutes=root["abandon_after_minutes"].as_int()),
        survey_window=timedelta(minutes=root["survey_window_minutes"].as_int()),
        comment_window=timedelta(minutes=root["comment_window_minutes"].as_int()),
        watch_interval=float(root["watch_interval_seconds"].as_int()),
        leave_words=_words(root["leave_words"]),
        question_marks=_words(root["question_marks"]),
        request_words=_words(root["request_words"]),
        yes_words=_words(root["yes_words"]),
        no_words=_words(root["no_words"]),
        texts=MappingProxyType(texts),
    )

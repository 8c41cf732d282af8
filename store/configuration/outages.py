"""Outage notices (conf/outages.yml): feeders, quiet hours, the reminder, suspected outages, the
delivery queue's pace, the keywords customers subscribe with, and the notices' texts.

Loaded on its own (`load_outages`) by the gateway, the action server and the store command, and
validated once: a feeder naming an unknown area or a notice using a placeholder nobody fills
stops start-up with the file and the key named.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from store.configuration.yamlfile import ConfigError, Label, Node, read_yaml

FILE_NAME = "outages.yml"
NOTICE_KINDS = (
    "published",
    "fault_published",
    "updated",
    "postponed",
    "cancelled",
    "reminder",
    "cause_found",
    "eta_changed",
    "restored",
    "safety",
)
"""Every notice text the file must have (fault_published: a fault outage's first notice)."""
PLACEHOLDERS = frozenset(
    {"station", "outage_no", "kind", "areas", "start", "end", "reason", "advice", "hotline"}
    | {"previous", "note", "restored"}
)
OUTAGE_KINDS = ("planned", "temporary", "fault")


@dataclass(frozen=True)
class Feeder:
    """A 10kV line and the service areas (codes) it supplies."""

    code: str
    name: str
    areas: tuple[str, ...]


@dataclass(frozen=True)
class QuietHours:
    """Station-time hours when non-urgent notices wait (the span may cross midnight)."""

    start: time
    end: time

    def holds(self, moment: datetime, tz: ZoneInfo) -> bool:
        """Whether `moment` falls in the quiet hours."""
        local = moment.astimezone(tz).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class Reminder:
    days_before: int
    at: time
    min_gap: timedelta

    def due_at(self, starts_at: datetime, tz: ZoneInfo) -> datetime:
        """When the reminder of an outage starting at `starts_at` is sent."""
        day = starts_at.astimezone(tz).date() - timedelta(days=self.days_before)
        return datetime.combine(day, self.at, tzinfo=tz)


@dataclass(frozen=True)
class Suspicion:
    reports: int
    window: timedelta
    lookback: timedelta


@dataclass(frozen=True)
class ChannelPace:
    per_second: float
    per_chat_seconds: float


@dataclass(frozen=True)
class HeldPolicy:
    """Notices a channel cannot deliver to one customer now (`delivery.held`): tried again
    after `retry` (unless the channel says when, or the customer writes first), given up as
    undeliverable once the notice is `give_up` old."""

    retry: timedelta
    give_up: timedelta


@dataclass(frozen=True)
class DeliveryPolicy:
    poll_seconds: float
    lease: timedelta
    batch: int
    concurrency: int
    max_attempts: int
    channels: Mapping[str, ChannelPace]
    default: ChannelPace
    held: HeldPolicy

    def pace(self, channel: str) -> ChannelPace:
        return self.channels.get(channel, self.default)


@dataclass(frozen=True)
class NoticeTexts:
    kinds: Mapping[str, Label]
    unknown_time: Label
    subscribe_button: Label
    unsubscribe_button: Label
    notices: Mapping[str, Label]


@dataclass(frozen=True)
class OutageConfig:
    feeders: tuple[Feeder, ...]
    quiet_hours: QuietHours
    reminder: Reminder
    suspected: Suspicion
    delivery: DeliveryPolicy
    list_limit: int
    history_days: int
    subscribe_words: tuple[str, ...]
    unsubscribe_words: tuple[str, ...]
    texts: NoticeTexts

    def feeder(self, code_or_name: str) -> Feeder | None:
        wanted = code_or_name.strip()
        return next((f for f in self.feeders if wanted in (f.code, f.name)), None)

    def feeders_of(self, area_code: str) -> tuple[Feeder, ...]:
        return tuple(f for f in self.feeders if area_code in f.areas)


def _words(node: Node) -> tuple[str, ...]:
    words = tuple(w.as_str().lower() for w in node.as_list())
    if not words:
        node.fail("a non-empty list of words")
    return words


def _template(node: Node) -> Label:
    label = node.as_label()
    for language, text in (("zh", label.zh), ("en", label.en)):
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as exc:
            raise ConfigError(f"{node.path}: {node.key}.{language}: {exc}") from None
        unknown = sorted(used - PLACEHOLDERS)
        if unknown:
            offered = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            raise ConfigError(
                f"{node.path}: {node.key}.{language}: unknown placeholder {{{unknown[0]}}}"
                f" (offered: {offered})"
            )
    return label


def _feeders(node: Node, area_codes: Iterable[str]) -> tuple[Feeder, ...]:
    known = set(area_codes)
    feeders = []
    for item in node.as_list():
        areas = tuple(a.as_str() for a in item["areas"].as_list())
        for code in areas:
            if code not in known:
                item["areas"].fail(f"area codes of areas.yml (unknown {code!r})")
        feeders.append(Feeder(item["code"].as_str(), item["name"].as_str(), areas))
    codes = [f.code for f in feeders]
    if len(set(codes)) != len(codes):
        node.fail("feeders with unique codes")
    return tuple(feeders)


def _pace(node: Node) -> ChannelPace:
    per_second = node["per_second"].as_decimal()
    per_chat = node["per_chat_seconds"].as_decimal()
    if per_second <= 0 or per_chat < 0:
        node.fail("per_second above 0 and per_chat_seconds of 0 or more")
    return ChannelPace(float(per_second), float(per_chat))


def _delivery(node: Node) -> DeliveryPolicy:
    channels = {name: _pace(item) for name, item in node["channels"].items()}
    default = channels.pop("default", None)
    if default is None:
        raise ConfigError(f"{node.path}: {node.key}.channels.default is missing")
    return DeliveryPolicy(
        poll_seconds=float(node["poll_seconds"].as_decimal()),
        lease=timedelta(seconds=node["lease_seconds"].as_int()),
        batch=node["batch"].as_int(),
        concurrency=node["concurrency"].as_int(),
        max_attempts=node["max_attempts"].as_int(),
        channels=MappingProxyType(channels),
        default=default,
        held=_held(node["held"]),
    )


def _held(node: Node) -> HeldPolicy:
    retry = timedelta(minutes=node["retry_minutes"].as_int(minimum=1))
    give_up = timedelta(hours=node["give_up_hours"].as_int(minimum=1))
    if retry > give_up:
        node.fail("retry_minutes no longer than give_up_hours")
    return HeldPolicy(retry=retry, give_up=give_up)


def _texts(node: Node) -> NoticeTexts:
    kinds = node["kinds"]
    notices = node["notices"]
    return NoticeTexts(
        kinds=MappingProxyType({k: kinds[k].as_label() for k in OUTAGE_KINDS}),
        unknown_time=node["unknown_time"].as_label(),
        subscribe_button=node["subscribe_button"].as_label(),
        unsubscribe_button=node["unsubscribe_button"].as_label(),
        notices=MappingProxyType({k: _template(notices[k]) for k in NOTICE_KINDS}),
    )


def parse_outages(root: Node, area_codes: Iterable[str]) -> OutageConfig:
    quiet, reminder, suspected = root["quiet_hours"], root["reminder"], root["suspected"]
    keywords, console = root["keywords"], root["console"]
    return OutageConfig(
        feeders=_feeders(root["feeders"], area_codes),
        quiet_hours=QuietHours(quiet["start"].as_time(), quiet["end"].as_time()),
        reminder=Reminder(
            days_before=reminder["days_before"].as_int(minimum=0),
            at=reminder["at"].as_time(),
            min_gap=timedelta(hours=reminder["min_gap_hours"].as_int(minimum=0)),
        ),
        suspected=Suspicion(
            reports=suspected["reports"].as_int(minimum=2),
            window=timedelta(minutes=suspected["window_minutes"].as_int()),
            lookback=timedelta(minutes=suspected["lookback_minutes"].as_int()),
        ),
        delivery=_delivery(root["delivery"]),
        list_limit=console["list_limit"].as_int(),
        history_days=console["history_days"].as_int(),
        subscribe_words=_words(keywords["subscribe"]),
        unsubscribe_words=_words(keywords["unsubscribe"]),
        texts=_texts(root["texts"]),
    )


def load_outages(conf_dir: Path, area_codes: Iterable[str]) -> OutageConfig:
    """conf/outages.yml of `conf_dir`, its feeders checked against `area_codes`."""
    return parse_outages(read_yaml(Path(conf_dir) / FILE_NAME), area_codes)

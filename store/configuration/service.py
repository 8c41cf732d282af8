"""The station's front door (conf/service.yml): address, hours, hotlines, payment, calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from store.configuration.yamlfile import ConfigError, Label, Node

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class OpeningHours:
    weekdays: tuple[int, ...]
    """0 = Monday, as `date.weekday()`."""
    opens: time
    closes: time


def on_duty(hours: tuple[OpeningHours, ...], local: datetime) -> bool:
    """Whether `local` (station time) falls inside one of the opening hours."""
    return any(local.weekday() in h.weekdays and h.opens <= local.time() < h.closes for h in hours)


def hours_label(hours: tuple[OpeningHours, ...], language: str | None) -> str:
    """'周一-周五 08:30-17:30，周六 09:00-12:00' (or 'Mon-Fri 08:30-17:30, Sat 09:00-12:00')."""
    names_en = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    names_zh = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
    names = names_en if language == "en" else names_zh
    parts = []
    for h in hours:
        days = h.weekdays
        if len(days) > 1 and list(days) == list(range(days[0], days[-1] + 1)):
            label = f"{names[days[0]]}-{names[days[-1]]}"
        else:
            label = "/".join(names[d] for d in days)
        parts.append(f"{label} {h.opens:%H:%M}-{h.closes:%H:%M}")
    return ", ".join(parts) if language == "en" else "，".join(parts)


@dataclass(frozen=True)
class PaymentChannel:
    code: str
    name_zh: str
    name_en: str
    how_zh: str
    how_en: str


@dataclass(frozen=True)
class WorkCalendar:
    """Public holidays and the weekend days worked instead (调休), for counting working days."""

    holidays: frozenset[date]
    workdays: frozenset[date]

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@dataclass(frozen=True)
class Service:
    address: Label
    hall: Label
    opening_hours: tuple[OpeningHours, ...]
    hours_text: Label
    agent_hours: tuple[OpeningHours, ...]
    """When people answer chats: the one schedule the assistant and the gateway both tell."""
    hotline: str
    regulator_hotline: str
    payment_channels: tuple[PaymentChannel, ...]
    calendar: WorkCalendar


def _hours(node: Node) -> OpeningHours:
    days = tuple(_WEEKDAYS.index(d.choice(_WEEKDAYS)) for d in node["days"].as_list())
    opens, closes = node["open"].as_time(), node["close"].as_time()
    if closes <= opens:
        node["close"].fail(f"a time after {opens:%H:%M}")
    return OpeningHours(days, opens, closes)


def _channel(node: Node) -> PaymentChannel:
    return PaymentChannel(
        code=node["code"].as_str(),
        name_zh=node["zh"].as_str(),
        name_en=node["en"].as_str(),
        how_zh=node["how_zh"].as_str(),
        how_en=node["how_en"].as_str(),
    )


def _holidays(node: Node) -> frozenset[date]:
    days: set[date] = set()
    for entry in node.as_list():
        first, last = entry["from"].as_date(), entry["to"].as_date()
        if last < first:
            entry["to"].fail(f"a date on or after {first}")
        days.update(first + timedelta(n) for n in range((last - first).days + 1))
    return frozenset(days)


def load_agent_hours(root: Node) -> tuple[OpeningHours, ...]:
    """conf/service.yml `agent_hours` (the gateway's handoff desk reads it too)."""
    hours = tuple(_hours(n) for n in root["agent_hours"].as_list())
    if not hours:
        root["agent_hours"].fail("at least one entry")
    return hours


def load_service(root: Node) -> Service:
    channels = tuple(_channel(n) for n in root["payment_channels"].as_list())
    codes = [c.code for c in channels]
    if len(set(codes)) != len(codes) or not codes:
        raise ConfigError(f"{root.path}: payment_channels: codes must be present and unique")
    calendar = root["calendar"]
    workdays = frozenset(d.as_date() for d in calendar["workdays"].as_list())
    return Service(
        address=root["station"]["address"].as_label(),
        hall=root["station"]["hall"].as_label(),
        opening_hours=tuple(_hours(n) for n in root["opening_hours"].as_list()),
        hours_text=root["hours_text"].as_label(),
        agent_hours=load_agent_hours(root),
        hotline=root["hotlines"]["service"].as_str(),
        regulator_hotline=root["hotlines"]["regulator"].as_str(),
        payment_channels=channels,
        calendar=WorkCalendar(_holidays(calendar["holidays"]), workdays),
    )

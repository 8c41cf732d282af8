"""Read-only views shared by ticket and application progress answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from store.config import Label
from store.ids import mask_text
from store.models import ServiceArea


@dataclass(frozen=True)
class TimelineStep:
    """One step of the history, as a customer may see it (notes have numbers masked)."""

    code: str
    at: datetime
    """Station local time."""
    label: Label
    actor: str
    note: str | None


def local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    return value.astimezone(tz) if value is not None else None


def step(
    code: str, at: datetime, label: Label, actor: str, note: str | None, tz: ZoneInfo
) -> TimelineStep:
    return TimelineStep(code, at.astimezone(tz), label, actor, mask_text(note) if note else None)


def area_label(area: ServiceArea | None) -> Label | None:
    return Label(area.name, area.name_en) if area is not None else None

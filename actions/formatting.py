"""Turning store values into the short strings placed inside responses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo


def local_time(value: datetime, tz: str, *, with_date: bool = True) -> str:
    """Station-local time, compact: '11-23 14:30' (or '14:30')."""
    local = value.astimezone(ZoneInfo(tz))
    return local.strftime("%m-%d %H:%M" if with_date else "%H:%M")


def money(value: Decimal | float | int) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def mask_name(name: str) -> str:
    """张建国 → 张*国, 李四 → 李*: enough for the owner to recognise, little for anyone else."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def echo(value: object, limit: int = 30) -> str:
    """Customer input quoted back in a reply: one line, bounded length."""
    text = " ".join(str(value or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def duration(minutes: int, language: str) -> str:
    """90 → '90分钟' / '90 minutes'; 120 → '2小时' / '2 hours'."""
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}" if language == "en" else f"{hours}小时"
    return f"{minutes} minutes" if language == "en" else f"{minutes}分钟"


def bullet_lines(lines: list[str]) -> str:
    return "\n".join(f"• {line}" for line in lines)

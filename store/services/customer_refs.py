"""Small shapes the back office's views share: times as ISO text, phones masked for lists."""

from __future__ import annotations

from datetime import datetime
from typing import Final

KEEP_HEAD: Final = 3
KEEP_TAIL: Final = 4


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def mask_phone(phone: str | None) -> str | None:
    """`139****0002`: enough to tell two customers apart in a list, not to call them (the
    customer's page, which records its opening, shows the number)."""
    if not phone:
        return None
    digits = phone.strip()
    if len(digits) < KEEP_HEAD + KEEP_TAIL + 2:
        return "*" * max(len(digits) - 2, 1) + digits[-2:] if len(digits) > 2 else "**"
    hidden = len(digits) - KEEP_HEAD - KEEP_TAIL
    return f"{digits[:KEEP_HEAD]}{'*' * hidden}{digits[-KEEP_TAIL:]}"
